//! The pipeline end to end with the real SaaS plugin: order, rejected lines,
//! repeated ids across chunks, formats, threads, the store, failures.

use std::io::Read;

use headway_core::{InputDefaults, ScoreRecord, parse_jsonl};
use headway_host::Plugin;
use headway_pipeline::{
    InputFormat, OutputFormat, RunError, RunOptions, ScoredChunk, Sink, SinkError, Source,
    StoreSink, WriteSink, run, score_values,
};
use headway_tests::{SAAS_HEALTH, load};

fn plugin() -> Plugin {
    load(SAAS_HEALTH, &[])
}

/// Ten sample accounts with problems mixed in: a bad value, a blank line, an
/// unparsable line, and a repeat of the first account in a later chunk.
fn book() -> String {
    let accounts = headway_samples::generate(headway_samples::Book::Saas, 10, 7);
    let mut lines: Vec<String> = headway_samples::to_jsonl(&accounts)
        .lines()
        .map(str::to_owned)
        .collect();
    lines.insert(3, lines[2].replace("\"arr\":", "\"arr\":\"lots\",\"x\":"));
    lines.insert(5, String::new());
    lines.insert(7, "{\"id\": \"broken\", ".to_owned());
    lines.push(lines[0].clone());
    lines.join("\n") + "\n"
}

fn options(threads: usize, chunk_rows: usize, format: OutputFormat) -> RunOptions {
    let mut o = RunOptions::new(threads);
    o.chunk_rows = Some(chunk_rows);
    o.in_flight = Some(2);
    o.format = Some(format);
    o
}

fn score(text: &str, format: InputFormat, options: &RunOptions, plugin: &Plugin) -> Vec<u8> {
    let source = Source::new("book", text.as_bytes(), format);
    let mut out = WriteSink::new(Vec::new(), options.format.unwrap(), plugin).unwrap();
    let summary = run(source, plugin, options, &mut [&mut out]).unwrap();
    let bytes = out.finish().unwrap();
    assert_eq!(
        summary.records,
        bytes_lines(&bytes, options.format.unwrap())
    );
    bytes
}

fn bytes_lines(bytes: &[u8], format: OutputFormat) -> usize {
    let lines = bytes.iter().filter(|b| **b == b'\n').count();
    match format {
        OutputFormat::Csv => lines - 1,
        OutputFormat::JsonLines => lines,
    }
}

fn records(bytes: &[u8]) -> Vec<ScoreRecord> {
    std::str::from_utf8(bytes)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn records_come_in_input_order_with_every_bad_line_named() {
    let plugin = plugin();
    let text = book();
    let out = records(&score(
        &text,
        InputFormat::JsonLines,
        &options(2, 2, OutputFormat::JsonLines),
        &plugin,
    ));
    // One record per non-blank line, in line order.
    assert_eq!(out.len(), 13);
    let lines: Vec<Option<usize>> = out
        .iter()
        .map(|r| r.error.as_ref().and_then(|e| e.line))
        .collect();
    assert_eq!(lines[3], Some(4), "the bad arr, at its line");
    assert_eq!(out[3].error.as_ref().unwrap().field.as_deref(), Some("arr"));
    assert_eq!(
        out[6].error.as_ref().unwrap().line,
        Some(8),
        "the unparsable line"
    );
    let repeat = out.last().unwrap().error.as_ref().unwrap();
    assert_eq!(repeat.line, Some(14));
    assert!(
        repeat.message.contains("duplicate account id `saas-0001`"),
        "{}",
        repeat.message
    );
    // Every scored record equals what the row-wise path gives the same account.
    let parsed = parse_jsonl("book", &text, &InputDefaults::default());
    let report = plugin.assess(&parsed.accounts, 1);
    let scored: Vec<&ScoreRecord> = out.iter().filter(|r| r.error.is_none()).collect();
    assert_eq!(scored.len(), parsed.accounts.len());
    for ((record, account), result) in scored.iter().zip(&parsed.accounts).zip(&report.results) {
        let expected = result.as_ref().unwrap();
        assert_eq!(record.account_id.as_deref(), Some(account.id.as_str()));
        assert!((record.score.unwrap() - expected.score).abs() < 1e-9);
        let sum: f64 = record.factors.iter().map(|f| f.contribution).sum();
        assert!(
            (sum - record.score.unwrap()).abs() < 1e-9,
            "printed contributions sum to the score"
        );
        assert_eq!(record.band.as_deref(), Some(expected.band.as_str()));
    }
}

#[test]
fn threads_chunk_sizes_and_formats_do_not_change_the_output() {
    let plugin = plugin();
    let text = book();
    let one = score(
        &text,
        InputFormat::JsonLines,
        &options(1, 1_000, OutputFormat::JsonLines),
        &plugin,
    );
    for (threads, rows) in [(2, 1), (2, 3), (3, 2)] {
        let other = score(
            &text,
            InputFormat::JsonLines,
            &options(threads, rows, OutputFormat::JsonLines),
            &plugin,
        );
        assert!(one == other, "{threads} threads, chunks of {rows}");
    }
    let csv_one = score(
        &text,
        InputFormat::JsonLines,
        &options(1, 1_000, OutputFormat::Csv),
        &plugin,
    );
    let csv_many = score(
        &text,
        InputFormat::JsonLines,
        &options(2, 2, OutputFormat::Csv),
        &plugin,
    );
    assert_eq!(csv_one, csv_many);
    let csv = String::from_utf8(csv_one).unwrap();
    assert!(
        csv.starts_with("account_id,as_of,score,band,top_factor"),
        "{csv}"
    );
    assert_eq!(csv.lines().count(), 14);
}

#[test]
fn csv_input_scores_like_json_lines() {
    let plugin = plugin();
    let csv = "id,stage,arr,start_date,as_of,measure.seats-purchased,measure.seats-active,measure.weekly-active-users,measure.feature-adoption,measure.open-tickets,measure.nps\n\
               a,active,1000,2025-01-01,2026-11-01,40,30,20,0.5,2,8\n\
               b,active,1000,2025-01-01,2026-11-01,,3,2,0.5,2,\n\
               c,active,1000,2025-01-01,2026-11-01,10,\"3\",2,0.25,1,\n";
    let json = "{\"id\":\"a\",\"stage\":\"active\",\"arr\":1000,\"start_date\":\"2025-01-01\",\"as_of\":\"2026-11-01\",\"measures\":{\"seats-purchased\":40,\"seats-active\":30,\"weekly-active-users\":20,\"feature-adoption\":0.5,\"open-tickets\":2,\"nps\":8}}\n\
                {\"id\":\"b\",\"stage\":\"active\",\"arr\":1000,\"start_date\":\"2025-01-01\",\"as_of\":\"2026-11-01\",\"measures\":{\"seats-active\":3,\"weekly-active-users\":2,\"feature-adoption\":0.5,\"open-tickets\":2}}\n\
                {\"id\":\"c\",\"stage\":\"active\",\"arr\":1000,\"start_date\":\"2025-01-01\",\"as_of\":\"2026-11-01\",\"measures\":{\"seats-purchased\":10,\"seats-active\":3,\"weekly-active-users\":2,\"feature-adoption\":0.25,\"open-tickets\":1}}\n";
    let o = options(2, 1, OutputFormat::JsonLines);
    let from_csv = score(csv, InputFormat::Csv, &o, &plugin);
    let from_json = score(json, InputFormat::JsonLines, &o, &plugin);
    assert!(from_csv == from_json, "the same records, byte for byte");
    let from_csv = records(&from_csv);
    assert_eq!(
        from_csv[1].error.as_ref().unwrap().code.as_deref(),
        Some("missing-measure"),
        "b has no seats: the plugin refuses it"
    );
}

#[test]
fn a_bad_csv_header_is_one_record_and_the_end() {
    let plugin = plugin();
    let out = records(&score(
        "id,stage,colour\nx,active,red\n",
        InputFormat::Csv,
        &options(2, 10, OutputFormat::JsonLines),
        &plugin,
    ));
    assert_eq!(out.len(), 1);
    let e = out[0].error.as_ref().unwrap();
    assert_eq!((e.line, e.field.as_deref()), (Some(1), Some("colour")));
}

#[test]
fn the_store_records_each_scored_account_once_per_day() {
    let plugin = plugin();
    let text = book();
    let dir = tempfile::tempdir().unwrap();
    let mut store = headway_store::SqliteStore::open(&dir.path().join("h.db")).unwrap();
    for (run_id, expected_new) in [(1, 10), (2, 0)] {
        let mut sink = StoreSink::begin(&mut store, "acme", &plugin, "book.jsonl").unwrap();
        let source = Source::new("book", text.as_bytes(), InputFormat::JsonLines);
        let summary = run(
            source,
            &plugin,
            &options(2, 3, OutputFormat::JsonLines),
            &mut [&mut sink],
        )
        .unwrap();
        let log = sink.commit(&summary).unwrap();
        assert_eq!(log.id, run_id);
        assert_eq!(log.scored, 10, "the repeated line is not recorded twice");
        assert_eq!(log.recorded.new, expected_new);
        assert_eq!(log.recorded.unchanged, 10 - expected_new);
        // Three bad lines (a bad value, a broken line, the repeat), by line.
        assert_eq!((log.records, log.failed), (13, 3));
        let lines: Vec<usize> = log.failures.iter().map(|f| f.line).collect();
        assert_eq!(lines, [4, 8, 14]);
        assert_eq!(log.failures[0].error.field.as_deref(), Some("arr"));
        assert_eq!(log.bands.iter().map(|b| b.accounts).sum::<usize>(), 10);
        assert_eq!(
            (log.source.as_str(), log.tenant.as_str()),
            ("book.jsonl", "acme")
        );
        assert_eq!(store_runs(&store), run_id as usize);
    }
}

fn store_runs(store: &headway_store::SqliteStore) -> usize {
    use headway_store::SnapshotStore;
    store.runs("acme", None, 100).unwrap().len()
}

/// Fails on its third chunk.
struct FailingSink(usize);

impl Sink for FailingSink {
    fn chunk(&mut self, _: &ScoredChunk) -> Result<(), SinkError> {
        self.0 += 1;
        if self.0 == 3 {
            return Err(SinkError::Output(std::io::Error::other("disk full")));
        }
        Ok(())
    }
}

#[test]
fn a_failing_sink_stops_the_run_with_its_error() {
    let plugin = plugin();
    let text = headway_samples::to_jsonl(&headway_samples::generate(
        headway_samples::Book::Saas,
        200,
        1,
    ));
    let mut sink = FailingSink(0);
    let source = Source::new("book", text.as_bytes(), InputFormat::JsonLines);
    let err = run(
        source,
        &plugin,
        &options(2, 5, OutputFormat::JsonLines),
        &mut [&mut sink],
    )
    .unwrap_err();
    assert!(matches!(err, RunError::Sink(_)), "{err}");
    assert!(err.to_string().contains("disk full"));
    assert_eq!(sink.0, 3, "no chunk after the failure");
}

/// Gives `good` bytes, then fails.
struct BrokenReader<'a> {
    good: &'a [u8],
}

impl Read for BrokenReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.good.is_empty() {
            return Err(std::io::Error::other("connection reset"));
        }
        self.good.read(buf)
    }
}

#[test]
fn a_source_that_fails_midway_is_an_error_naming_it() {
    let plugin = plugin();
    let text = book();
    let reader = std::io::BufReader::new(BrokenReader {
        good: text.as_bytes(),
    });
    let source = Source::new("upload", reader, InputFormat::JsonLines);
    let mut out = WriteSink::new(Vec::new(), OutputFormat::JsonLines, &plugin).unwrap();
    let err = run(
        source,
        &plugin,
        &options(2, 2, OutputFormat::JsonLines),
        &mut [&mut out],
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "cannot read `upload`: connection reset");
}

#[test]
fn request_values_score_as_a_file_does() {
    let plugin = plugin();
    let text = book();
    let values: Vec<serde_json::Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or(serde_json::Value::Null))
        .collect();
    let chunk = score_values(
        "request",
        values,
        &plugin,
        &InputDefaults::default(),
        OutputFormat::JsonLines,
    );
    let from_values = records(&chunk.rendered);
    let from_file = records(&score(
        &text,
        InputFormat::JsonLines,
        &options(1, 100, OutputFormat::JsonLines),
        &plugin,
    ));
    assert_eq!(from_values.len(), from_file.len());
    let scores = |r: &[ScoreRecord]| {
        r.iter()
            .map(|r| (r.account_id.clone(), r.score))
            .collect::<Vec<_>>()
    };
    assert_eq!(scores(&from_values), scores(&from_file));
    assert_eq!(
        chunk.failed(),
        3,
        "the bad arr, the unparsable line, the repeat"
    );
}
