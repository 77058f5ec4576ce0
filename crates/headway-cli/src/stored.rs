//! `headway history`, `forecast` and `backtest`: the commands over the history
//! store that `headway score --store` fills.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use headway_core::Date;
use headway_core::backtest::Backtest;
use headway_core::moves::Step;
use headway_core::overrides::{Override, Setting, Target};
use headway_core::success::{Basis, Snapshot, SuccessVector};
use headway_core::tune::{Judgement, TuneOptions, Tuning};
use headway_store::{SnapshotStore, StoreLocation, StoredBuild};
use headway_views::{BuildChoice, OverrideRequest, pick_build};

use crate::Format;
use crate::output::{self, money, or_dash};
use crate::output::{Align::*, Table};

/// Where the history lives and whose it is.
#[derive(clap::Args)]
pub struct StoreArgs {
    /// The history store that `headway score --store` fills: a SQLite file or
    /// a postgres:// URL.
    #[arg(long, default_value = "headway.db", value_parser = StoreLocation::parse)]
    store: StoreLocation,
    /// The tenant: its folder (holding tenant.toml) or its id.
    #[arg(long)]
    tenant: String,
    /// Days of history the trends are fitted over (default: the tenant's
    /// `[vector] window_days`, else 90).
    #[arg(long, value_parser = parse_days)]
    window: Option<i32>,
    /// Which plugin build's snapshots to read: a digest or its prefix (default:
    /// the build with the latest snapshot).
    #[arg(long)]
    build: Option<String>,
    /// Output format (table or json).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

/// `30d`, `12w` or a plain number of days.
pub fn parse_days(text: &str) -> Result<i32, String> {
    headway_core::parse_days(text).ok_or_else(|| {
        format!(
            "`{text}` is not a duration: use days like `90d`, weeks like `12w` (up to 10 years)"
        )
    })
}

struct Opened {
    store: Box<dyn SnapshotStore>,
    tenant: String,
    window: i32,
    /// The digest of the tenant's current plugin file, when `--tenant` is a folder.
    current_build: Option<String>,
}

impl StoreArgs {
    fn open(&self) -> Result<Opened> {
        if self.format == Format::Csv {
            bail!("history, forecast and backtest print a table or JSON (--format table|json)");
        }
        if !self.store.exists() {
            bail!(
                "no history store at `{}`: fill one with `headway score --tenant <dir> --store {} <accounts>`",
                self.store,
                self.store
            );
        }
        let dir = Path::new(&self.tenant);
        let (tenant, window, current_build) = if dir.join("tenant.toml").is_file() {
            let config = headway_host::load_tenant_config(dir)?;
            let current = headway_host::read_plugin(&config.plugin)
                .ok()
                .map(|bytes| headway_host::digest(&bytes));
            (config.id, config.vector.window_days as i32, current)
        } else {
            (self.tenant.clone(), 90, None)
        };
        Ok(Opened {
            store: self.store.open()?,
            tenant,
            window: self.window.unwrap_or(window),
            current_build,
        })
    }

    /// The build to read: the one asked for, else the tenant's current plugin if
    /// it has snapshots, else the one with the latest snapshot.
    fn build(&self, opened: &Opened) -> Result<StoredBuild> {
        let choice = match (&self.build, &opened.current_build) {
            (Some(b), _) => BuildChoice::Exactly(b),
            (None, Some(current)) => BuildChoice::Prefer(current),
            (None, None) => BuildChoice::Latest,
        };
        pick_build(&*opened.store, &opened.tenant, choice)
            .with_context(|| format!("in `{}`", self.store))
    }
}

fn build_label(b: &StoredBuild) -> String {
    headway_views::build_label(&b.plugin)
}

fn percent(x: f64) -> String {
    output::percent(x, 0)
}

/// `value` as pretty JSON on standard output.
pub(crate) fn print_json(value: &impl serde::Serialize) -> Result<()> {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    Ok(out.flush()?)
}

/// A ratio to three decimals, or `-`.
fn three(x: Option<f64>) -> String {
    output::opt(x, 3)
}

/// `headway history`: one account over time, and its Success Vector today.
pub fn history(args: &StoreArgs, account: &str) -> Result<()> {
    let opened = args.open()?;
    let build = args.build(&opened)?;
    let view = headway_views::account(
        &*opened.store,
        &opened.tenant,
        account,
        &build,
        opened.window,
    )
    .with_context(|| format!("in `{}`", args.store))?;
    if args.format == Format::Json {
        return print_json(&view);
    }
    let mut out = crate::output::human_stdout();
    let others: BTreeSet<String> = view
        .snapshots
        .iter()
        .filter(|s| s.plugin.digest != build.plugin.digest)
        .map(|s| format!("{} {}", s.plugin.name, s.plugin.version))
        .collect();
    let mine: Vec<&Snapshot> = view.by_build().collect();
    writeln!(
        out,
        "{account} ({}): {} snapshots by {}{}",
        opened.tenant,
        mine.len(),
        build_label(&build),
        if others.is_empty() {
            String::new()
        } else {
            let others: Vec<String> = others.into_iter().collect();
            format!("; also scored by {} (see --build)", others.join(", "))
        }
    )?;
    let mut table = Table::new([
        ("AS OF", Left),
        ("SCORE", Right),
        ("BAND", Left),
        ("NEXT MILESTONE", Left),
    ]);
    for s in &mine {
        let next = s.milestones.iter().find(|m| m.progress < 1.0).map_or_else(
            || "all reached".to_owned(),
            |m| format!("{} {}", m.id, percent(m.progress)),
        );
        table.row([
            s.as_of.to_string(),
            format!("{:.1}", s.score),
            s.band.clone(),
            next,
        ]);
    }
    table.write(&mut out)?;
    if let Some(latest) = mine.last().filter(|s| !s.overrides.is_empty()) {
        writeln!(out, "\nOverrides on {}:", latest.as_of)?;
        for o in &latest.overrides {
            let (was, now) = (setting(&o.was), setting(&o.now));
            writeln!(out, "  {}: {was} -> {now} ({})", o.target, o.note)?;
        }
    }
    write_steps(&mut out, &view.steps)?;
    if let Some(v) = &view.vector {
        writeln!(out)?;
        write_vector(&mut out, v, opened.window, &build)?;
    }
    Ok(out.flush()?)
}

/// Steps shown, the latest; movers shown per step, the largest.
const STEPS_SHOWN: usize = 3;
const MOVERS_SHOWN: usize = 3;

/// What moved the score in the latest steps.
fn write_steps(out: &mut impl Write, steps: &[Step]) -> std::io::Result<()> {
    let latest = &steps[steps.len().saturating_sub(STEPS_SHOWN)..];
    if latest.is_empty() {
        return Ok(());
    }
    writeln!(out, "\nWhat moved:")?;
    for step in latest {
        write!(
            out,
            "  {} -> {}: {:+.1} points",
            step.from, step.to, step.change
        )?;
        match &step.build_changed {
            Some(change) => writeln!(
                out,
                ", rules changed ({} -> {}): not the customer",
                headway_views::build_label(&change.from),
                headway_views::build_label(&change.to)
            )?,
            None => {
                writeln!(out)?;
                for m in step
                    .moves
                    .iter()
                    .filter(|m| m.change.abs() >= 0.05)
                    .take(MOVERS_SHOWN)
                {
                    writeln!(out, "    {}", m.summary)?;
                }
            }
        }
    }
    Ok(())
}

fn write_vector(
    out: &mut impl Write,
    v: &SuccessVector,
    window: i32,
    build: &StoredBuild,
) -> std::io::Result<()> {
    writeln!(
        out,
        "Success Vector on {} ({}-day window, {}):",
        v.as_of,
        window,
        build_label(build)
    )?;
    writeln!(
        out,
        "  health {:.1}, velocity {}, {}",
        v.magnitude,
        or_dash(v.velocity, |x| format!("{x:+.1} points per 30 days")),
        or_dash(v.direction, |d| d.as_str().to_owned())
    )?;
    let mut table = Table::new([("", Left), ("", Right), ("", Left), ("", Left)]).indented(2);
    for m in &v.milestones {
        let when = match (m.basis, m.expected_on) {
            (Basis::Reached, Some(d)) => format!("reached {d}"),
            (Basis::Plugin, Some(d)) => format!("expected {d} (plugin's prediction)"),
            (Basis::Trend, Some(d)) => format!("expected {d} (progress trend)"),
            _ => "expected date unknown (flat or too little history)".to_owned(),
        };
        table.row([
            m.id.clone(),
            percent(m.progress),
            when,
            or_dash(m.likelihood, |l| {
                format!("upsell likelihood {}", percent(l))
            }),
        ]);
    }
    table.write(out)
}

/// `headway forecast`: milestone arrivals within the horizon and the expansion ARR.
pub fn forecast(args: &StoreArgs, horizon: i32, shown: usize) -> Result<()> {
    let opened = args.open()?;
    let build = args.build(&opened)?;
    let view = headway_views::forecast(
        &*opened.store,
        &opened.tenant,
        &build,
        opened.window,
        horizon,
    )?;
    if args.format == Format::Json {
        return print_json(&view);
    }
    let f = &view.forecast;
    let mut out = crate::output::human_stdout();
    writeln!(
        out,
        "Expansion forecast for {}: {} accounts on {}, milestones reached by {} ({} days); {}",
        opened.tenant,
        view.accounts,
        f.as_of,
        f.as_of.add_days(horizon),
        horizon,
        build_label(&build)
    )?;
    let mut table = Table::new([
        ("MILESTONE", Left),
        ("ARRIVALS", Right),
        ("UPSELL", Left),
        ("UPSELL ARR", Right),
        ("TAKE", Right),
        ("EXPECTED ARR", Right),
    ]);
    for m in &f.milestones {
        let upsell = m.upsell.as_ref();
        table.row([
            m.milestone.clone(),
            m.arrivals.to_string(),
            upsell.map_or("-", String::as_str).to_owned(),
            or_dash(upsell, |_| money(m.upsell_arr)),
            or_dash(upsell, |_| percent(m.take_rate)),
            money(m.expected_arr),
        ]);
    }
    table.row(["TOTAL", "", "", "", "", &money(f.total_expected_arr)]);
    table.write(&mut out)?;
    let from = view.expected_from;
    writeln!(
        out,
        "Arrival dates: {} from the plugin's own prediction, {} from progress trends, {} unknown.",
        from.plugin, from.trend, from.unknown
    )?;
    for m in f.milestones.iter().filter(|m| m.arrivals > 0 && shown > 0) {
        let listed: Vec<&str> = m.accounts.iter().take(shown).map(String::as_str).collect();
        let more = m.arrivals.saturating_sub(shown);
        writeln!(
            out,
            "  {} soonest: {}{}",
            m.milestone_id,
            listed.join(", "),
            if more > 0 {
                format!(" (+{more} more)")
            } else {
                String::new()
            }
        )?;
    }
    Ok(out.flush()?)
}

/// `headway backtest`: how well each stored build's scores predicted churn and
/// expansion, on the snapshots every build has (so builds compare fairly).
/// What happened after the snapshots, for `backtest` and `tune`.
#[derive(clap::Args)]
pub struct OutcomesArgs {
    /// What happened: a revenue ledger (the `headway retention` format).
    #[arg(long)]
    outcomes: PathBuf,
    /// Churn or expansion counts within this many days after a snapshot.
    #[arg(long, value_parser = parse_days, default_value = "90d")]
    horizon: i32,
    /// The ledger's `arr` column holds monthly revenue.
    #[arg(long)]
    mrr: bool,
}

impl OutcomesArgs {
    /// The ledger; every bad row printed, and none used if any is bad.
    fn ledger(&self) -> Result<headway_core::retention::Ledger> {
        let (name, text, csv) = crate::read_data(&self.outcomes)?;
        let rows = headway_core::retention::parse_ledger(&name, &text, csv, self.mrr).map_err(
            |errors| {
                for e in &errors {
                    eprintln!("error: {e}");
                }
                anyhow::anyhow!("{}: {} bad rows; nothing judged", name, errors.len())
            },
        )?;
        Ok(headway_core::retention::Ledger::new(rows))
    }
}

pub fn backtest_cmd(args: &StoreArgs, outcomes: &OutcomesArgs) -> Result<()> {
    let opened = args.open()?;
    let ledger = outcomes.ledger()?;
    let horizon = outcomes.horizon;
    let builds = match &args.build {
        Some(_) => vec![args.build(&opened)?],
        None => opened.store.builds(&opened.tenant)?,
    };
    if builds.is_empty() {
        bail!(
            "`{}` has no snapshots of tenant `{}`",
            args.store,
            opened.tenant
        );
    }
    let results = headway_views::backtests(
        &*opened.store,
        &opened.tenant,
        &builds,
        &ledger,
        horizon,
        opened.window,
    )?;
    if args.format == Format::Json {
        return print_json(&results);
    }
    let mut out = crate::output::human_stdout();
    write_backtests(&mut out, &opened.tenant, &builds, &results, horizon)?;
    Ok(out.flush()?)
}

/// `headway tune`: weights fitted on the build's earlier snapshot days, judged
/// against the current ones on the later days.
pub fn tune_cmd(args: &StoreArgs, outcomes: &OutcomesArgs, holdout: f64) -> Result<()> {
    let opened = args.open()?;
    let ledger = outcomes.ledger()?;
    let options = TuneOptions {
        horizon_days: outcomes.horizon,
        holdout,
        ..TuneOptions::default()
    };
    let build = args.build(&opened)?;
    let snapshots = opened
        .store
        .snapshots(&opened.tenant, &build.plugin.digest)
        .with_context(|| format!("in `{}`", args.store))?;
    let tuning = headway_core::tune::tune(&snapshots, &build.info, &ledger, &options)
        .with_context(|| format!("tenant `{}`, build {}", opened.tenant, build_label(&build)))?;
    if args.format == Format::Json {
        return print_json(&tuning);
    }
    let mut out = crate::output::human_stdout();
    write_tuning(&mut out, &opened.tenant, &build, &tuning)?;
    Ok(out.flush()?)
}

fn write_tuning(
    out: &mut impl Write,
    tenant: &str,
    build: &StoredBuild,
    t: &Tuning,
) -> std::io::Result<()> {
    writeln!(
        out,
        "Tuning {tenant} ({}): which weights would have ranked churn within {} days best?",
        build_label(build),
        t.horizon_days
    )?;
    writeln!(
        out,
        "fitted on {} to {} ({} snapshots, {} churned); judged on {} to {} ({} snapshots, {} churned)",
        t.fitted_on.0,
        t.fitted_on.1,
        money(t.fitted_snapshots as f64),
        money(t.fitted_churned as f64),
        t.judged_on.0,
        t.judged_on.1,
        money(t.judged_snapshots as f64),
        money(t.judged_churned as f64),
    )?;
    writeln!(out)?;
    let mut weights = Table::new([("FACTOR", Left), ("CURRENT", Right), ("PROPOSED", Right)]);
    for w in &t.weights {
        weights.row([
            w.factor.clone(),
            format!("{:.3}", w.current),
            format!("{:.3}", w.proposed),
        ]);
    }
    weights.write(&mut *out)?;
    writeln!(out)?;
    type Metric = (&'static str, fn(&Judgement) -> String);
    let metrics: [Metric; 3] = [
        ("churn AUC, low score", |j| three(j.churn_auc)),
        ("lowest band precision", |j| three(j.lowest_band_precision)),
        ("lowest band recall", |j| three(j.lowest_band_recall)),
    ];
    let rows: Vec<Vec<String>> = metrics
        .iter()
        .map(|(label, value)| vec![(*label).to_owned(), value(&t.current), value(&t.proposed)])
        .collect();
    output::aligned(
        &mut *out,
        &["on the judged days", "current", "proposed"],
        &rows,
    )?;
    let mut bands = Table::new([
        ("BAND", Left),
        ("CURRENT", Right),
        ("CHURN", Right),
        ("PROPOSED", Right),
        ("CHURN ", Right),
    ])
    .indented(2);
    for (c, p) in t.current.calibration.iter().zip(&t.proposed.calibration) {
        let rate = |r: Option<f64>| or_dash(r, |x| output::percent(x, 1));
        bands.row([
            c.band.clone(),
            money(c.snapshots as f64),
            rate(c.churn_rate),
            money(p.snapshots as f64),
            rate(p.churn_rate),
        ]);
    }
    writeln!(out, "  snapshots and observed churn by band:")?;
    bands.write(&mut *out)?;
    writeln!(out)?;
    let gain = match (t.auc_gain, t.auc_gain_interval) {
        (Some(g), Some((low, high))) => format!("{g:+.3} (95% interval {low:+.3} to {high:+.3})"),
        (Some(g), None) => format!("{g:+.3} (no interval: too few held-out accounts)"),
        _ => "-".to_owned(),
    };
    writeln!(out, "churn AUC gain on the judged days: {gain}")?;
    if t.better {
        writeln!(
            out,
            "verdict: the proposed weights rank churn better on days they were not fitted on."
        )?;
    } else {
        writeln!(
            out,
            "verdict: the proposed weights are not better beyond chance; keep the current ones."
        )?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "To try them, put this in tenant.toml: the next `score --store` records them as another \
         build, and `backtest` judges both side by side."
    )?;
    writeln!(out, "[weights]")?;
    for w in &t.weights {
        writeln!(out, "{} = {}", w.factor, w.proposed)?;
    }
    Ok(())
}

fn write_backtests(
    out: &mut impl Write,
    tenant: &str,
    builds: &[StoredBuild],
    results: &[Backtest],
    horizon: i32,
) -> std::io::Result<()> {
    writeln!(
        out,
        "Backtest of {tenant}: did the score predict churn and expansion within {horizon} days?"
    )?;
    type Metric = (&'static str, fn(&Backtest) -> String);
    let metrics: [Metric; 10] = [
        ("snapshots judged", |b| money(b.snapshots as f64)),
        ("not observable yet", |b| money(b.not_yet_observable as f64)),
        ("churned within horizon", |b| money(b.churned as f64)),
        ("expanded within horizon", |b| money(b.expanded as f64)),
        ("churn AUC, low score", |b| three(b.churn_auc)),
        ("churn AUC, falling score", |b| three(b.velocity_churn_auc)),
        ("expansion AUC, high score", |b| three(b.expansion_auc)),
        ("expansion AUC, rising score", |b| {
            three(b.velocity_expansion_auc)
        }),
        ("lowest band precision", |b| three(b.lowest_band_precision)),
        ("lowest band recall", |b| three(b.lowest_band_recall)),
    ];
    let labels: Vec<String> = builds.iter().map(build_label).collect();
    let header: Vec<&str> = std::iter::once("")
        .chain(labels.iter().map(String::as_str))
        .collect();
    let rows: Vec<Vec<String>> = metrics
        .iter()
        .map(|(label, value)| {
            std::iter::once((*label).to_owned())
                .chain(results.iter().map(value))
                .collect()
        })
        .collect();
    output::aligned(&mut *out, &header, &rows)?;
    for (b, r) in builds.iter().zip(results) {
        writeln!(out)?;
        writeln!(out, "{}: observed churn by band", build_label(b))?;
        let mut bands = Table::new([
            ("BAND", Left),
            ("SNAPSHOTS", Right),
            ("CHURNED", Right),
            ("RATE", Right),
        ])
        .indented(2);
        for c in &r.calibration {
            bands.row([
                c.band.clone(),
                money(c.snapshots as f64),
                money(c.churned as f64),
                or_dash(c.churn_rate, |x| output::percent(x, 1)),
            ]);
        }
        bands.write(&mut *out)?;
        writeln!(out, "  by snapshot day:")?;
        let mut days = Table::new([
            ("AS OF", Left),
            ("JUDGED", Right),
            ("CHURNED", Right),
            ("CHURN AUC", Right),
        ])
        .indented(2);
        for d in &r.by_day {
            days.row([
                d.as_of.to_string(),
                money(d.snapshots as f64),
                money(d.churned as f64),
                three(d.churn_auc),
            ]);
        }
        days.write(&mut *out)?;
    }
    Ok(())
}

/// `headway alerts`: what the tenant's `[[alerts]]` rules fired, newest first.
pub fn alerts(args: &StoreArgs, query: &headway_store::AlertQuery) -> Result<()> {
    let opened = args.open()?;
    let alerts = opened
        .store
        .alerts(&opened.tenant, query)
        .with_context(|| format!("in `{}`", args.store))?;
    if args.format == Format::Json {
        return print_json(&alerts);
    }
    let mut out = crate::output::human_stdout();
    let mut table = Table::new([
        ("AS OF", Left),
        ("ACCOUNT", Left),
        ("RULE", Left),
        ("WHAT", Left),
        ("STATUS", Left),
        ("TRIES", Right),
    ]);
    for a in &alerts {
        table.row([
            a.as_of.to_string(),
            a.account_id.clone(),
            a.rule.clone(),
            a.summary.clone(),
            a.status.as_str().to_owned(),
            a.attempts.to_string(),
        ]);
    }
    table.write(&mut out)?;
    writeln!(out, "{} alerts for {}", alerts.len(), opened.tenant)?;
    Ok(())
}

/// `headway override`: one account's override, set, cleared or listed.
#[derive(clap::Args)]
pub struct OverrideArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// The account id.
    #[arg(long)]
    account: String,
    /// The factor whose score to set (with --score).
    #[arg(long, requires = "score", conflicts_with_all = ["band", "clear"])]
    factor: Option<String>,
    /// The factor's score to use, 0-100.
    #[arg(long, requires = "factor")]
    score: Option<f64>,
    /// The band to fix, whatever the score.
    #[arg(long, conflicts_with = "clear")]
    band: Option<String>,
    /// Remove the override of `band` or `factor:<id>`.
    #[arg(long, value_parser = |s: &str| s.parse::<Target>().map_err(|e| e.to_string()))]
    clear: Option<Target>,
    /// The first as-of day it applies to (default: the account's latest snapshot day).
    #[arg(long, conflicts_with = "clear")]
    from: Option<Date>,
    /// The last as-of day it applies to; after it the override stops applying.
    #[arg(long, conflicts_with = "clear")]
    until: Option<Date>,
    /// Who makes the change.
    #[arg(long)]
    author: Option<String>,
    /// Why.
    #[arg(long)]
    reason: Option<String>,
}

impl OverrideArgs {
    /// The change asked for; `None` lists.
    fn request(&self) -> Result<Option<OverrideRequest>> {
        let (target, value) = match (&self.factor, self.score, &self.band, &self.clear) {
            (Some(id), Some(score), None, None) => {
                (Target::Factor(id.clone()), Some(Setting::Score(score)))
            }
            (None, None, Some(band), None) => (Target::Band, Some(Setting::Band(band.clone()))),
            (None, None, None, Some(target)) => (target.clone(), None),
            _ => return Ok(None),
        };
        let (Some(author), Some(reason)) = (&self.author, &self.reason) else {
            bail!("an override needs --author and --reason: the audit trail keeps both");
        };
        Ok(Some(OverrideRequest {
            account_id: self.account.clone(),
            target,
            value,
            from: self.from,
            until: self.until,
            author: author.clone(),
            reason: reason.clone(),
        }))
    }
}

/// `headway override`: sets or clears one override, checked against the
/// tenant's build (as `history` picks it), or lists the account's overrides.
pub fn change_override(args: &OverrideArgs) -> Result<()> {
    let mut opened = args.store.open()?;
    let in_store = || format!("in `{}`", args.store.store);
    if let Some(request) = args.request()? {
        let build = args.store.build(&opened)?;
        let change = headway_views::change_override(
            &mut *opened.store,
            &opened.tenant,
            &build.info,
            request,
            headway_store::now(),
        )
        .with_context(in_store)?;
        if args.store.format == Format::Json {
            return print_json(&change);
        }
        let mut out = crate::output::human_stdout();
        match &change.new {
            Some(set) => writeln!(
                out,
                "{} of {} set to {} from {} until {} (checked against {})",
                set.target,
                set.account_id,
                setting(&set.value),
                set.from,
                set.until,
                build_label(&build)
            )?,
            None => writeln!(out, "{} of {} cleared", change.target, change.account_id)?,
        }
        return Ok(out.flush()?);
    }
    let view = headway_views::overrides(&*opened.store, &opened.tenant, &args.account)
        .with_context(in_store)?;
    if args.store.format == Format::Json {
        return print_json(&view);
    }
    let mut out = crate::output::human_stdout();
    writeln!(out, "Overrides of {} ({}):", view.account_id, view.tenant)?;
    let mut table = Table::new([
        ("TARGET", Left),
        ("VALUE", Left),
        ("FROM", Left),
        ("UNTIL", Left),
        ("BY", Left),
        ("REASON", Left),
    ]);
    for o in &view.overrides {
        table.row([
            o.target.to_string(),
            setting(&o.value),
            o.from.to_string(),
            o.until.to_string(),
            o.author.clone(),
            o.reason.clone(),
        ]);
    }
    table.write(&mut out)?;
    writeln!(out, "\nChanges, oldest first:")?;
    let mut table = Table::new([
        ("AT", Left),
        ("TARGET", Left),
        ("BY", Left),
        ("WAS", Left),
        ("NOW", Left),
        ("REASON", Left),
    ]);
    let described = |o: &Option<Override>| {
        o.as_ref().map_or_else(
            || "-".to_owned(),
            |o| format!("{} {}..{}", setting(&o.value), o.from, o.until),
        )
    };
    for c in &view.log {
        table.row([
            c.at.clone(),
            c.target.to_string(),
            c.author.clone(),
            described(&c.old),
            described(&c.new),
            c.reason.clone(),
        ]);
    }
    table.write(&mut out)?;
    Ok(out.flush()?)
}

/// A factor's score or a band's name, as people read it.
fn setting(value: &Setting) -> String {
    match value {
        Setting::Score(score) if score.is_nan() => "skipped".to_owned(),
        Setting::Score(score) => format!("{score}"),
        Setting::Band(band) => band.clone(),
    }
}
