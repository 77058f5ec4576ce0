//! Headway's history store: the snapshots every scoring run leaves behind, which
//! the Success Vector, the expansion forecast and the backtest read.
//!
//! [`SnapshotStore`] is what the rest of Headway uses. Two backends implement
//! it, chosen by a [`StoreLocation`]: [`SqliteStore`], the embedded default (one
//! file, no server), and [`PgStore`], one PostgreSQL database that several
//! servers share. [`SharedStore`] is what a server holds: connections for
//! readers and writers of either backend. The domain math never sees them.
//!
//! Snapshots are keyed by tenant, plugin build (digest), account and as-of day.
//! Recording the same key again replaces it only when something differs, so
//! re-scoring a day with the same build is idempotent, and a new build's
//! snapshots sit beside the old ones for comparison.

#[cfg(test)]
mod conformance;
mod decisions;
mod location;
mod postgres;
mod published;
mod rows;
mod sqlite;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

use std::path::PathBuf;

use headway_core::alerts::{AlertDetail, Fired};
use headway_core::overrides::{Override, OverrideChange, Target};
use headway_core::retention::{AdvocacyEvent, LedgerRow, SurveyResponse};
use headway_core::success::Snapshot;
use headway_core::{AccountError, Date, PluginInfo, PluginRef};
use serde::{Deserialize, Serialize};

pub use decisions::{Decision, DecisionEntry, DecisionInput, KeptBuild};
pub use location::{SharedStore, StoreLocation, Writer};
pub use postgres::PgStore;
pub use published::{Activation, ActiveBuild, BuildListener, Publication};
pub use sqlite::SqliteStore;

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite refused (cannot open, locked, disk full, not a database ...).
    #[error("{path}: {source}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// PostgreSQL refused (unreachable, authentication, a constraint ...).
    #[error("{url}: {}", postgres::describe(source))]
    Postgres {
        /// The database, without its password.
        url: String,
        /// The driver's error.
        source: ::postgres::Error,
    },
    /// No connection came free in time (every pooled connection is busy).
    #[error("{url}: no database connection free: {reason}")]
    Pool {
        /// The database, without its password.
        url: String,
        /// The pool's reason.
        reason: String,
    },
    /// A stored value cannot be read back.
    #[error("{store}: {what} is unreadable: {reason}")]
    Corrupt {
        /// The store (file or database).
        store: String,
        /// Which value.
        what: String,
        /// Why.
        reason: String,
    },
    /// The store was written by a newer Headway.
    #[error("{store}: schema version {found}, this build reads up to {supported}")]
    NewerSchema {
        /// The store (file or database).
        store: String,
        /// The store's schema version.
        found: i64,
        /// The newest this build knows.
        supported: i64,
    },
}

/// What recording a run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recorded {
    /// Snapshots not stored before.
    pub new: usize,
    /// Snapshots stored before with other values (the input for that day changed).
    pub changed: usize,
    /// Snapshots stored before with the same values.
    pub unchanged: usize,
}

/// Failures a run log keeps in full; the rest are counted.
pub const MAX_LOGGED_FAILURES: usize = 100;

/// One recorded scoring run: what was scored, by which build, what came of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunLog {
    /// Assigned by the store when the run commits (0 before).
    pub id: i64,
    /// The tenant.
    pub tenant: String,
    /// The build that scored.
    pub plugin: PluginRef,
    /// Where the accounts came from (a file name, `request body`).
    pub source: String,
    /// When the run started, RFC 3339 UTC.
    pub started_at: String,
    /// How long it took, in milliseconds.
    pub duration_ms: f64,
    /// Records (one per non-blank input line).
    pub records: usize,
    /// Accounts scored.
    pub scored: usize,
    /// Records without a score (rejected lines included).
    pub failed: usize,
    /// Scored accounts per band, in the plugin's order.
    pub bands: Vec<BandCount>,
    /// What the store did with the snapshots.
    pub recorded: Recorded,
    /// The first [`MAX_LOGGED_FAILURES`] failures, in input order.
    pub failures: Vec<RunFailure>,
    /// Alerts the run fired that were not fired before (see [`StoredAlert`]).
    #[serde(default)]
    pub alerts: usize,
}

impl RunLog {
    /// The log of a run about to start: counts zero, no id yet.
    pub fn new(tenant: &str, plugin: &PluginRef, source: &str, started_at: String) -> Self {
        Self {
            id: 0,
            tenant: tenant.to_owned(),
            plugin: plugin.clone(),
            source: source.to_owned(),
            started_at,
            duration_ms: 0.0,
            records: 0,
            scored: 0,
            failed: 0,
            bands: Vec::new(),
            recorded: Recorded::default(),
            failures: Vec::new(),
            alerts: 0,
        }
    }
}

/// Accounts in one band.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BandCount {
    /// The band's name.
    pub band: String,
    /// Accounts scored into it.
    pub accounts: usize,
}

/// One account (or input line) a run could not score.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunFailure {
    /// The input line.
    pub line: usize,
    /// The account, when its id could be read.
    pub account_id: Option<String>,
    /// What went wrong.
    pub error: AccountError,
}

/// One plugin build that has snapshots for a tenant.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredBuild {
    /// Name, version, digest.
    pub plugin: PluginRef,
    /// What it declared (bands, factors, milestones and upsells).
    pub info: PluginInfo,
    /// Its snapshots for the tenant.
    pub snapshots: usize,
    /// The earliest as-of day.
    pub first: Date,
    /// The latest as-of day.
    pub last: Date,
}

/// An alert in the outbox: what fired, for whom, and where its delivery is.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredAlert {
    /// The rule's name.
    pub rule: String,
    /// Its condition (`band-entered`).
    pub kind: String,
    /// The account.
    pub account_id: String,
    /// The snapshot's day.
    pub as_of: Date,
    /// The build whose snapshot fired it.
    pub digest: String,
    /// What happened, in words.
    pub summary: String,
    /// The numbers behind it (none for alerts filed before schema 4).
    pub detail: Option<AlertDetail>,
    /// Where its delivery is.
    pub status: AlertStatus,
    /// Delivery attempts made.
    pub attempts: u32,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When it was delivered, RFC 3339 UTC.
    pub delivered_at: Option<String>,
}

/// Where an alert's delivery is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AlertStatus {
    /// Not delivered yet (no webhook, or tries left).
    Pending,
    /// The receiver answered 2xx.
    Delivered,
    /// Every try failed: kept, no longer tried (a dead letter).
    Dead,
}

impl AlertStatus {
    /// Every status, in order.
    pub const ALL: [Self; 3] = [Self::Pending, Self::Delivered, Self::Dead];

    /// Its name, as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Dead => "dead",
        }
    }
}

impl std::str::FromStr for AlertStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| format!("`{s}` is not an alert status: pending, delivered or dead"))
    }
}

/// Which of a tenant's alerts to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertQuery {
    /// From this day (the alerts' day) on.
    pub since: Option<Date>,
    /// Only alerts with this status.
    pub status: Option<AlertStatus>,
    /// At most this many.
    pub limit: usize,
}

/// The outbox key of one alert: once per tenant, rule, account and day.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AlertKey {
    /// The rule's name.
    pub rule: String,
    /// The account.
    pub account_id: String,
    /// The day.
    pub as_of: Date,
}

impl StoredAlert {
    /// Its key in the outbox.
    pub fn key(&self) -> AlertKey {
        AlertKey {
            rule: self.rule.clone(),
            account_id: self.account_id.clone(),
            as_of: self.as_of,
        }
    }
}

/// How one delivery attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// The receiver took it, at this time (RFC 3339 UTC).
    Delivered {
        /// When.
        at: String,
    },
    /// It failed; try again from `retry_at_ms` (Unix milliseconds).
    Failed {
        /// Why, for the operator.
        error: String,
        /// The earliest next try.
        retry_at_ms: i64,
    },
    /// It failed for the last time: a dead letter.
    GaveUp {
        /// Why.
        error: String,
    },
}

/// Now, as the store keeps times: RFC 3339 in UTC to the millisecond.
pub fn now() -> String {
    jiff::Timestamp::now()
        .round(jiff::Unit::Millisecond)
        .map_or_else(|_| String::new(), |t| t.to_string())
}

/// A change to one account's override of one target, as a CSM asks for it;
/// the store adds what it replaces ([`SnapshotStore::change_override`]).
#[derive(Debug, Clone, PartialEq)]
pub struct OverrideEdit {
    /// When (RFC 3339, UTC).
    pub at: String,
    /// The account.
    pub account_id: String,
    /// What it changes.
    pub target: Target,
    /// Who asks.
    pub author: String,
    /// Why.
    pub reason: String,
    /// The override to set (replacing any); `None` clears it.
    pub new: Option<Override>,
}

impl OverrideEdit {
    /// The change this edit makes over `old`: `None` when it clears what is
    /// not set.
    pub fn over(self, old: Option<Override>) -> Option<OverrideChange> {
        if old.is_none() && self.new.is_none() {
            return None;
        }
        Some(OverrideChange {
            at: self.at,
            account_id: self.account_id,
            target: self.target,
            author: self.author,
            reason: self.reason,
            old,
            new: self.new,
        })
    }
}

/// Where snapshots are kept. Every read and write names its tenant, and sees
/// nothing of any other.
pub trait SnapshotStore: Send {
    /// Records one run of one plugin build with its log, all or nothing.
    fn record(
        &mut self,
        info: &PluginInfo,
        plugin: &PluginRef,
        snapshots: &[Snapshot],
        log: RunLog,
    ) -> Result<RunLog, StoreError> {
        let mut run = self.begin_run(&log.tenant, info, plugin)?;
        run.add(snapshots)?;
        run.commit(log)
    }

    /// Starts recording a run of one build whose snapshots arrive in parts (a
    /// streaming run): nothing is visible to readers until
    /// [`RunRecorder::commit`]; dropping the recorder takes everything back.
    fn begin_run<'s>(
        &'s mut self,
        tenant: &str,
        info: &PluginInfo,
        plugin: &PluginRef,
    ) -> Result<Box<dyn RunRecorder + 's>, StoreError>;

    /// One account's snapshots, every build, oldest day first.
    fn account_history(&self, tenant: &str, account: &str) -> Result<Vec<Snapshot>, StoreError>;

    /// Every snapshot of one build for a tenant, by account then day.
    fn snapshots(&self, tenant: &str, digest: &str) -> Result<Vec<Snapshot>, StoreError>;

    /// One build's snapshots from `since` on, by account then day, without
    /// their factors (empty): what vectors of the current book read, at a
    /// fraction of the cost of the whole history.
    fn recent(&self, tenant: &str, digest: &str, since: Date) -> Result<Vec<Snapshot>, StoreError>;

    /// The builds with snapshots for a tenant: by latest day, then the most
    /// recently recorded last.
    fn builds(&self, tenant: &str) -> Result<Vec<StoredBuild>, StoreError>;

    /// A tenant's runs, newest first: at most `limit`, older than run `before`
    /// when given (the cursor of the previous page).
    fn runs(
        &self,
        tenant: &str,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<RunLog>, StoreError>;

    /// One run of a tenant; `None` for another tenant's run id.
    fn run(&self, tenant: &str, id: i64) -> Result<Option<RunLog>, StoreError>;

    /// Adds or corrects revenue-ledger rows, keyed by account and day, all or
    /// nothing: the same rows again change nothing.
    fn put_ledger(&mut self, tenant: &str, rows: &[LedgerRow]) -> Result<Recorded, StoreError>;

    /// A tenant's ledger, by account then day.
    fn ledger(&self, tenant: &str) -> Result<Vec<LedgerRow>, StoreError>;

    /// Adds or corrects survey answers, keyed by account, day and survey.
    fn put_surveys(
        &mut self,
        tenant: &str,
        rows: &[SurveyResponse],
    ) -> Result<Recorded, StoreError>;

    /// A tenant's survey answers, by account, day and survey.
    fn surveys(&self, tenant: &str) -> Result<Vec<SurveyResponse>, StoreError>;

    /// Adds advocacy events, keyed by account, day, kind and the account
    /// referred: the same events again change nothing.
    fn put_advocacy(
        &mut self,
        tenant: &str,
        rows: &[AdvocacyEvent],
    ) -> Result<Recorded, StoreError>;

    /// A tenant's advocacy events, by account, day, kind and account referred.
    fn advocacy(&self, tenant: &str) -> Result<Vec<AdvocacyEvent>, StoreError>;

    /// A tenant's alerts that `query` selects, newest day first.
    fn alerts(&self, tenant: &str, query: &AlertQuery) -> Result<Vec<StoredAlert>, StoreError>;

    /// Takes up to `limit` pending alerts of a tenant that are due at `now_ms`
    /// (Unix milliseconds) and not held by another deliverer, and holds them
    /// until `now_ms + lease_ms`: servers sharing a store never send one alert
    /// at once, and one that dies holding alerts frees them when the lease ends.
    fn claim_alerts(
        &mut self,
        tenant: &str,
        now_ms: i64,
        lease_ms: i64,
        limit: usize,
    ) -> Result<Vec<StoredAlert>, StoreError>;

    /// Records how an attempt to deliver a pending alert ended (its attempts
    /// count up by one) and frees it. False when it was no longer pending.
    fn settle_alert(
        &mut self,
        tenant: &str,
        key: &AlertKey,
        attempt: &Attempt,
    ) -> Result<bool, StoreError>;

    /// Sets or clears one override and adds the change to the audit trail, in
    /// one transaction. `None` (nothing written) when it clears what is not set.
    fn change_override(
        &mut self,
        tenant: &str,
        edit: OverrideEdit,
    ) -> Result<Option<OverrideChange>, StoreError>;

    /// A tenant's overrides (of one account, or all), by account and target,
    /// expired ones included: each applies only to the days it covers.
    fn overrides(&self, tenant: &str, account: Option<&str>) -> Result<Vec<Override>, StoreError>;

    /// Every change to an account's overrides, oldest first.
    fn override_log(&self, tenant: &str, account: &str) -> Result<Vec<OverrideChange>, StoreError>;

    /// Logs one scoring decision, with its kept input and build (each stored
    /// once per tenant and digest), in one transaction; the decision as stored.
    fn log_decision(&mut self, entry: &DecisionEntry<'_>) -> Result<Decision, StoreError>;

    /// A tenant's decisions, newest first: at most `limit`, older than
    /// decision `before` when given.
    fn decisions(
        &self,
        tenant: &str,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<Decision>, StoreError>;

    /// One decision of a tenant; `None` for another tenant's id.
    fn decision(&self, tenant: &str, id: i64) -> Result<Option<Decision>, StoreError>;

    /// A kept input (compressed, as logged), by its digest.
    fn kept_input(&self, tenant: &str, digest: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// A kept build, by its key ([`Decision::build`]).
    fn kept_build(&self, tenant: &str, key: &str) -> Result<Option<KeptBuild>, StoreError>;

    /// Whether a build is kept, without reading it.
    fn has_kept_build(&self, tenant: &str, key: &str) -> Result<bool, StoreError>;
}

/// One run being recorded, in one transaction.
pub trait RunRecorder {
    /// Adds snapshots of the run.
    fn add(&mut self, snapshots: &[Snapshot]) -> Result<(), StoreError>;

    /// The stored snapshots of `accounts` by this run's build from `since`
    /// until before `until`, this run's earlier parts included, by account then
    /// day: the history the alert rules read.
    fn prior(
        &mut self,
        accounts: &[&str],
        since: Date,
        until: Date,
    ) -> Result<Vec<Snapshot>, StoreError>;

    /// Files what fired in the outbox, in the run's transaction, once per
    /// tenant, rule, account and day: recording a run again fires nothing new.
    /// How many were new.
    fn add_alerts(&mut self, fired: &[Fired]) -> Result<usize, StoreError>;

    /// Makes the run visible, all of it at once, with its log (`id` and
    /// `recorded` filled in by the store); the log as stored.
    fn commit(self: Box<Self>, log: RunLog) -> Result<RunLog, StoreError>;
}

/// The build of `tenant` with the latest snapshot, if any.
pub fn latest_build(
    store: &dyn SnapshotStore,
    tenant: &str,
) -> Result<Option<StoredBuild>, StoreError> {
    Ok(store.builds(tenant)?.pop())
}
