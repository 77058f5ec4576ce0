//! A run's memory does not grow with its input: the peak heap while scoring
//! 200,000 accounts is within a few MB of the peak for 20,000 (holding the book
//! would take about 200 MB more). Counted by a global allocator, so the figure is
//! the same on every machine, whatever else runs.

// A counting allocator needs `unsafe impl GlobalAlloc`; it only forwards to the
// system allocator and adds up sizes.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use headway_pipeline::{InputFormat, OutputFormat, RunOptions, Source, WriteSink, run};
use headway_samples::{Book, accounts, write_measures_jsonl};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call forwards to `System` with the caller's arguments; the
// counters do not touch the memory.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(live, Ordering::Relaxed);
        // SAFETY: as the caller promised for `layout`.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc` with this `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Peak heap above what was live before, while scoring `n` accounts.
fn peak_while_scoring(n: usize) -> usize {
    let mut text = Vec::new();
    write_measures_jsonl(&mut text, accounts(Book::Saas, 3).take(n)).unwrap();
    let plugin = headway_tests::load(headway_tests::FIVE_FACTORS, &[]);
    let mut options = RunOptions::new(2);
    options.format = Some(OutputFormat::JsonLines);
    let mut out = WriteSink::new(std::io::sink(), OutputFormat::JsonLines, &plugin).unwrap();
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let summary = run(
        Source::new("book", &text[..], InputFormat::JsonLines),
        &plugin,
        &options,
        &mut [&mut out],
    )
    .unwrap();
    assert_eq!(summary.scored(), n);
    PEAK.load(Ordering::Relaxed) - base
}

#[test]
fn peak_memory_does_not_grow_with_the_input() {
    let small = peak_while_scoring(20_000);
    let large = peak_while_scoring(200_000);
    println!(
        "peak heap: {} KB for 20k accounts, {} KB for 200k",
        small >> 10,
        large >> 10
    );
    // The only state kept for the whole run: 8 bytes (plus table overhead) per
    // account for repeated ids, about 4 MB at 200k.
    assert!(
        large < small + (8 << 20),
        "peak grew from {small} to {large} bytes"
    );
}
