//! What a CS team reads, computed from the history store. Each view is one
//! function over a [`SnapshotStore`], used by `headway history` and by the
//! server's read routes alike, so the two can never disagree.
//!
//! A new view: a function here with its test, then a CLI command and/or a route
//! that call it.

mod book;
mod overrides;

use std::collections::BTreeSet;

use headway_core::backtest::{Backtest, backtest};
use headway_core::moves::{Step, steps};
use headway_core::overrides::{OverrideError, Target};
use headway_core::retention::Ledger;
use headway_core::success::{
    Basis, Forecast, Snapshot, SuccessVector, forecast_expansion, success_vector,
};
use headway_core::{Date, PluginRef};
use headway_store::{SnapshotStore, StoreError, StoredBuild};
use serde::Serialize;

pub use book::{AccountRow, BookPage, BookQuery, SortKey, book};
pub use overrides::{OverrideRequest, OverridesView, change_override, overrides};

/// Why a view could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The tenant has no snapshots (of that build, when one was asked for).
    #[error("no snapshots of tenant `{tenant}`{}", build.as_deref().map(|b| format!(" by build `{b}`")).unwrap_or_default())]
    NoBuild {
        /// The tenant.
        tenant: String,
        /// The build asked for, if one was.
        build: Option<String>,
    },
    /// The account has no snapshots at all.
    #[error("no snapshots of account `{account}` of tenant `{tenant}`")]
    NoAccount {
        /// The tenant.
        tenant: String,
        /// The account.
        account: String,
    },
    /// An override that cannot be set as asked.
    #[error(transparent)]
    Override(#[from] OverrideError),
    /// A clear of an override that is not set.
    #[error("account `{account}` has no override of {target} to clear")]
    NothingToClear {
        /// The account.
        account: String,
        /// What was to be cleared.
        target: Target,
    },
    /// The account has snapshots, none by the build read.
    #[error("account `{account}` has no snapshots by {build}; pick another build")]
    NotByBuild {
        /// The account.
        account: String,
        /// The build read, as `name version (digest)`.
        build: String,
    },
}

/// Which build's snapshots a view reads.
#[derive(Debug, Clone, Copy)]
pub enum BuildChoice<'a> {
    /// This digest (or its prefix), and no other.
    Exactly(&'a str),
    /// This digest (the build serving now) if it has snapshots, else the latest.
    Prefer(&'a str),
    /// The build with the latest snapshot.
    Latest,
}

/// The build `choice` names among the tenant's builds.
pub fn pick_build(
    store: &dyn SnapshotStore,
    tenant: &str,
    choice: BuildChoice<'_>,
) -> Result<StoredBuild, ViewError> {
    let mut builds = store.builds(tenant)?;
    let position = |prefix: &str, builds: &[StoredBuild]| {
        builds
            .iter()
            .rposition(|b| b.plugin.digest.starts_with(prefix))
    };
    let found = match choice {
        BuildChoice::Exactly(prefix) => position(prefix, &builds).map(|i| builds.swap_remove(i)),
        BuildChoice::Prefer(prefix) => match position(prefix, &builds) {
            Some(i) => Some(builds.swap_remove(i)),
            None => builds.pop(),
        },
        BuildChoice::Latest => builds.pop(),
    };
    found.ok_or_else(|| ViewError::NoBuild {
        tenant: tenant.to_owned(),
        build: match choice {
            BuildChoice::Exactly(b) => Some(b.to_owned()),
            _ => None,
        },
    })
}

/// `name version (sha256:0123456789ab)`: a build as people read it.
pub fn build_label(plugin: &PluginRef) -> String {
    let digest = plugin.digest.get(..19).unwrap_or(&plugin.digest);
    format!("{} {} ({digest})", plugin.name, plugin.version)
}

/// One account over time: every snapshot (all builds), and its Success Vector
/// from the snapshots of the build read.
#[derive(Debug, Clone, Serialize)]
pub struct AccountView {
    /// The tenant.
    pub tenant: String,
    /// The account.
    pub account_id: String,
    /// The build the vector is computed from.
    pub build: PluginRef,
    /// Days of history the trends are fitted over.
    pub window_days: i32,
    /// Every snapshot of the account, oldest day first, every build.
    pub snapshots: Vec<Snapshot>,
    /// The Success Vector by `build`.
    pub vector: Option<SuccessVector>,
    /// What moved the score from each snapshot to the next, oldest first.
    pub steps: Vec<Step>,
}

impl AccountView {
    /// The snapshots by the build read, oldest first.
    pub fn by_build(&self) -> impl Iterator<Item = &Snapshot> {
        self.snapshots
            .iter()
            .filter(|s| s.plugin.digest == self.build.digest)
    }
}

/// One account's view, from `build`'s snapshots over `window_days`.
pub fn account(
    store: &dyn SnapshotStore,
    tenant: &str,
    account: &str,
    build: &StoredBuild,
    window_days: i32,
) -> Result<AccountView, ViewError> {
    let mut snapshots = store.account_history(tenant, account)?;
    if snapshots.is_empty() {
        return Err(ViewError::NoAccount {
            tenant: tenant.to_owned(),
            account: account.to_owned(),
        });
    }
    overrides::overridden(
        &mut snapshots,
        &store.overrides(tenant, Some(account))?,
        build,
    );
    let mine: Vec<Snapshot> = snapshots
        .iter()
        .filter(|s| s.plugin.digest == build.plugin.digest)
        .cloned()
        .collect();
    if mine.is_empty() {
        return Err(ViewError::NotByBuild {
            account: account.to_owned(),
            build: build_label(&build.plugin),
        });
    }
    Ok(AccountView {
        tenant: tenant.to_owned(),
        account_id: account.to_owned(),
        build: build.plugin.clone(),
        window_days,
        vector: success_vector(&mine, &build.info, window_days),
        steps: steps(&snapshots, &build.plugin, &build.info),
        snapshots,
    })
}

/// The current book: every account whose latest snapshot by `build` is on the
/// build's latest day, with its Success Vector and that latest snapshot (its
/// factors left out: only the window's snapshots are read, without them), the
/// overrides in force applied.
pub fn current_book(
    store: &dyn SnapshotStore,
    tenant: &str,
    build: &StoredBuild,
    window_days: i32,
) -> Result<Vec<(Snapshot, SuccessVector)>, ViewError> {
    let since = build.last.add_days(-window_days);
    // By account then day (the store's order): one slice per account, no copies.
    let snapshots = store.recent(tenant, &build.plugin.digest, since)?;
    let overrides = store.overrides(tenant, None)?;
    let overridden: BTreeSet<&str> = overrides
        .iter()
        .filter(|o| o.from <= build.last && o.until >= since)
        .map(|o| o.account_id.as_str())
        .collect();
    let mut out = Vec::new();
    for history in snapshots.chunk_by(|a, b| a.account_id == b.account_id) {
        let latest = history.last().expect("a chunk is not empty");
        if latest.as_of != build.last {
            continue;
        }
        let vector = if overridden.contains(latest.account_id.as_str()) {
            // An override works on factors, which `recent` leaves out: read
            // this account's window in full (few accounts have one).
            let mut full: Vec<Snapshot> = store
                .account_history(tenant, &latest.account_id)?
                .into_iter()
                .filter(|s| s.plugin.digest == build.plugin.digest && s.as_of >= since)
                .collect();
            overrides::overridden(&mut full, &overrides, build);
            let vector = success_vector(&full, &build.info, window_days);
            let mut latest = full.pop().expect("the account has its latest snapshot");
            latest.factors.clear();
            vector.map(|v| (latest, v))
        } else {
            success_vector(history, &build.info, window_days).map(|v| (latest.clone(), v))
        };
        out.extend(vector);
    }
    Ok(out)
}

/// The current book as rows: what the book routes and pages filter and sort.
pub fn book_rows(
    store: &dyn SnapshotStore,
    tenant: &str,
    build: &StoredBuild,
    window_days: i32,
) -> Result<Vec<AccountRow>, ViewError> {
    Ok(rows_of(&current_book(store, tenant, build, window_days)?))
}

/// [`book_rows`] of a current book already read.
pub fn rows_of(book: &[(Snapshot, SuccessVector)]) -> Vec<AccountRow> {
    book.iter()
        .map(|(latest, vector)| AccountRow::new(latest, vector))
        .collect()
}

/// How many accounts were in each band on one day `build` scored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BandMix {
    /// The day.
    pub day: Date,
    /// Accounts per band, in the build's order (lowest first), then any band
    /// the build does not declare.
    pub counts: Vec<(String, usize)>,
}

/// The band mix of every day `build` scored, oldest first: the bands as
/// recorded (overrides apart, which apply to the days they cover as views read
/// them).
pub fn band_mix(
    store: &dyn SnapshotStore,
    tenant: &str,
    build: &StoredBuild,
) -> Result<Vec<BandMix>, ViewError> {
    let snapshots = store.recent(tenant, &build.plugin.digest, build.first)?;
    let mut days: std::collections::BTreeMap<Date, Vec<(String, usize)>> = Default::default();
    for s in &snapshots {
        let counts = days.entry(s.as_of).or_insert_with(|| {
            build
                .info
                .bands
                .iter()
                .map(|b| (b.name.clone(), 0))
                .collect()
        });
        match counts.iter_mut().find(|(name, _)| *name == s.band) {
            Some((_, n)) => *n += 1,
            None => counts.push((s.band.clone(), 1)),
        }
    }
    Ok(days
        .into_iter()
        .map(|(day, counts)| BandMix { day, counts })
        .collect())
}

/// The expansion forecast of the current book, as `headway forecast --format
/// json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct ForecastView {
    /// The tenant.
    pub tenant: String,
    /// The build read.
    pub plugin: PluginRef,
    /// Days of history the trends are fitted over.
    pub window_days: i32,
    /// Accounts in the current book.
    pub accounts: usize,
    /// Milestone arrivals within the horizon and the expansion they unlock.
    pub forecast: Forecast,
    /// Where the expected days of milestones not yet reached come from.
    pub expected_from: ExpectedFrom,
}

/// Milestones not yet reached in the book, by where their expected day comes from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ExpectedFrom {
    /// The plugin's own prediction.
    pub plugin: usize,
    /// The progress trend.
    pub trend: usize,
    /// Unknown: flat, falling, or too little history.
    pub unknown: usize,
}

/// Who reaches a milestone within `horizon_days` of the build's latest day.
pub fn forecast(
    store: &dyn SnapshotStore,
    tenant: &str,
    build: &StoredBuild,
    window_days: i32,
    horizon_days: i32,
) -> Result<ForecastView, ViewError> {
    let book = current_book(store, tenant, build, window_days)?;
    Ok(forecast_of(&book, tenant, build, window_days, horizon_days))
}

/// [`forecast`] of a current book already read (see [`current_book`]).
pub fn forecast_of(
    book: &[(Snapshot, SuccessVector)],
    tenant: &str,
    build: &StoredBuild,
    window_days: i32,
    horizon_days: i32,
) -> ForecastView {
    let vectors: Vec<SuccessVector> = book.iter().map(|(_, v)| v.clone()).collect();
    let mut expected_from = ExpectedFrom::default();
    for m in vectors.iter().flat_map(|v| &v.milestones) {
        match m.basis {
            Basis::Plugin => expected_from.plugin += 1,
            Basis::Trend => expected_from.trend += 1,
            Basis::Unknown => expected_from.unknown += 1,
            Basis::Reached => {}
        }
    }
    ForecastView {
        expected_from,
        tenant: tenant.to_owned(),
        plugin: build.plugin.clone(),
        window_days,
        accounts: vectors.len(),
        forecast: forecast_expansion(&vectors, &build.info, build.last, horizon_days),
    }
}

/// How well each of `builds` predicted churn and expansion in `ledger`, judged
/// on the (account, day) pairs every one of them scored, so builds compare
/// fairly (shadow scoring).
pub fn backtests(
    store: &dyn SnapshotStore,
    tenant: &str,
    builds: &[StoredBuild],
    ledger: &Ledger,
    horizon_days: i32,
    window_days: i32,
) -> Result<Vec<Backtest>, ViewError> {
    let mut per_build: Vec<Vec<Snapshot>> = builds
        .iter()
        .map(|b| store.snapshots(tenant, &b.plugin.digest))
        .collect::<Result<_, _>>()?;
    let common: BTreeSet<(String, Date)> = per_build
        .iter()
        .map(|s| {
            s.iter()
                .map(|s| (s.account_id.clone(), s.as_of))
                .collect::<BTreeSet<_>>()
        })
        .reduce(|a, b| a.intersection(&b).cloned().collect())
        .unwrap_or_default();
    for snapshots in &mut per_build {
        snapshots.retain(|s| common.contains(&(s.account_id.clone(), s.as_of)));
    }
    Ok(builds
        .iter()
        .zip(&per_build)
        .map(|(b, s)| backtest(s, &b.info, &b.plugin, ledger, horizon_days, window_days))
        .collect())
}
