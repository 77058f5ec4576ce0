//! Each stage of the pipeline alone, on one thread: parsing JSON Lines and CSV
//! into columns, and rendering scored records as JSON Lines and CSV, in MB/s.
//!
//! Run: `cargo bench -p headway-pipeline --bench stages`

use std::fmt::Write as _;
use std::time::Duration;

use headway_core::{CsvColumns, InputDefaults, Reads, parse_jsonl_batch};
use headway_pipeline::{OutputFormat, ScoredChunk};
use headway_samples::{Book, DEFAULT_SEED, generate, to_jsonl};

const ACCOUNTS: usize = 100_000;
const CHUNK: usize = 1_000;
const RUNS: usize = 5;

fn main() {
    let accounts = generate(Book::Saas, ACCOUNTS, DEFAULT_SEED);
    let jsonl = to_jsonl(&accounts);
    let csv = csv_of(&accounts);
    let defaults = InputDefaults::default();
    let json_chunks = chunks(&jsonl);
    let (csv_header, csv_body) = csv.split_once('\n').expect("a header");
    let csv_chunks = chunks(csv_body);
    let columns = CsvColumns::from_header("bench", csv_header).expect("a valid header");

    println!("one thread, {ACCOUNTS} SaaS sample accounts in chunks of {CHUNK}, median of {RUNS}");
    let parse_json = median(|| {
        for c in &json_chunks {
            let (batch, errors) = parse_jsonl_batch("bench", c, 1, &defaults, Reads::default());
            assert!(errors.is_empty());
            std::hint::black_box(batch);
        }
    });
    report("parse JSON Lines (with histories)", jsonl.len(), parse_json);
    let parse_csv = median(|| {
        for c in &csv_chunks {
            let (batch, errors) = columns.parse("bench", c, 2, &defaults, Reads::default());
            assert!(errors.is_empty(), "{:?}", errors.first());
            std::hint::black_box(batch);
        }
    });
    report("parse CSV (current measures)", csv.len(), parse_csv);

    let plugin = headway_tests::load(headway_tests::SAAS_HEALTH, &[]);
    let scored: Vec<ScoredChunk> = json_chunks
        .iter()
        .map(|c| {
            let (batch, rejected) = parse_jsonl_batch("bench", c, 1, &defaults, plugin.reads());
            ScoredChunk::score(0, batch, rejected, &plugin)
        })
        .collect();
    for (format, name) in [
        (OutputFormat::JsonLines, "render JSON Lines"),
        (OutputFormat::Csv, "render CSV"),
    ] {
        let mut scored: Vec<ScoredChunk> = scored.iter().map(copy).collect();
        let mut bytes = 0;
        let time = median(|| {
            bytes = 0;
            for c in &mut scored {
                c.render(format, &plugin);
                bytes += c.rendered.len();
            }
        });
        report(name, bytes, time);
    }
}

/// The chunk again (scored chunks are not `Clone`: they are moved through a run).
fn copy(c: &ScoredChunk) -> ScoredChunk {
    ScoredChunk {
        seq: c.seq,
        batch: c.batch.clone(),
        dropped: c.dropped.clone(),
        rejected: c.rejected.clone(),
        assessed: c.assessed.clone(),
        fuel_used: c.fuel_used,
        logs: Vec::new(),
        rendered: Vec::new(),
    }
}

/// Whole lines, `CHUNK` at a time, as the source cuts them.
fn chunks(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    lines.chunks(CHUNK).map(|c| c.concat()).collect()
}

/// The accounts as CSV with their current measures.
fn csv_of(accounts: &[headway_core::Account]) -> String {
    let names: Vec<&String> = accounts[0].measures.keys().collect();
    let mut out = String::from("id,name,segment,plan,stage,arr,start_date,renewal_date,as_of");
    for n in &names {
        let _ = write!(out, ",measure.{n}");
    }
    out.push('\n');
    for a in accounts {
        let renewal = a.renewal_date.map(|d| d.to_string()).unwrap_or_default();
        let _ = write!(
            out,
            "{},{},{},{},{},{},{},{},{}",
            a.id,
            a.name,
            a.segment,
            a.plan,
            a.stage.as_str(),
            a.arr,
            a.start_date,
            renewal,
            a.as_of
        );
        for n in &names {
            match a.measures.get(*n) {
                Some(v) => {
                    let _ = write!(out, ",{v}");
                }
                None => out.push(','),
            }
        }
        out.push('\n');
    }
    out
}

fn median(f: impl FnMut()) -> Duration {
    headway_tests::median_time(RUNS, f)
}

fn report(what: &str, bytes: usize, time: Duration) {
    println!(
        "{what:<36} {:>7.1} MB in {:>6.1} ms: {:>6.0} MB/s",
        bytes as f64 / 1e6,
        time.as_secs_f64() * 1e3,
        bytes as f64 / 1e6 / time.as_secs_f64()
    );
}
