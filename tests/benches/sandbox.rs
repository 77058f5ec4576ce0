//! What the sandbox's limits cost, and how fast they stop a runaway plugin.
//!
//! Run: `cargo bench -p headway-tests --bench sandbox`

use std::path::Path;
use std::time::{Duration, Instant};

use headway_core::ErrorKind;
use headway_host::{Limits, Plugin, Runtime};
use headway_samples::{Book, DEFAULT_SEED, generate};
use headway_tests::{HOSTILE, SAAS_HEALTH};

const RUNS: usize = 5;
const INTERLEAVED: usize = 15;

fn main() {
    let metered = Runtime::new().expect("runtime");
    let unmetered = Runtime::with_fuel(false).expect("runtime");
    let accounts = generate(Book::Saas, 10_000, DEFAULT_SEED);
    assert!(
        metered.uses_pooling() && unmetered.uses_pooling(),
        "both runtimes must pool instances, or the comparison measures the allocator"
    );

    let load = |rt: &Runtime, path: &str, limits: Limits, config: &[(&str, &str)]| -> Plugin {
        let config = config
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        rt.load_file(
            Path::new(path),
            &headway_host::LoadOptions {
                limits,
                config,
                ..Default::default()
            },
        )
        .expect("loads")
    };
    let with_fuel = load(&metered, SAAS_HEALTH, Limits::default(), &[]);
    let without = load(&unmetered, SAAS_HEALTH, Limits::default(), &[]);
    // Interleaved, so drift on a shared machine hits both sides alike.
    let (mut on, mut off) = (Vec::new(), Vec::new());
    for _ in 0..INTERLEAVED {
        on.push(timed(|| drop(with_fuel.assess(&accounts, 1))));
        off.push(timed(|| drop(without.assess(&accounts, 1))));
    }
    let (on, off) = (middle(on), middle(off));
    println!(
        "SaaS rule, 10,000 accounts, batches of 1,000, 1 thread, median of {INTERLEAVED} interleaved runs"
    );
    println!(
        "  fuel on: {:.0} acc/s   fuel off (deadline only): {:.0} acc/s   on/off: {:.2}x",
        rate(on, 10_000),
        rate(off, 10_000),
        off.as_secs_f64() / on.as_secs_f64()
    );

    println!("time to stop a runaway loop (one account), median of {RUNS}:");
    let one = &accounts[..1];
    let looping = load(
        &metered,
        HOSTILE,
        Limits::default(),
        &[("behaviour", "loop")],
    );
    let t = median(|| assert_kind(&looping, one, ErrorKind::OutOfFuel));
    let budget = Limits::default().fuel_per_account(false) + 5_000_000;
    println!(
        "  by fuel: {:.1} ms for a budget of {budget} instructions",
        ms(t)
    );
    let deadline = Limits {
        deadline_ms: 100,
        ..Limits::default()
    };
    let looping = load(&unmetered, HOSTILE, deadline, &[("behaviour", "loop")]);
    let t = median(|| assert_kind(&looping, one, ErrorKind::Deadline));
    println!("  by deadline: {:.1} ms for a deadline of 100 ms", ms(t));
    let hoarding = load(
        &metered,
        HOSTILE,
        Limits {
            fuel_per_account: Some(u64::MAX / 8),
            ..Limits::default()
        },
        &[("behaviour", "alloc")],
    );
    let t = median(|| assert_kind(&hoarding, one, ErrorKind::MemoryLimit));
    println!("  unbounded allocation to the 64 MiB cap: {:.1} ms", ms(t));
}

fn assert_kind(plugin: &Plugin, accounts: &[headway_core::Account], kind: ErrorKind) {
    let report = plugin.assess(accounts, 1);
    let err = report.results[0].as_ref().expect_err("stopped");
    assert_eq!(err.kind, kind, "{}", err.message);
}

fn timed(f: impl FnOnce()) -> Duration {
    let t = Instant::now();
    f();
    t.elapsed()
}

fn middle(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn median(mut f: impl FnMut()) -> Duration {
    f();
    middle((0..RUNS).map(|_| timed(&mut f)).collect())
}

fn rate(d: Duration, n: usize) -> f64 {
    n as f64 / d.as_secs_f64()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
