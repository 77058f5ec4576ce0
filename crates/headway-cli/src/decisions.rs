//! `headway decisions` and `headway replay`: the decision log that every
//! recorded run and every API scoring writes, and scoring a logged input again.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result, bail};
use headway_core::replay::{self, Change, Moved};
use headway_host::{LoadOptions, Plugin};
use headway_store::{Decision, SnapshotStore, StoreLocation};
use serde::Serialize;

use crate::output::{Align::*, Table, human_stdout, opt, or_dash};
use crate::stored::print_json;
use crate::{Exit, Format, short_digest};

/// The log's store and tenant.
#[derive(clap::Args)]
pub struct LogArgs {
    /// The history store holding the log: a SQLite file or a postgres:// URL.
    #[arg(long, default_value = "headway.db", value_parser = StoreLocation::parse)]
    store: StoreLocation,
    /// The tenant: its folder (holding tenant.toml; replay then also scores
    /// with its current build) or its id.
    #[arg(long)]
    tenant: String,
    /// Output format (table or json).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

struct Opened {
    store: Box<dyn SnapshotStore>,
    tenant: String,
    /// The tenant's current build, when `--tenant` is a folder.
    current: Option<Plugin>,
}

impl LogArgs {
    fn open(&self, load_current: bool) -> Result<Opened> {
        if self.format == Format::Csv {
            bail!("decisions and replay print a table or JSON (--format table|json)");
        }
        if !self.store.exists() {
            bail!("no history store at `{}`", self.store);
        }
        let dir = Path::new(&self.tenant);
        let (tenant, current) = if !dir.join("tenant.toml").is_file() {
            (self.tenant.clone(), None)
        } else if load_current {
            let (config, plugin) = crate::load_tenant(dir)?;
            (config.id, Some(plugin))
        } else {
            (headway_host::load_tenant_config(dir)?.id, None)
        };
        Ok(Opened {
            store: self.store.open()?,
            tenant,
            current,
        })
    }
}

/// `headway decisions`: the newest `limit` decisions, newest first.
pub fn list(args: &LogArgs, limit: usize) -> Result<()> {
    let opened = args.open(false)?;
    let decisions = opened.store.decisions(&opened.tenant, None, limit)?;
    if args.format == Format::Json {
        return print_json(&decisions);
    }
    let mut table = Table::new([
        ("ID", Right),
        ("AT", Left),
        ("CALLER", Left),
        ("BUILD", Left),
        ("RUN", Right),
        ("INPUT", Left),
        ("RECORDS", Right),
        ("FAILED", Right),
        ("KEPT", Left),
    ]);
    for d in &decisions {
        table.row([
            d.id.to_string(),
            d.at.clone(),
            d.caller.clone(),
            format!("{} {}", d.plugin.name, d.plugin.version),
            or_dash(d.run, |r| r.to_string()),
            format!("{} {}", d.input.as_str(), short_digest(&d.input_digest)),
            d.records.to_string(),
            d.failed.to_string(),
            match (d.input_kept, d.masked.is_empty()) {
                (false, _) => "no".to_owned(),
                (true, true) => "yes".to_owned(),
                (true, false) => format!("masked: {}", d.masked.join(", ")),
            },
        ]);
    }
    let mut out = human_stdout();
    table.write(&mut out)?;
    if decisions.is_empty() {
        writeln!(out, "no decisions logged for `{}`", opened.tenant)?;
    }
    Ok(out.flush()?)
}

/// A logged input scored again on one build.
struct Rescored {
    build: String,
    digest: String,
    outcomes: Vec<replay::Outcome>,
}

/// What `headway replay --format json` prints.
#[derive(Serialize)]
struct ReplayReport<'a> {
    decision: &'a Decision,
    /// The served build's output digest on replay.
    replayed_digest: &'a str,
    /// True when it equals the logged one.
    reproduced: bool,
    /// The current build's key, when it was scored with too.
    current_build: Option<&'a str>,
    /// Accounts the current build scores differently.
    changes: &'a [Change],
    /// With `--from`: every account's move since that decision, by cause.
    moved: Option<&'a [Moved]>,
}

/// `headway replay`: the logged input on the build that served it (which must
/// give the logged output byte for byte), on the tenant's current build, and
/// with `from`, what moved since an earlier decision.
pub fn replay(args: &LogArgs, id: i64, from: Option<i64>, limit: usize) -> Result<Exit> {
    let opened = args.open(true)?;
    let store = &*opened.store;
    let decision = logged(store, &opened.tenant, id)?;
    let input = kept_input(store, &decision)?;
    let served = kept_build(store, &decision)?;
    let replayed = rescore(&decision, &input, &served)?;
    let reproduced = replayed.digest == decision.output_digest;
    let current = opened
        .current
        .as_ref()
        .filter(|c| c.build_key() != decision.build);
    let on_current = current
        .map(|plugin| rescore(&decision, &input, plugin))
        .transpose()?;
    let changes = on_current
        .as_ref()
        .map(|c| replay::changes(&replayed.outcomes, &c.outcomes))
        .unwrap_or_default();
    let moved = from
        .map(|earlier| -> Result<Vec<Moved>> {
            let before = logged(store, &opened.tenant, earlier)?;
            let old_input = kept_input(store, &before)?;
            let bridge = rescore(&before, &old_input, &served)?;
            // One build served both: the old input on it is the bridge itself.
            let old = if before.build == decision.build {
                bridge.outcomes.clone()
            } else {
                rescore(&before, &old_input, &kept_build(store, &before)?)?.outcomes
            };
            Ok(replay::what_moved(
                &old,
                &bridge.outcomes,
                &replayed.outcomes,
            ))
        })
        .transpose()?;
    if args.format == Format::Json {
        print_json(&ReplayReport {
            decision: &decision,
            replayed_digest: &replayed.digest,
            reproduced,
            current_build: on_current.as_ref().map(|c| c.build.as_str()),
            changes: &changes,
            moved: moved.as_deref(),
        })?;
    } else {
        let mut out = human_stdout();
        report(&mut out, &decision, &replayed, reproduced)?;
        match (&opened.current, &on_current) {
            (None, _) => writeln!(
                out,
                "(give the tenant's folder as --tenant to compare with its current build)"
            )?,
            (Some(_), None) => writeln!(out, "the tenant's current build is the one that served")?,
            (Some(_), Some(c)) => changes_table(&mut out, c, &changes, limit)?,
        }
        if let Some(moved) = &moved {
            moved_table(&mut out, from.unwrap_or_default(), id, moved, limit)?;
        }
        out.flush()?;
    }
    Ok(if reproduced {
        Exit::Success
    } else {
        Exit::Failure
    })
}

fn logged(store: &dyn SnapshotStore, tenant: &str, id: i64) -> Result<Decision> {
    store.decision(tenant, id)?.with_context(|| {
        format!("tenant `{tenant}` has no decision {id} (see `headway decisions`)")
    })
}

/// A decision's kept input, uncompressed.
fn kept_input(store: &dyn SnapshotStore, decision: &Decision) -> Result<Vec<u8>> {
    let id = decision.id;
    if !decision.input_kept {
        bail!(
            "decision {id} kept no input: replay needs `[history] keep_inputs = true` in tenant.toml when it is scored"
        );
    }
    let input = store
        .kept_input(&decision.tenant, &decision.input_digest)?
        .with_context(|| format!("decision {id}: its input is missing from the store"))?;
    headway_pipeline::unpack(&input)
        .with_context(|| format!("decision {id}: its kept input is unreadable"))
}

/// The build that served a decision, loaded from the store.
fn kept_build(store: &dyn SnapshotStore, decision: &Decision) -> Result<Plugin> {
    let id = decision.id;
    let build = store
        .kept_build(&decision.tenant, &decision.build)?
        .with_context(|| format!("decision {id}: its build is missing from the store"))?;
    let component = headway_pipeline::unpack(&build.component)
        .with_context(|| format!("decision {id}: its kept build is unreadable"))?;
    let options: LoadOptions = serde_json::from_str(&build.options)
        .with_context(|| format!("decision {id}: its build's load options are unreadable"))?;
    let origin = format!("the build of decision {id}");
    crate::plugin_runtime()?
        .load(&component, &origin, &options)
        .with_context(|| format!("cannot load {origin}"))
}

fn rescore(decision: &Decision, input: &[u8], plugin: &Plugin) -> Result<Rescored> {
    let records = headway_pipeline::rescore(decision, input, plugin)
        .with_context(|| format!("replaying decision {}", decision.id))?;
    Ok(Rescored {
        build: plugin.build_key().to_owned(),
        digest: headway_pipeline::sha256(&records),
        outcomes: headway_pipeline::outcomes(&records),
    })
}

fn report(out: &mut impl Write, d: &Decision, replayed: &Rescored, reproduced: bool) -> Result<()> {
    writeln!(
        out,
        "decision {} of `{}` at {} by {}: {} records ({} failed) from `{}`",
        d.id, d.tenant, d.at, d.caller, d.records, d.failed, d.source
    )?;
    writeln!(
        out,
        "served by {} {} (build {})",
        d.plugin.name,
        d.plugin.version,
        short_digest(&d.build)
    )?;
    if reproduced {
        writeln!(
            out,
            "replayed on that build: the same output, byte for byte ({})",
            short_digest(&replayed.digest)
        )?;
    } else {
        writeln!(
            out,
            "replayed on that build: DIFFERENT output ({} logged, {} now){}",
            short_digest(&d.output_digest),
            short_digest(&replayed.digest),
            if d.masked.is_empty() {
                " - the plugin is not deterministic (is it granted a clock or randomness?)"
                    .to_owned()
            } else {
                format!(
                    " - the kept input was masked ({}): a plugin reading those fields scores it differently",
                    d.masked.join(", ")
                )
            }
        )?;
    }
    Ok(())
}

fn changes_table(
    out: &mut impl Write,
    current: &Rescored,
    changes: &[Change],
    limit: usize,
) -> Result<()> {
    writeln!(
        out,
        "\non the current build ({}): {} of {} accounts score differently",
        short_digest(&current.build),
        changes.len(),
        current.outcomes.len()
    )?;
    let mut table = Table::new([
        ("ACCOUNT", Left),
        ("SCORE THEN", Right),
        ("SCORE NOW", Right),
        ("CHANGE", Right),
        ("BAND", Left),
    ]);
    for c in changes.iter().take(limit) {
        table.row([
            c.account_id.clone(),
            opt(c.score_before, 1),
            opt(c.score_after, 1),
            or_dash(c.delta(), |d| format!("{d:+.1}")),
            format!(
                "{} -> {}",
                c.band_before.as_deref().unwrap_or("-"),
                c.band_after.as_deref().unwrap_or("-")
            ),
        ]);
    }
    table.write(out)?;
    if changes.len() > limit {
        writeln!(out, "... and {} more (--limit)", changes.len() - limit)?;
    }
    Ok(())
}

fn moved_table(
    out: &mut impl Write,
    from: i64,
    to: i64,
    moved: &[Moved],
    limit: usize,
) -> Result<()> {
    let (total, rules, customer, accounts) = replay::moved_totals(moved);
    let mean = |x: f64| x / accounts.max(1) as f64;
    writeln!(
        out,
        "\nwhat moved from decision {from} to {to}, over {accounts} accounts in both: \
         {:+.2} points per account, {:+.2} from the rules, {:+.2} from the customers",
        mean(total),
        mean(rules),
        mean(customer)
    )?;
    let mut table = Table::new([
        ("ACCOUNT", Left),
        ("THEN", Right),
        ("NOW", Right),
        ("CHANGE", Right),
        ("RULES", Right),
        ("CUSTOMER", Right),
    ]);
    let mut biggest: Vec<&Moved> = moved.iter().collect();
    biggest.sort_by(|a, b| {
        let size = |m: &Moved| m.total().map_or(f64::INFINITY, f64::abs);
        size(b).total_cmp(&size(a))
    });
    let signed = |x: Option<f64>| or_dash(x, |d| format!("{d:+.1}"));
    for m in biggest.into_iter().take(limit) {
        table.row([
            m.account_id.clone(),
            opt(m.then, 1),
            opt(m.now, 1),
            signed(m.total()),
            signed(m.rules),
            signed(m.customer),
        ]);
    }
    table.write(out)?;
    if moved.len() > limit {
        writeln!(out, "... and {} more (--limit)", moved.len() - limit)?;
    }
    Ok(())
}
