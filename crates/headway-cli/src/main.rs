//! `headway`: score a tenant's accounts through its rules plugin.
//!
//! `main` parses the command line and dispatches to one function per subcommand;
//! the work lives in the library crates.

mod author;
mod decisions;
mod output;
mod publish;
mod retention;
mod sample;
mod score;
mod serve;
mod stored;

use headway_store::StoreLocation;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use headway_core::{Date, InputDefaults, ParsedAccounts};
use headway_host::{Plugin, Runtime, TenantConfig};

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
    /// Publish a plugin build to every server sharing a PostgreSQL store.
    Publish(publish::PublishArgs),
    /// Scaffold a plugin crate that builds and passes its own fixtures.
    New {
        /// The plugin's name (lowercase, dashes).
        name: String,
        /// Starting point.
        #[arg(long, value_enum, default_value_t = author::Template::Saas)]
        template: author::Template,
        /// The language: a Rust crate, Python (built with componentize-py) or
        /// JavaScript (built with componentize-js).
        #[arg(long, value_enum, default_value_t = author::Lang::Rust)]
        lang: author::Lang,
        /// Where to create it (default: ./<name>).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Path to headway-pdk (default: `HEADWAY_PDK`, else the source tree this
        /// binary was built from).
        #[arg(long, env = "HEADWAY_PDK")]
        pdk: Option<PathBuf>,
    },
    /// Build a plugin and check it: a Rust crate for wasm32-wasip2 (adding the
    /// target if missing), or a Python plugin (a folder with app.py) with componentize-py.
    Build {
        /// The plugin's folder.
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
        store: stored::StoreArgs,
        /// The account id.
        #[arg(long)]
        account: String,
    },
    /// Set or clear a CSM's override of one account's factor score or band,
    /// with an author, a reason and an expiry; with none of --factor, --band
    /// and --clear, list the account's overrides and every change to them.
    Override(stored::OverrideArgs),
    /// What the tenant's `[[alerts]]` rules fired when runs were recorded,
    /// newest first.
    Alerts {
        #[command(flatten)]
        store: stored::StoreArgs,
        /// Only alerts of this day or later.
        #[arg(long)]
        since: Option<headway_core::Date>,
        /// Only alerts whose delivery is `pending`, `delivered` or `dead`.
        #[arg(long)]
        status: Option<headway_store::AlertStatus>,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Milestone arrivals expected within a horizon and the expansion ARR they
    /// predict (arrivals x upsell ARR x take rate).
    Forecast {
        #[command(flatten)]
        store: stored::StoreArgs,
        /// How far ahead: `30d`, `90d`, `12w`.
        #[arg(long, value_parser = stored::parse_days, default_value = "90d")]
        horizon: i32,
        /// Table output: accounts listed per milestone, soonest first.
        #[arg(long, default_value_t = 5)]
        show: usize,
    },
    /// How well stored scores predicted churn and expansion (ROC AUC, lowest-band
    /// precision and recall, churn by band); every stored build side by side.
    Backtest {
        #[command(flatten)]
        store: stored::StoreArgs,
        #[command(flatten)]
        outcomes: stored::OutcomesArgs,
    },
    /// Fit the factor weights that would have ranked churn best: fitted on the
    /// earlier snapshot days, judged against the current weights on the later
    /// ones, with a 95% interval; says plainly when the proposal is not better.
    Tune {
        #[command(flatten)]
        store: stored::StoreArgs,
        #[command(flatten)]
        outcomes: stored::OutcomesArgs,
        /// The share of snapshot days, the latest, held out for judging.
        #[arg(long, default_value_t = 1.0 / 3.0)]
        holdout: f64,
    },
    /// The decision log, newest first: every recorded run and API scoring, who
    /// asked, which build answered, digests of input and output.
    Decisions {
        #[command(flatten)]
        log: decisions::LogArgs,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Score a logged input again: on the build that served it (the output
    /// must match byte for byte; exit 1 when not), on the tenant's current
    /// build (what the rules changed), and with --from, what moved since an
    /// earlier decision, split into rules and customer.
    Replay {
        #[command(flatten)]
        log: decisions::LogArgs,
        /// The decision (see `headway decisions`).
        id: i64,
        /// An earlier decision with a kept input: split each account's move
        /// since then into what the rules and what the customer caused.
        #[arg(long)]
        from: Option<i64>,
        /// Table output: list at most this many accounts.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Serve every tenant of a directory over HTTP, reloading a tenant's rules when
    /// its files change (see docs/openapi.json).
    Serve(serve::ServeArgs),
    /// Revenue and retention metrics (NRR, GRR, churn, renewals, trials, surveys)
    /// from a revenue ledger, per period.
    Retention(retention::RetentionArgs),
    /// Write a deterministic sample book: accounts (JSON Lines), or its revenue
    /// ledger or survey answers (CSV).
    Sample(sample::SampleArgs),
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
    /// Record every scored account as a snapshot in this history store: a
    /// SQLite file (created if missing) or a postgres:// URL. Re-scoring a day
    /// with the same plugin build is idempotent; another build's snapshots are
    /// kept beside.
    #[arg(long, value_parser = StoreLocation::parse)]
    store: Option<StoreLocation>,
    /// Score with this plugin component instead of the tenant's (shadow scoring:
    /// try a new rule version on the same data, then compare with `backtest`).
    #[arg(long)]
    plugin: Option<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    Table,
    Json,
    Csv,
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
        Command::Publish(args) => publish::publish(&args).map(|()| Exit::Success),
        Command::Describe { tenant } => describe(&tenant).map(|()| Exit::Success),
        Command::Retention(args) => retention::retention(&args).map(|()| Exit::Success),
        Command::Serve(args) => serve::serve(args).map(|()| Exit::Success),
        Command::History { store, account } => {
            stored::history(&store, &account).map(|()| Exit::Success)
        }
        Command::Override(args) => stored::change_override(&args).map(|()| Exit::Success),
        Command::Alerts {
            store,
            since,
            status,
            limit,
        } => {
            let query = headway_store::AlertQuery {
                since,
                status,
                limit,
            };
            stored::alerts(&store, &query).map(|()| Exit::Success)
        }
        Command::Forecast {
            store,
            horizon,
            show,
        } => stored::forecast(&store, horizon, show).map(|()| Exit::Success),
        Command::Backtest { store, outcomes } => {
            stored::backtest_cmd(&store, &outcomes).map(|()| Exit::Success)
        }
        Command::Tune {
            store,
            outcomes,
            holdout,
        } => stored::tune_cmd(&store, &outcomes, holdout).map(|()| Exit::Success),
        Command::New {
            name,
            template,
            lang,
            dir,
            pdk,
        } => author::new(&name, template, lang, dir.as_deref(), pdk.as_deref())
            .map(|()| Exit::Success),
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
        } => author::explain(&tenant, &account, &accounts).map(|()| Exit::Success),
        Command::Sample(args) => sample::sample(&args).map(|()| Exit::Success),
        Command::Decisions { log, limit } => decisions::list(&log, limit).map(|()| Exit::Success),
        Command::Replay {
            log,
            id,
            from,
            limit,
        } => decisions::replay(&log, id, from, limit),
    };
    let exit = outcome.unwrap_or_else(|e| {
        // `headway score ... | head` closing the pipe early is not an error.
        let closed_pipe = e
            .chain()
            .filter_map(|c| c.downcast_ref::<std::io::Error>())
            .any(|io| io.kind() == std::io::ErrorKind::BrokenPipe);
        if closed_pipe {
            return Exit::Success;
        }
        eprintln!("error: {}", output::terminal_safe(&format!("{e:#}")));
        Exit::Failure
    });
    exit.into()
}

/// How a command ended, as its exit code tells scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exit {
    /// 0: done.
    Success,
    /// 1: not done (an error, a plugin refused, a fixture failed).
    Failure,
    /// 2: some accounts could not be scored; the rest were.
    Partial,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        match exit {
            Exit::Success => ExitCode::SUCCESS,
            Exit::Failure => ExitCode::from(1),
            Exit::Partial => ExitCode::from(2),
        }
    }
}

pub(crate) fn load_tenant(dir: &Path) -> Result<(TenantConfig, Plugin)> {
    load_tenant_with(dir, None)
}

/// The tenant's config (limits, config values, capabilities), with its own plugin
/// or `plugin` instead.
fn load_tenant_with(dir: &Path, plugin: Option<&Path>) -> Result<(TenantConfig, Plugin)> {
    let mut tenant = headway_host::load_tenant_config(dir)?;
    if let Some(plugin) = plugin {
        tenant.plugin = plugin.to_owned();
    }
    let runtime = plugin_runtime()?;
    let plugin = headway_host::read_plugin(&tenant.plugin)
        .and_then(|bytes| runtime.load_tenant(&tenant, &bytes))
        .with_context(|| format!("tenant `{}`", tenant.id))?;
    Ok((tenant, plugin))
}

/// The plugin runtime of a command, with the compiled-plugin cache.
pub(crate) fn plugin_runtime() -> Result<Runtime> {
    let runtime = Runtime::new().context("cannot start the plugin runtime")?;
    Ok(match artifact_cache_dir() {
        Some(dir) => runtime.with_artifact_cache(dir),
        None => runtime,
    })
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
