//! The run: worker threads take chunks from the source, parse, assess and render
//! them; this thread puts them back in input order, catches repeated ids, and
//! hands each chunk to the sinks. At most `in_flight` chunks exist at once, so
//! memory does not grow with the input, and a slow sink slows the readers.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::sync_channel;
use std::sync::{Condvar, Mutex};

use headway_core::assessed::AssessedBatch;
use headway_core::success::Snapshot;
use headway_core::{
    AccountBatch, AccountError, DuplicateIds, InputDefaults, InputError, ScoreRecord,
};
use headway_host::{LogLine, Plugin};
use headway_store::RunFailure;

use crate::render::{self, Line, OutputFormat, View};
use crate::source::{Chunk, Parser, Source};

/// How a run is carried out.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Worker threads (at least 1).
    pub threads: usize,
    /// Values for fields the input leaves out.
    pub defaults: InputDefaults,
    /// Render each chunk in this format on the workers ([`ScoredChunk::rendered`]).
    pub format: Option<OutputFormat>,
    /// Lines per chunk; by default the plugin's batch size.
    pub chunk_rows: Option<usize>,
    /// Chunks in flight at once; by default four per thread.
    pub in_flight: Option<usize>,
}

impl RunOptions {
    /// Defaults on `threads` threads.
    pub fn new(threads: usize) -> Self {
        Self {
            threads: threads.max(1),
            defaults: InputDefaults::default(),
            format: None,
            chunk_rows: None,
            in_flight: None,
        }
    }
}

/// Bytes of text per chunk at most, whatever its line count.
const MAX_CHUNK_BYTES: usize = 8 << 20;

/// One chunk of a run, scored: what every sink sees, in input order.
#[derive(Debug)]
pub struct ScoredChunk {
    /// Position in the run (0, 1, ...).
    pub seq: u64,
    /// The rows that parsed.
    pub batch: AccountBatch,
    /// Rows rejected after parsing (an id already seen): not scored output.
    pub dropped: Vec<bool>,
    /// Lines that could not be read or validated, by line.
    pub rejected: Vec<InputError>,
    /// The plugin's results, one per row of `batch`.
    pub assessed: AssessedBatch,
    /// Instructions used.
    pub fuel_used: u64,
    /// What the plugin logged.
    pub logs: Vec<LogLine>,
    /// The chunk's records rendered in the run's output format.
    pub rendered: Vec<u8>,
}

impl ScoredChunk {
    /// Scores a parsed batch (and the lines rejected on the way) with `plugin`.
    pub fn score(
        seq: u64,
        batch: AccountBatch,
        rejected: Vec<InputError>,
        plugin: &Plugin,
    ) -> Self {
        let report = plugin.assess_batch(&batch);
        Self {
            seq,
            dropped: vec![false; batch.len()],
            batch,
            rejected,
            assessed: report.assessed,
            fuel_used: report.fuel_used,
            logs: report.logs,
            rendered: Vec::new(),
        }
    }

    pub(crate) fn view<'a>(&'a self, plugin: &'a Plugin) -> View<'a> {
        View {
            batch: &self.batch,
            dropped: &self.dropped,
            rejected: &self.rejected,
            assessed: &self.assessed,
            info: plugin.info(),
            plugin: plugin.plugin_ref(),
        }
    }

    /// Renders the chunk in `format` into [`ScoredChunk::rendered`].
    pub fn render(&mut self, format: OutputFormat, plugin: &Plugin) {
        let mut out = std::mem::take(&mut self.rendered);
        out.clear();
        render::render(format, &self.view(plugin), &mut out);
        self.rendered = out;
    }

    /// Records in the chunk (rows not dropped, and rejected lines).
    pub fn len(&self) -> usize {
        self.rows().count() + self.rejected.len()
    }

    /// True without records.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Records without a score.
    pub fn failed(&self) -> usize {
        self.rows()
            .filter(|r| self.assessed.errors[*r].is_some())
            .count()
            + self.rejected.len()
    }

    /// The rows that count (not dropped).
    fn rows(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.batch.len()).filter(|r| !self.dropped[*r])
    }

    /// Every record without a score, in input order: rejected lines and
    /// accounts the plugin failed.
    pub fn failures(&self) -> Vec<RunFailure> {
        let mut out: Vec<RunFailure> = self
            .rejected
            .iter()
            .map(|e| RunFailure {
                line: e.line,
                account_id: e.account_id.clone(),
                error: AccountError::from(e),
            })
            .collect();
        for r in self.rows() {
            if let Some(error) = &self.assessed.errors[r] {
                out.push(RunFailure {
                    line: self.batch.lines[r],
                    account_id: Some(self.batch.ids.get(r).to_owned()),
                    error: error.clone(),
                });
            }
        }
        out.sort_by_key(|f| f.line);
        out
    }

    /// A snapshot per scored row, for the history store.
    pub fn snapshots(&self, tenant: &str, plugin: &Plugin) -> Vec<Snapshot> {
        self.rows()
            .filter_map(|r| {
                let a = self.assessed.result(r, plugin.info()).ok()?;
                Some(Snapshot {
                    tenant: tenant.to_owned(),
                    account_id: self.batch.ids.get(r).to_owned(),
                    as_of: self.batch.as_of[r],
                    arr: self.batch.arr[r],
                    segment: self.batch.segments.get(r).to_owned(),
                    renewal_date: self.batch.renewal_dates[r],
                    score: a.score,
                    band: a.band,
                    factors: a.factors,
                    milestones: a.milestones,
                    plugin: plugin.plugin_ref().clone(),
                    overrides: Vec::new(),
                })
            })
            .collect()
    }

    /// The chunk's records in input-line order, as structs (for a table or an
    /// API answer; a stream writes [`ScoredChunk::rendered`] instead).
    pub fn records(&self, plugin: &Plugin) -> Vec<ScoreRecord> {
        let plugin_ref = plugin.plugin_ref();
        render::lines(&self.batch, &self.dropped, &self.rejected)
            .into_iter()
            .map(|(_, line)| match line {
                Line::Row(r) => {
                    let (id, as_of) = (self.batch.ids.get(r), self.batch.as_of[r]);
                    match self.assessed.result(r, plugin.info()) {
                        Ok(a) => ScoreRecord::scored(id, as_of, a, plugin_ref),
                        Err(e) => ScoreRecord::failed(Some(id), Some(as_of), e, Some(plugin_ref)),
                    }
                }
                Line::Rejected(e) => {
                    ScoreRecord::failed(e.account_id.as_deref(), None, e.into(), None)
                }
            })
            .collect()
    }
}

/// What receives a run's chunks, in input order.
pub trait Sink {
    /// One chunk, after every earlier one.
    fn chunk(&mut self, chunk: &ScoredChunk) -> Result<(), SinkError>;
}

/// A sink refused a chunk; the run stops.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// Writing the output failed (a closed pipe, a full disk).
    #[error("cannot write the output: {0}")]
    Output(#[from] std::io::Error),
    /// The history store failed.
    #[error(transparent)]
    Store(#[from] headway_store::StoreError),
}

/// Why a run stopped before its end.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The source could not be read.
    #[error("cannot read `{name}`: {source}")]
    Read {
        /// The source's name.
        name: String,
        /// Why.
        source: std::io::Error,
    },
    /// A sink failed.
    #[error(transparent)]
    Sink(#[from] SinkError),
}

/// Counts over a whole run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunSummary {
    /// Records (one per non-blank input line).
    pub records: usize,
    /// Records without a score (rejected lines included).
    pub failed: usize,
    /// Of those, lines rejected as input.
    pub rejected: usize,
    /// Scored accounts per band, in the plugin's declared order.
    pub bands: Vec<(String, usize)>,
    /// Instructions used.
    pub fuel_used: u64,
}

impl RunSummary {
    fn add(&mut self, chunk: &ScoredChunk) {
        for r in chunk.rows() {
            self.records += 1;
            match chunk.assessed.errors[r] {
                Some(_) => self.failed += 1,
                None => self.bands[usize::from(chunk.assessed.bands[r])].1 += 1,
            }
        }
        self.records += chunk.rejected.len();
        self.failed += chunk.rejected.len();
        self.rejected += chunk.rejected.len();
        self.fuel_used += chunk.fuel_used;
    }

    /// Scored accounts.
    pub fn scored(&self) -> usize {
        self.records - self.failed
    }
}

/// The reader side, shared by the workers: one takes the next chunk at a time.
struct Reader<R> {
    source: Source<R>,
    next_seq: u64,
    failed: Option<std::io::Error>,
}

/// How far the sinks have got, so readers stay within `size` chunks of them.
struct Window {
    written: Mutex<u64>,
    moved: Condvar,
    size: u64,
    stop: AtomicBool,
}

impl Window {
    /// Waits until chunk `seq` may be read; false when the run is stopping.
    fn admit(&self, seq: u64) -> bool {
        let mut written = self.written.lock().expect("window lock");
        while seq >= *written + self.size && !self.stop.load(Ordering::Relaxed) {
            written = self.moved.wait(written).expect("window lock");
        }
        !self.stop.load(Ordering::Relaxed)
    }

    fn advance(&self, written: u64) {
        *self.written.lock().expect("window lock") = written;
        self.moved.notify_all();
    }

    fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
        let _guard = self.written.lock().expect("window lock");
        self.moved.notify_all();
    }
}

/// Scores everything `source` holds with `plugin`, handing chunks to `sinks` in
/// input order. Bad lines are records with an input error, never a reason to
/// stop; a source that cannot be read or a sink that fails stops the run.
pub fn run<R: BufRead + Send>(
    mut source: Source<R>,
    plugin: &Plugin,
    options: &RunOptions,
    sinks: &mut [&mut dyn Sink],
) -> Result<RunSummary, RunError> {
    let name = source.name().to_owned();
    let read_error = |source| RunError::Read {
        name: name.clone(),
        source,
    };
    let mut summary = RunSummary {
        bands: plugin
            .info()
            .bands
            .iter()
            .map(|b| (b.name.clone(), 0))
            .collect(),
        ..RunSummary::default()
    };
    let mut deliver = |mut chunk: ScoredChunk, ids: &mut DuplicateIds| -> Result<(), SinkError> {
        reject_repeated_ids(&mut chunk, ids, &name, plugin, options.format);
        summary.add(&chunk);
        for sink in sinks.iter_mut() {
            sink.chunk(&chunk)?;
        }
        Ok(())
    };
    let mut ids = DuplicateIds::default();
    if let Some(header) = source.start().map_err(read_error)? {
        let mut chunk = ScoredChunk::score(0, AccountBatch::default(), vec![header], plugin);
        if let Some(format) = options.format {
            chunk.render(format, plugin);
        }
        deliver(chunk, &mut ids)?;
        return Ok(summary);
    }

    let threads = options.threads.max(1);
    let in_flight = options.in_flight.unwrap_or(threads * 4).max(1);
    let rows = options
        .chunk_rows
        .unwrap_or(plugin.limits().batch_size)
        .max(1);
    let parser = source.parser();
    let reader = Mutex::new(Reader {
        source,
        next_seq: 0,
        failed: None,
    });
    let window = Window {
        written: Mutex::new(0),
        moved: Condvar::new(),
        size: in_flight as u64,
        stop: AtomicBool::new(false),
    };
    let (tx, rx) = sync_channel::<ScoredChunk>(in_flight);
    let delivered = std::thread::scope(|scope| {
        for _ in 0..threads {
            let tx = tx.clone();
            let (reader, window, parser) = (&reader, &window, &parser);
            scope.spawn(move || {
                while let Some(chunk) = next_chunk(reader, window, rows) {
                    if tx.send(work(chunk, parser, plugin, options)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut pending = BTreeMap::new();
        let mut next = 0u64;
        for chunk in rx.iter() {
            pending.insert(chunk.seq, chunk);
            while let Some(chunk) = pending.remove(&next) {
                if let Err(e) = deliver(chunk, &mut ids) {
                    window.stop();
                    return Err(e);
                }
                next += 1;
                window.advance(next);
            }
        }
        Ok(())
    });
    delivered?;
    let reader = reader.into_inner().expect("reader lock");
    if let Some(e) = reader.failed {
        return Err(read_error(e));
    }
    Ok(summary)
}

fn next_chunk<R: BufRead>(
    reader: &Mutex<Reader<R>>,
    window: &Window,
    rows: usize,
) -> Option<Chunk> {
    let mut r = reader.lock().expect("reader lock");
    if r.failed.is_some() || !window.admit(r.next_seq) {
        return None;
    }
    let seq = r.next_seq;
    match r.source.next_chunk(seq, rows, MAX_CHUNK_BYTES) {
        Ok(Some(chunk)) => {
            r.next_seq += 1;
            Some(chunk)
        }
        Ok(None) => None,
        Err(e) => {
            r.failed = Some(e);
            None
        }
    }
}

/// Scores accounts already parsed as JSON (a request body) on this thread, as a
/// run would score them from a file: "line" N is the Nth value, repeated ids
/// are rejected, and the records are rendered in `format`.
pub fn score_values(
    source_name: &str,
    values: Vec<serde_json::Value>,
    plugin: &Plugin,
    defaults: &InputDefaults,
    format: OutputFormat,
) -> ScoredChunk {
    let (batch, rejected) =
        headway_core::parse_json_values(source_name, values, defaults, plugin.reads());
    let mut chunk = ScoredChunk::score(0, batch, rejected, plugin);
    reject_repeated_ids(
        &mut chunk,
        &mut DuplicateIds::default(),
        source_name,
        plugin,
        None,
    );
    chunk.render(format, plugin);
    chunk
}

/// A worker's part: parse, assess, render.
fn work(chunk: Chunk, parser: &Parser, plugin: &Plugin, options: &RunOptions) -> ScoredChunk {
    let (batch, rejected) = parser.parse(&chunk, &options.defaults, plugin.reads());
    let mut scored = ScoredChunk::score(chunk.seq, batch, rejected, plugin);
    if let Some(format) = options.format {
        scored.render(format, plugin);
    }
    scored
}

/// Drops rows whose (id, as-of) an earlier line had, as input errors; the
/// chunk is rendered again only when that happened.
fn reject_repeated_ids(
    chunk: &mut ScoredChunk,
    ids: &mut DuplicateIds,
    source_name: &str,
    plugin: &Plugin,
    format: Option<OutputFormat>,
) {
    let mut repeated = false;
    for r in 0..chunk.batch.len() {
        let id = chunk.batch.ids.get(r);
        if let Err(e) = ids.check(id, chunk.batch.as_of[r]) {
            chunk.dropped[r] = true;
            let line = chunk.batch.lines[r];
            chunk
                .rejected
                .push(DuplicateIds::error(source_name, line, id, e));
            repeated = true;
        }
    }
    if repeated {
        chunk.rejected.sort_by_key(|e| e.line);
        if let Some(format) = format {
            chunk.render(format, plugin);
        }
    }
}
