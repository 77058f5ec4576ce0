//! `headway score`: a file through the pipeline, records to stdout, snapshots to
//! the store, problems and the summary to stderr.

use std::io::{BufRead, BufReader, IsTerminal, Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use headway_config::LogFailure;
use headway_core::{InputDefaults, ScoreRecord};
use headway_host::Plugin;
use headway_pipeline::{
    DecisionContext, DecisionOutcome, InputFormat, InputRecord, OutputDigest, OutputFormat,
    RunOptions, ScoredChunk, Sink, SinkError, Source, StoreSink, WriteSink,
};

use crate::{Exit, Format, ScoreArgs, output, short_digest};

pub(crate) fn score(args: &ScoreArgs) -> Result<Exit> {
    let started = Instant::now();
    let (tenant, plugin) = crate::load_tenant_with(&args.tenant, args.plugin.as_deref())?;
    tracing::debug!(ms = started.elapsed().as_millis(), "plugin loaded");
    // Opened before scoring, so a bad path fails fast.
    let mut store = args
        .store
        .as_ref()
        .map(headway_store::StoreLocation::open)
        .transpose()?;
    // A recorded run is a decision: its input is digested (and kept, where the
    // tenant keeps inputs) as it is read.
    let mut input = match store {
        Some(_) => InputRecord::new(tenant.history.keep_inputs),
        None => InputRecord::passing(),
    };
    let source = open_source(&args.accounts, |file| input.tap(file))?;
    let context = DecisionContext {
        tenant: tenant.id.clone(),
        caller: format!(
            "cli:{}",
            std::env::var("USER").unwrap_or_else(|_| "unknown".to_owned())
        ),
        source: source.name().to_owned(),
        input: source.format().into(),
        as_of_default: args.as_of,
        at: headway_store::now(),
    };
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let mut options = RunOptions::new(threads);
    options.defaults = InputDefaults { as_of: args.as_of };
    options.format = match args.format {
        Format::Json => Some(OutputFormat::JsonLines),
        Format::Csv => Some(OutputFormat::Csv),
        Format::Table => None,
    };

    // Block-buffered: stdout is line-buffered, which flushes every record.
    let stdout = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let mut problems = Problems::new(&tenant.id, &plugin);
    // Only a recorded run is logged, so only then is its output digested.
    let mut output_digest = store
        .is_some()
        .then(|| OutputDigest::new(&plugin, &options));
    let mut store_sink = match &mut store {
        Some(s) => {
            let sink = StoreSink::begin(
                &mut **s,
                &tenant.id,
                &plugin,
                &args.accounts.display().to_string(),
            )?;
            // A shadow build (`--plugin`) is compared, never alerted on.
            Some(match args.plugin {
                None => sink.with_alerts(&tenant.alerts),
                Some(_) => sink,
            })
        }
        None => None,
    };
    let summary = match options.format {
        Some(format) => {
            let mut writer = WriteSink::new(stdout, format, &plugin)?;
            let summary = run(
                source,
                &plugin,
                &options,
                &mut writer,
                &mut problems,
                &mut output_digest,
                &mut store_sink,
            )?;
            writer.finish()?;
            summary
        }
        None => {
            let mut table = TableSink {
                plugin: &plugin,
                limit: args.limit.unwrap_or(usize::MAX),
                shown: Vec::new(),
                total: 0,
            };
            let summary = run(
                source,
                &plugin,
                &options,
                &mut table,
                &mut problems,
                &mut output_digest,
                &mut store_sink,
            )?;
            output::table(output::TerminalSafe::new(stdout), &table.shown, table.total)?;
            summary
        }
    };
    problems.finish();
    // Consumed whole, so the store is free for the decision log.
    let committed = store_sink.map(|sink| sink.commit(&summary)).transpose()?;
    if let Some(log) = committed {
        let outcome = DecisionOutcome {
            input,
            output_digest: output_digest.expect("a recorded run is digested").finish(),
            records: summary.records,
            failed: summary.failed,
            run: Some(log.id),
        };
        let store = store.as_mut().expect("a store sink has a store");
        match headway_pipeline::log_decision(
            &mut **store,
            &plugin,
            context,
            outcome,
            &tenant.history.mask(),
        ) {
            Ok(decision) => tracing::debug!(id = decision.id, "decision logged"),
            Err(e) if tenant.history.on_log_failure == LogFailure::Count => {
                eprintln!("warning: run {} was recorded, but {e}", log.id);
            }
            Err(e) => {
                return Err(anyhow::anyhow!(
                    "run {} was recorded, but {e} ([history] on_log_failure = \"fail\")",
                    log.id
                ));
            }
        }
        let done = log.recorded;
        eprintln!(
            "recorded run {} in `{}`: {} snapshots, {} new, {} changed, {} unchanged{}",
            log.id,
            args.store
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            log.scored,
            done.new,
            done.changed,
            done.unchanged,
            match log.alerts {
                0 => String::new(),
                n => format!("; {n} alerts fired"),
            }
        );
    }
    let plugin_ref = plugin.plugin_ref();
    let bands: Vec<String> = summary
        .bands
        .iter()
        .rev()
        .map(|(name, n)| format!("{n} {name}"))
        .collect();
    eprintln!(
        "{} accounts, {} scored ({}), {} failed; plugin {} {} ({}); {} instructions; {:.0} ms",
        summary.records,
        summary.scored(),
        bands.join(", "),
        summary.failed,
        plugin_ref.name,
        plugin_ref.version,
        short_digest(&plugin_ref.digest),
        summary.fuel_used,
        started.elapsed().as_secs_f64() * 1e3,
    );
    Ok(if summary.failed == 0 {
        Exit::Success
    } else {
        Exit::Partial
    })
}

/// The accounts file as a source (read through `wrap`), its format from its name.
fn open_source<R: Read>(
    path: &Path,
    wrap: impl FnOnce(std::fs::File) -> R,
) -> Result<Source<BufReader<R>>> {
    let name = path.display().to_string();
    let format = InputFormat::of_path(path)
        .with_context(|| format!("`{name}`: unknown format; use a .jsonl or .csv file"))?;
    let file = std::fs::File::open(path).with_context(|| format!("cannot read `{name}`"))?;
    Ok(Source::new(
        name,
        BufReader::with_capacity(1 << 20, wrap(file)),
        format,
    ))
}

fn run(
    source: Source<impl BufRead + Send>,
    plugin: &Plugin,
    options: &RunOptions,
    output: &mut dyn Sink,
    problems: &mut Problems,
    output_digest: &mut Option<OutputDigest>,
    store: &mut Option<StoreSink>,
) -> Result<headway_pipeline::RunSummary> {
    let mut sinks: Vec<&mut dyn Sink> = vec![output, problems];
    if let Some(store) = store {
        sinks.push(store);
    }
    if let Some(digest) = output_digest {
        sinks.push(digest);
    }
    Ok(headway_pipeline::run(source, plugin, options, &mut sinks)?)
}

/// Keeps the first `limit` records for the table; counts the rest.
struct TableSink<'p> {
    plugin: &'p Plugin,
    limit: usize,
    shown: Vec<ScoreRecord>,
    total: usize,
}

impl Sink for TableSink<'_> {
    fn chunk(&mut self, chunk: &ScoredChunk) -> Result<(), SinkError> {
        let records = chunk.records(self.plugin);
        self.total += records.len();
        let room = self.limit.saturating_sub(self.shown.len());
        self.shown.extend(records.into_iter().take(room));
        Ok(())
    }
}

/// Rejected lines and plugin log lines to stderr as they come, and progress
/// on a terminal for runs longer than a second.
struct Problems {
    tenant: String,
    plugin: String,
    started: Instant,
    accounts: usize,
    progress: Option<indicatif::ProgressBar>,
    terminal: bool,
}

/// How long a run goes before it shows progress.
const PROGRESS_AFTER: Duration = Duration::from_secs(1);

impl Problems {
    fn new(tenant: &str, plugin: &Plugin) -> Self {
        Self {
            tenant: tenant.to_owned(),
            plugin: plugin.plugin_ref().name.clone(),
            started: Instant::now(),
            accounts: 0,
            progress: None,
            terminal: std::io::stderr().is_terminal(),
        }
    }

    fn say(&self, line: &str) {
        match &self.progress {
            Some(bar) => bar.println(line),
            None => {
                let _ = writeln!(std::io::stderr().lock(), "{line}");
            }
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.progress {
            bar.finish_and_clear();
        }
    }
}

impl Sink for Problems {
    fn chunk(&mut self, chunk: &ScoredChunk) -> Result<(), SinkError> {
        for e in &chunk.rejected {
            self.say(&output::terminal_safe(&format!("error: {e}")));
        }
        for line in &chunk.logs {
            let message = output::terminal_safe(&line.message);
            tracing::info!(tenant = %self.tenant, plugin = %self.plugin, level = ?line.level, "{message}");
        }
        self.accounts += chunk.batch.len() + chunk.rejected.len();
        if self.terminal && self.progress.is_none() && self.started.elapsed() >= PROGRESS_AFTER {
            let bar = indicatif::ProgressBar::new_spinner().with_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} {human_pos} accounts, {per_sec}, {elapsed}",
                )
                .expect("a valid template"),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            self.progress = Some(bar);
        }
        if let Some(bar) = &self.progress {
            bar.set_position(self.accounts as u64);
        }
        Ok(())
    }
}
