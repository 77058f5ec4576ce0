//! One scoring run, streaming, for every caller: `headway score`, `score
//! --store` and `headway serve` all go through [`run`].
//!
//! ```text
//! Source (file, request body) -> chunks of whole lines
//!   -> worker threads: parse into columns, assess in the sandbox, render
//!   -> this thread: input order, repeated ids, then every Sink in turn
//!        (output writer, history store, progress, ...)
//! ```
//!
//! A run holds a bounded number of chunks (`RunOptions::in_flight`), so its
//! memory does not grow with the input; the only per-account state kept for the
//! whole run is the 8-byte hash per (id, day) that catches a repeated account.

mod array;
mod decision;
mod render;
mod run;
mod source;

use std::io::Write;

use headway_core::alerts::{self, AlertRule, Fired};
use headway_core::success::Snapshot;
use headway_host::Plugin;
use headway_store::{
    BandCount, MAX_LOGGED_FAILURES, RunLog, RunRecorder, SnapshotStore, StoreError,
};

pub use array::JsonArrayLines;
pub use decision::{
    DecisionContext, DecisionError, DecisionOutcome, InputRecord, InputTap, OutputDigest,
    REQUEST_ACCOUNT, log_decision, outcomes, request_accounts, rescore, sha256, unpack,
};
pub use render::{OutputFormat, clean};
pub use run::{RunError, RunOptions, RunSummary, ScoredChunk, Sink, SinkError, run, score_values};
pub use source::{InputFormat, MAX_LINE_BYTES, Source};

/// Writes each chunk's rendered records to `out` (after the CSV header, for CSV).
pub struct WriteSink<W> {
    out: W,
}

impl<W: Write> WriteSink<W> {
    /// A sink writing `format` for `plugin`'s records to `out`.
    pub fn new(mut out: W, format: OutputFormat, plugin: &Plugin) -> std::io::Result<Self> {
        if format == OutputFormat::Csv {
            out.write_all(&render::csv_header(plugin.info()))?;
        }
        Ok(Self { out })
    }

    /// Flushes and gives the writer back.
    pub fn finish(mut self) -> std::io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

impl<W: Write> Sink for WriteSink<W> {
    fn chunk(&mut self, chunk: &ScoredChunk) -> Result<(), SinkError> {
        self.out.write_all(&chunk.rendered)?;
        Ok(())
    }
}

/// Records every scored row as a snapshot, and the run's log, all in one
/// transaction: a run that stops halfway leaves nothing behind.
pub struct StoreSink<'s, 'p> {
    run: Box<dyn RunRecorder + 's>,
    plugin: &'p Plugin,
    log: RunLog,
    started: std::time::Instant,
    /// The tenant's alert rules, evaluated on every snapshot recorded.
    alerts: Vec<AlertRule>,
}

impl<'s, 'p> StoreSink<'s, 'p> {
    /// Starts recording `plugin`'s run of `source` for `tenant` in `store`.
    pub fn begin(
        store: &'s mut dyn SnapshotStore,
        tenant: &str,
        plugin: &'p Plugin,
        source: &str,
    ) -> Result<Self, StoreError> {
        Ok(Self {
            run: store.begin_run(tenant, plugin.info(), plugin.plugin_ref())?,
            log: RunLog::new(tenant, plugin.plugin_ref(), source, headway_store::now()),
            plugin,
            started: std::time::Instant::now(),
            alerts: Vec::new(),
        })
    }

    /// Files what `rules` fire on each recorded snapshot in the run's outbox, in
    /// its transaction. Only for the tenant's active build: a shadow run never
    /// alerts.
    pub fn with_alerts(mut self, rules: &[AlertRule]) -> Self {
        self.alerts = rules.to_vec();
        self
    }

    /// The rules that fire on `snapshots`, each read with the account's
    /// earlier snapshots of this build.
    fn fired(&mut self, snapshots: &[Snapshot]) -> Result<Vec<Fired>, StoreError> {
        let (Some(first), Some(last)) = (
            snapshots.iter().map(|s| s.as_of).min(),
            snapshots.iter().map(|s| s.as_of).max(),
        ) else {
            return Ok(Vec::new());
        };
        let lookback = alerts::lookback_days(&self.alerts);
        let mut accounts: Vec<&str> = snapshots.iter().map(|s| s.account_id.as_str()).collect();
        accounts.sort_unstable();
        accounts.dedup();
        let since = first.add_days(-(lookback as i32));
        let prior = self.run.prior(&accounts, since, last)?;
        let mut fired = Vec::new();
        for s in snapshots {
            let start = prior.partition_point(|p| p.account_id.as_str() < s.account_id.as_str());
            let mut history: Vec<Snapshot> = prior[start..]
                .iter()
                .take_while(|p| p.account_id == s.account_id && p.as_of < s.as_of)
                .filter(|p| p.as_of >= s.as_of.add_days(-(lookback as i32)))
                .cloned()
                .collect();
            history.push(s.clone());
            fired.extend(alerts::fired(&self.alerts, &history, self.plugin.info()));
        }
        Ok(fired)
    }

    /// Commits the run with the counts of `summary`: the log as stored.
    pub fn commit(mut self, summary: &RunSummary) -> Result<RunLog, StoreError> {
        self.log.duration_ms = self.started.elapsed().as_secs_f64() * 1e3;
        self.log.records = summary.records;
        self.log.scored = summary.scored();
        self.log.failed = summary.failed;
        self.log.bands = summary
            .bands
            .iter()
            .map(|(band, accounts)| BandCount {
                band: band.clone(),
                accounts: *accounts,
            })
            .collect();
        self.run.commit(self.log)
    }
}

impl Sink for StoreSink<'_, '_> {
    fn chunk(&mut self, chunk: &ScoredChunk) -> Result<(), SinkError> {
        let snapshots = chunk.snapshots(&self.log.tenant, self.plugin);
        self.run.add(&snapshots)?;
        if !self.alerts.is_empty() {
            // After adding: an account's earlier days in this same chunk are
            // its history too.
            let fired = self.fired(&snapshots)?;
            self.log.alerts += self.run.add_alerts(&fired)?;
        }
        let room = MAX_LOGGED_FAILURES.saturating_sub(self.log.failures.len());
        if room > 0 {
            let mut failures = chunk.failures();
            failures.truncate(room);
            self.log.failures.extend(failures);
        }
        Ok(())
    }
}
