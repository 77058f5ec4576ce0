//! `headway`: score a tenant's accounts through its rules plugin.
//!
//! `main` parses the command line and dispatches to one function per subcommand;
//! the work lives in the library crates.

mod output;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use headway_core::{AccountError, Date, InputDefaults, ParsedAccounts, ScoreRecord};
use headway_host::{Plugin, Runtime, TenantConfig};
use headway_samples::Book;

#[derive(Parser)]
#[command(
    name = "headway",
    version,
    about = "Customer health and Success Vectors from tenant rules plugins"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Score accounts (JSON Lines or CSV) through a tenant's plugin.
    Score(ScoreArgs),
    /// Show what a tenant's plugin declares: bands, factors, milestones, upsells.
    Describe {
        /// The tenant folder (holding tenant.toml).
        #[arg(long)]
        tenant: PathBuf,
    },
    /// Write a deterministic sample book of accounts as JSON Lines.
    Sample {
        /// Which example book.
        #[arg(value_enum)]
        book: SampleBook,
        /// How many accounts.
        #[arg(long, default_value_t = 1_000)]
        count: usize,
        /// PRNG seed.
        #[arg(long, default_value_t = headway_samples::DEFAULT_SEED)]
        seed: u64,
        /// Output file (default: standard output).
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

#[derive(clap::Args)]
struct ScoreArgs {
    /// The tenant folder (holding tenant.toml).
    #[arg(long)]
    tenant: PathBuf,
    /// Accounts file: `.jsonl` (JSON Lines) or `.csv`.
    accounts: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// As-of date for accounts that have none (YYYY-MM-DD).
    #[arg(long)]
    as_of: Option<Date>,
    /// Table output: show only the first N accounts (the summary covers all).
    #[arg(long)]
    limit: Option<usize>,
    /// Worker threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Table,
    Json,
    Csv,
}

#[derive(Clone, Copy, ValueEnum)]
enum SampleBook {
    Saas,
    Logistics,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("HEADWAY_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Score(args) => score(&args),
        Command::Describe { tenant } => describe(&tenant).map(|()| ExitCode::SUCCESS),
        Command::Sample {
            book,
            count,
            seed,
            output,
        } => sample(book, count, seed, output.as_deref()).map(|()| ExitCode::SUCCESS),
    };
    outcome.unwrap_or_else(|e| {
        // `headway score ... | head` closing the pipe early is not an error.
        let closed_pipe = e
            .chain()
            .filter_map(|c| c.downcast_ref::<std::io::Error>())
            .any(|io| io.kind() == std::io::ErrorKind::BrokenPipe);
        if closed_pipe {
            return ExitCode::SUCCESS;
        }
        eprintln!("error: {e:#}");
        ExitCode::from(1)
    })
}

/// Exit code when some accounts could not be scored (the rest were).
const EXIT_PARTIAL: u8 = 2;

fn load_tenant(dir: &Path) -> Result<(TenantConfig, Plugin)> {
    let tenant = TenantConfig::load(dir)?;
    let runtime = Runtime::new().context("cannot start the plugin runtime")?;
    let plugin = runtime
        .load_file(
            &tenant.plugin,
            &tenant.id,
            tenant.limits,
            tenant.config.clone(),
        )
        .with_context(|| format!("tenant `{}`", tenant.id))?;
    Ok((tenant, plugin))
}

fn read_accounts(path: &Path, defaults: &InputDefaults) -> Result<ParsedAccounts> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read `{}`", path.display()))?;
    let name = path.display().to_string();
    match path.extension().and_then(|e| e.to_str()) {
        Some("jsonl" | "ndjson" | "json") => Ok(headway_core::parse_jsonl(&name, &text, defaults)),
        Some("csv") => Ok(headway_core::parse_csv(&name, &text, defaults)),
        _ => bail!("`{name}`: unknown format; use a .jsonl or .csv file"),
    }
}

/// `headway score`: parse, assess in the sandbox, print one record per input line.
fn score(args: &ScoreArgs) -> Result<ExitCode> {
    let started = Instant::now();
    let (tenant, plugin) = load_tenant(&args.tenant)?;
    tracing::debug!(ms = started.elapsed().as_millis(), "plugin loaded");
    let parsed = read_accounts(&args.accounts, &InputDefaults { as_of: args.as_of })?;
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    tracing::debug!(
        ms = started.elapsed().as_millis(),
        accounts = parsed.accounts.len(),
        "plugin loaded, input parsed"
    );
    let report = plugin.assess(&parsed.accounts, threads);
    tracing::debug!(ms = started.elapsed().as_millis(), "assessed");
    for line in &report.logs {
        tracing::info!(tenant = %tenant.id, plugin = %plugin.plugin_ref().name, level = ?line.level, "{}", line.message);
    }

    // Records in input-line order: scored accounts and rejected lines interleaved.
    let plugin_ref = plugin.plugin_ref();
    let mut records: Vec<(usize, ScoreRecord)> = parsed
        .accounts
        .iter()
        .zip(&parsed.lines)
        .zip(report.results)
        .map(|((account, line), result)| {
            let record = match result {
                Ok(a) => ScoreRecord::scored(&account.id, account.as_of, a, plugin_ref),
                Err(e) => {
                    ScoreRecord::failed(Some(&account.id), Some(account.as_of), e, Some(plugin_ref))
                }
            };
            (*line, record)
        })
        .collect();
    for e in &parsed.errors {
        eprintln!("error: {e}");
        records.push((
            e.line,
            ScoreRecord::failed(e.account_id.as_deref(), None, AccountError::from(e), None),
        ));
    }
    records.sort_by_key(|(line, _)| *line);
    let records: Vec<ScoreRecord> = records.into_iter().map(|(_, r)| r).collect();

    // Block-buffered: stdout is line-buffered, which flushes every record.
    let stdout = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    match args.format {
        Format::Json => output::jsonl(stdout, &records)?,
        Format::Csv => output::csv(stdout, &records)?,
        Format::Table => output::table(stdout, &records, plugin.info(), args.limit)?,
    }
    tracing::debug!(ms = started.elapsed().as_millis(), "written");
    let failed = records.iter().filter(|r| r.error.is_some()).count();
    let summary = output::Summary::of(&records, plugin.info());
    eprintln!(
        "{} accounts, {} scored ({}), {} failed; plugin {} {} ({}); {} instructions; {:.0} ms",
        records.len(),
        records.len() - failed,
        summary.bands_line(),
        failed,
        plugin_ref.name,
        plugin_ref.version,
        short_digest(&plugin_ref.digest),
        report.fuel_used,
        started.elapsed().as_secs_f64() * 1e3,
    );
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_PARTIAL)
    })
}

fn short_digest(digest: &str) -> &str {
    &digest[..digest.len().min("sha256:".len() + 12)]
}

/// `headway describe`: the plugin's declaration, readable.
fn describe(dir: &Path) -> Result<()> {
    let (tenant, plugin) = load_tenant(dir)?;
    output::describe(
        std::io::stdout().lock(),
        &tenant,
        plugin.info(),
        plugin.plugin_ref(),
    )?;
    Ok(())
}

/// `headway sample`: a deterministic sample book.
fn sample(book: SampleBook, count: usize, seed: u64, output: Option<&Path>) -> Result<()> {
    let book = match book {
        SampleBook::Saas => Book::Saas,
        SampleBook::Logistics => Book::Logistics,
    };
    let text = headway_samples::to_jsonl(&headway_samples::generate(book, count, seed));
    match output {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("cannot write `{}`", path.display()))?,
        None => {
            use std::io::Write;
            std::io::stdout().lock().write_all(text.as_bytes())?;
        }
    }
    Ok(())
}
