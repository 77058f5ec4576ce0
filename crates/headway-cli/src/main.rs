//! `headway`: score a tenant's accounts through its rules plugin.
//!
//! `main` parses the command line and dispatches to one function per subcommand;
//! the work lives in the library crates.

mod author;
mod output;
mod score;
mod serve;
mod success;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use headway_core::{Date, InputDefaults, ParsedAccounts};
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
    /// Scaffold a plugin crate that builds and passes its own fixtures.
    New {
        /// The plugin's name (lowercase, dashes).
        name: String,
        /// Starting point.
        #[arg(long, value_enum, default_value_t = author::Template::Saas)]
        template: author::Template,
        /// Where to create it (default: ./<name>).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Path to headway-pdk (default: `HEADWAY_PDK`, else the source tree this
        /// binary was built from).
        #[arg(long, env = "HEADWAY_PDK")]
        pdk: Option<PathBuf>,
    },
    /// Build a plugin crate for wasm32-wasip2 (adding the target if missing) and check it.
    Build {
        /// The plugin crate's folder.
        dir: PathBuf,
    },
    /// Check a plugin component against the contract and the sandbox: contract
    /// version, imports (and which would be refused), describe(), size. Exit 0/1.
    Check {
        /// The component (`.wasm`).
        plugin: PathBuf,
    },
    /// Run golden fixtures through the real sandbox and report pass/fail per case.
    Test {
        /// A tenant folder: its plugin, limits, config and `fixtures.jsonl`.
        #[arg(long)]
        tenant: Option<PathBuf>,
        /// A plugin component, when testing without a tenant folder.
        #[arg(conflicts_with = "tenant")]
        plugin: Option<PathBuf>,
        /// The fixtures file (default: `<tenant>/fixtures.jsonl`).
        #[arg(long)]
        fixtures: Option<PathBuf>,
    },
    /// Show one account's score factor by factor, its milestones and the plugin's log.
    Explain {
        /// The tenant folder.
        #[arg(long)]
        tenant: PathBuf,
        /// The account id.
        #[arg(long)]
        account: String,
        /// The accounts file holding it.
        accounts: PathBuf,
    },
    /// Show what a tenant's plugin declares: bands, factors, milestones, upsells.
    Describe {
        /// The tenant folder (holding tenant.toml).
        #[arg(long)]
        tenant: PathBuf,
    },
    /// One account's snapshots over time and its Success Vector (health, velocity,
    /// direction, course toward each milestone).
    History {
        #[command(flatten)]
        store: success::StoreArgs,
        /// The account id.
        #[arg(long)]
        account: String,
    },
    /// Milestone cohorts expected within a horizon and the expansion ARR they
    /// predict (cohort x upsell ARR x take rate).
    Forecast {
        #[command(flatten)]
        store: success::StoreArgs,
        /// How far ahead: `30d`, `90d`, `12w`.
        #[arg(long, value_parser = success::parse_days, default_value = "90d")]
        horizon: i32,
        /// Table output: accounts listed per milestone, soonest first.
        #[arg(long, default_value_t = 5)]
        show: usize,
    },
    /// How well stored scores predicted churn and expansion (ROC AUC, lowest-band
    /// precision and recall, churn by band); every stored build side by side.
    Backtest {
        #[command(flatten)]
        store: success::StoreArgs,
        /// What happened: a revenue ledger (the `headway retention` format).
        #[arg(long)]
        outcomes: PathBuf,
        /// Churn or expansion counts within this many days after a snapshot.
        #[arg(long, value_parser = success::parse_days, default_value = "90d")]
        horizon: i32,
        /// The ledger's `arr` column holds monthly revenue.
        #[arg(long)]
        mrr: bool,
    },
    /// Serve every tenant of a directory over HTTP, reloading a tenant's rules when
    /// its files change (see docs/openapi.json).
    Serve(serve::ServeArgs),
    /// Revenue and retention metrics (NRR, GRR, churn, renewals, trials, surveys)
    /// from a revenue ledger, per period.
    Retention(RetentionArgs),
    /// Write a deterministic sample book: accounts (JSON Lines), or its revenue
    /// ledger or survey answers (CSV).
    Sample {
        /// Which example book.
        #[arg(value_enum)]
        book: SampleBook,
        /// What to write.
        #[arg(long, value_enum, default_value_t = SampleWhat::Accounts)]
        what: SampleWhat,
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
    /// Record every scored account as a snapshot in this history store (SQLite,
    /// created if missing). Re-scoring a day with the same plugin build is
    /// idempotent; another build's snapshots are kept beside.
    #[arg(long)]
    store: Option<PathBuf>,
    /// Score with this plugin component instead of the tenant's (shadow scoring:
    /// try a new rule version on the same data, then compare with `backtest`).
    #[arg(long)]
    plugin: Option<PathBuf>,
}

#[derive(clap::Args)]
struct RetentionArgs {
    /// Revenue ledger: `.csv` (header row) or `.jsonl`; see the README for columns.
    ledger: PathBuf,
    /// Survey answers (`account_id,date,kind,score`), `.csv` or `.jsonl`.
    #[arg(long)]
    surveys: Option<PathBuf>,
    /// Period length.
    #[arg(long, value_enum, default_value_t = Period::Month)]
    period: Period,
    /// One row per segment and period.
    #[arg(long)]
    segment: bool,
    /// First day to cover (default: the first row).
    #[arg(long)]
    from: Option<Date>,
    /// Last day to cover (default: the last row).
    #[arg(long)]
    to: Option<Date>,
    /// The `arr` column holds monthly revenue (multiplied by 12).
    #[arg(long)]
    mrr: bool,
    /// Print the signup-cohort retention matrix instead.
    #[arg(long)]
    cohorts: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

#[derive(Clone, Copy, ValueEnum)]
enum Period {
    Month,
    Quarter,
    Year,
}

#[derive(Clone, Copy, ValueEnum)]
enum SampleWhat {
    /// The book today (JSON Lines).
    Accounts,
    /// The book today with only ids, stages, ARR, dates and current measures
    /// (about 200 bytes an account): for benchmarks at any size.
    Measures,
    /// A year of ARR changes, former customers included (CSV).
    Ledger,
    /// A quarter of NPS and CSAT answers (CSV).
    Surveys,
    /// The book on the first of each of the last 12 months (JSON Lines): score it
    /// with `--store` to fill a history.
    History,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
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
        Command::Score(args) => score::score(&args),
        Command::Describe { tenant } => describe(&tenant).map(|()| ExitCode::SUCCESS),
        Command::Retention(args) => retention(&args).map(|()| ExitCode::SUCCESS),
        Command::Serve(args) => serve::serve(args).map(|()| ExitCode::SUCCESS),
        Command::History { store, account } => {
            success::history(&store, &account).map(|()| ExitCode::SUCCESS)
        }
        Command::Forecast {
            store,
            horizon,
            show,
        } => success::forecast(&store, horizon, show).map(|()| ExitCode::SUCCESS),
        Command::Backtest {
            store,
            outcomes,
            horizon,
            mrr,
        } => success::backtest_cmd(&store, &outcomes, horizon, mrr).map(|()| ExitCode::SUCCESS),
        Command::New {
            name,
            template,
            dir,
            pdk,
        } => {
            author::new(&name, template, dir.as_deref(), pdk.as_deref()).map(|()| ExitCode::SUCCESS)
        }
        Command::Build { dir } => author::build(&dir),
        Command::Check { plugin } => author::check(&plugin),
        Command::Test {
            tenant,
            plugin,
            fixtures,
        } => author::test(tenant.as_deref(), plugin.as_deref(), fixtures.as_deref()),
        Command::Explain {
            tenant,
            account,
            accounts,
        } => author::explain(&tenant, &account, &accounts).map(|()| ExitCode::SUCCESS),
        Command::Sample {
            book,
            what,
            count,
            seed,
            output,
        } => sample(book, what, count, seed, output.as_deref()).map(|()| ExitCode::SUCCESS),
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
        eprintln!("error: {}", output::terminal_safe(&format!("{e:#}")));
        ExitCode::from(1)
    })
}

/// Exit code when some accounts could not be scored (the rest were).
const EXIT_PARTIAL: u8 = 2;

pub(crate) fn load_tenant(dir: &Path) -> Result<(TenantConfig, Plugin)> {
    load_tenant_with(dir, None)
}

/// The tenant's config (limits, config values, capabilities), with its own plugin
/// or `plugin` instead.
fn load_tenant_with(dir: &Path, plugin: Option<&Path>) -> Result<(TenantConfig, Plugin)> {
    let mut tenant = TenantConfig::load(dir)?;
    if let Some(plugin) = plugin {
        tenant.plugin = plugin.to_owned();
    }
    let mut runtime = Runtime::new().context("cannot start the plugin runtime")?;
    if let Some(dir) = artifact_cache_dir() {
        runtime = runtime.with_artifact_cache(dir);
    }
    let plugin = headway_host::read_plugin(&tenant.plugin)
        .and_then(|bytes| runtime.load_tenant(&tenant, &bytes))
        .with_context(|| format!("tenant `{}`", tenant.id))?;
    Ok((tenant, plugin))
}

/// Where commands keep compiled plugins between runs, so a run deserializes a
/// plugin (milliseconds) instead of compiling it (a third of a second, seconds
/// for a Python plugin): `HEADWAY_CACHE_DIR`, else `$XDG_CACHE_HOME/headway`, else
/// `~/.cache/headway`. `HEADWAY_CACHE_DIR=` (empty) turns it off.
fn artifact_cache_dir() -> Option<PathBuf> {
    let var = |name| std::env::var_os(name).map(PathBuf::from);
    match var("HEADWAY_CACHE_DIR") {
        Some(dir) if dir.as_os_str().is_empty() => None,
        Some(dir) => Some(dir),
        None => var("XDG_CACHE_HOME")
            .filter(|d| d.is_absolute())
            .or_else(|| var("HOME").map(|home| home.join(".cache")))
            .map(|d| d.join("headway")),
    }
}

/// A data file's name for messages, its text, and whether it is CSV (else JSON Lines).
pub(crate) fn read_data(path: &Path) -> Result<(String, String, bool)> {
    let name = path.display().to_string();
    let csv = match path.extension().and_then(|e| e.to_str()) {
        Some("csv") => true,
        Some("jsonl" | "ndjson" | "json") => false,
        _ => bail!("`{name}`: unknown format; use a .jsonl or .csv file"),
    };
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read `{name}`"))?;
    Ok((name, text, csv))
}

fn read_accounts(path: &Path, defaults: &InputDefaults) -> Result<ParsedAccounts> {
    let (name, text, csv) = read_data(path)?;
    Ok(if csv {
        headway_core::parse_csv(&name, &text, defaults)
    } else {
        headway_core::parse_jsonl(&name, &text, defaults)
    })
}

pub(crate) fn short_digest(digest: &str) -> &str {
    &digest[..digest.len().min("sha256:".len() + 12)]
}

/// `headway describe`: the plugin's declaration, readable.
fn describe(dir: &Path) -> Result<()> {
    let (tenant, plugin) = load_tenant(dir)?;
    output::describe(
        output::human_stdout(),
        &tenant,
        plugin.info(),
        plugin.plugin_ref(),
    )?;
    Ok(())
}

/// `headway retention`: ledger (and surveys) in, metrics per period out.
fn retention(args: &RetentionArgs) -> Result<()> {
    use headway_core::retention::{
        Ledger, PeriodKind, RetentionQuery, parse_ledger, parse_surveys,
    };
    let fail = |errors: Vec<headway_core::InputError>| {
        for e in &errors {
            eprintln!("error: {e}");
        }
        anyhow::anyhow!(
            "{} bad rows; nothing computed (fix them: metrics on partial data mislead)",
            errors.len()
        )
    };
    let (name, text, csv) = read_data(&args.ledger)?;
    let ledger = Ledger::new(parse_ledger(&name, &text, csv, args.mrr).map_err(fail)?);
    let surveys = match &args.surveys {
        Some(path) => {
            let (name, text, csv) = read_data(path)?;
            parse_surveys(&name, &text, csv).map_err(fail)?
        }
        None => Vec::new(),
    };
    let out = std::io::BufWriter::new(std::io::stdout().lock());
    if args.cohorts {
        let rows = headway_core::retention::cohorts_between(&ledger, args.from, args.to);
        return match args.format {
            Format::Json => Ok(serde_json::to_writer_pretty(out, &rows)?),
            Format::Csv => output::cohorts_csv(out, &rows),
            Format::Table => Ok(output::cohorts_table(
                output::TerminalSafe::new(out),
                &rows,
            )?),
        };
    }
    let query = RetentionQuery {
        period: match args.period {
            Period::Month => PeriodKind::Month,
            Period::Quarter => PeriodKind::Quarter,
            Period::Year => PeriodKind::Year,
        },
        from: args.from,
        to: args.to,
        by_segment: args.segment,
    };
    let metrics = headway_core::retention::retention(&ledger, &surveys, &query);
    match args.format {
        Format::Json => {
            let mut out = out;
            serde_json::to_writer_pretty(&mut out, &metrics)?;
            use std::io::Write;
            writeln!(out)?;
        }
        Format::Csv => output::retention_csv(out, &metrics)?,
        Format::Table => {
            output::retention_table(output::TerminalSafe::new(out), &metrics, args.segment)?
        }
    }
    Ok(())
}

/// `headway sample`: a deterministic sample book, its ledger or its surveys.
fn sample(
    book: SampleBook,
    what: SampleWhat,
    count: usize,
    seed: u64,
    output: Option<&Path>,
) -> Result<()> {
    use std::io::Write;
    let book = match book {
        SampleBook::Saas => Book::Saas,
        SampleBook::Logistics => Book::Logistics,
    };
    let mut out: Box<dyn Write> = match output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot write `{}`", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    // Accounts stream one at a time, so a book of any size fits; the rest
    // derive from the whole book.
    let accounts = headway_samples::accounts(book, seed).take(count);
    match what {
        SampleWhat::Accounts => {
            for a in accounts {
                headway_samples::write_jsonl(&mut out, [&a])?;
            }
        }
        SampleWhat::Measures => headway_samples::write_measures_jsonl(&mut out, accounts)?,
        SampleWhat::Ledger => {
            let rows = headway_samples::ledger(book, &accounts.collect::<Vec<_>>(), seed);
            out.write_all(headway_samples::ledger_csv(&rows).as_bytes())?;
        }
        SampleWhat::Surveys => {
            let rows = headway_samples::surveys(&accounts.collect::<Vec<_>>(), seed);
            out.write_all(headway_samples::surveys_csv(&rows).as_bytes())?;
        }
        SampleWhat::History => {
            let books = headway_samples::monthly_books(book, &accounts.collect::<Vec<_>>(), seed);
            headway_samples::write_jsonl(&mut out, &books)?;
        }
    }
    out.flush().with_context(|| {
        format!(
            "cannot write `{}`",
            output.unwrap_or(Path::new("-")).display()
        )
    })?;
    Ok(())
}
