//! Headway's history store: the snapshots every scoring run leaves behind, which
//! the Success Vector, the expansion forecast and the backtest read.
//!
//! [`SnapshotStore`] is what the rest of Headway uses; [`SqliteStore`] is the
//! embedded default (one file, no server). A server database is another
//! implementation of the trait; the domain math never sees either.
//!
//! Snapshots are keyed by tenant, plugin build (digest), account and as-of day.
//! Recording the same key again replaces it only when something differs, so
//! re-scoring a day with the same build is idempotent, and a new build's
//! snapshots sit beside the old ones for comparison.

use std::path::{Path, PathBuf};

use headway_core::retention::{LedgerRow, RevenueStage, SurveyKind, SurveyResponse};
use headway_core::success::Snapshot;
use headway_core::{AccountError, Date, PluginInfo, PluginRef};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

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
    /// A stored value cannot be read back.
    #[error("{path}: {what} is unreadable: {reason}")]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// Which value.
        what: String,
        /// Why.
        reason: String,
    },
    /// The file was written by a newer Headway.
    #[error("{path}: schema version {found}, this build reads up to {supported}")]
    NewerSchema {
        /// The database file.
        path: PathBuf,
        /// The file's schema version.
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

/// Where snapshots are kept.
pub trait SnapshotStore {
    /// Records one run of one plugin build with its log, all or nothing.
    fn record(
        &mut self,
        info: &PluginInfo,
        plugin: &PluginRef,
        snapshots: &[Snapshot],
        log: RunLog,
    ) -> Result<RunLog, StoreError>;

    /// Starts recording a run of one build whose snapshots arrive in parts (a
    /// streaming run): nothing is visible to readers until
    /// [`RunRecorder::commit`]; dropping the recorder takes everything back.
    fn begin_run<'s>(
        &'s mut self,
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
}

/// The schema version this build writes (`PRAGMA user_version`). Version 1
/// files are upgraded in place: [`UPGRADE_FROM_1`], then [`SCHEMA`] (which only
/// creates what is missing).
const SCHEMA_VERSION: i64 = 2;

/// Version 1 snapshots had no segment or renewal day.
const UPGRADE_FROM_1: &str = "
ALTER TABLE snapshots ADD COLUMN segment TEXT NOT NULL DEFAULT '';
ALTER TABLE snapshots ADD COLUMN renewal_date TEXT;
";

/// After [`SCHEMA`] on a version 1 file: each build's counts from its snapshots
/// (recorded before any new run: `last_run` below every run id, in order).
const BACKFILL_FROM_1: &str = "
INSERT INTO tenant_builds
SELECT tenant, digest, count(*), min(as_of), max(as_of),
       max(rowid) - (SELECT max(rowid) FROM snapshots) - 1
FROM snapshots GROUP BY tenant, digest;
";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS plugin_builds (
    digest  TEXT PRIMARY KEY,
    name    TEXT NOT NULL,
    version TEXT NOT NULL,
    info    TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS snapshots (
    tenant     TEXT NOT NULL,
    digest     TEXT NOT NULL REFERENCES plugin_builds (digest),
    account_id TEXT NOT NULL,
    as_of      TEXT NOT NULL,
    arr        REAL NOT NULL,
    segment    TEXT NOT NULL DEFAULT '',
    renewal_date TEXT,
    score      REAL NOT NULL,
    band       TEXT NOT NULL,
    factors    TEXT NOT NULL,
    milestones TEXT NOT NULL,
    UNIQUE (tenant, digest, account_id, as_of)
);
CREATE INDEX IF NOT EXISTS snapshots_by_account ON snapshots (tenant, account_id, as_of);
CREATE TABLE IF NOT EXISTS runs (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant     TEXT NOT NULL,
    digest     TEXT NOT NULL REFERENCES plugin_builds (digest),
    log        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_by_tenant ON runs (tenant, id);
CREATE INDEX IF NOT EXISTS snapshots_by_day ON snapshots (tenant, digest, as_of);
CREATE TABLE IF NOT EXISTS tenant_builds (
    tenant    TEXT NOT NULL,
    digest    TEXT NOT NULL REFERENCES plugin_builds (digest),
    snapshots INTEGER NOT NULL,
    first     TEXT NOT NULL,
    last      TEXT NOT NULL,
    last_run  INTEGER NOT NULL,
    PRIMARY KEY (tenant, digest)
);
CREATE TABLE IF NOT EXISTS ledger (
    tenant     TEXT NOT NULL,
    account_id TEXT NOT NULL,
    date       TEXT NOT NULL,
    arr        REAL NOT NULL,
    stage      TEXT NOT NULL,
    segment    TEXT,
    term_end   TEXT,
    PRIMARY KEY (tenant, account_id, date)
);
CREATE TABLE IF NOT EXISTS surveys (
    tenant     TEXT NOT NULL,
    account_id TEXT NOT NULL,
    date       TEXT NOT NULL,
    kind       TEXT NOT NULL,
    score      REAL NOT NULL,
    PRIMARY KEY (tenant, account_id, date, kind)
);
";

const COLUMNS: &str = "s.tenant, s.account_id, s.as_of, s.arr, s.score, s.band, s.factors, s.milestones, \
     b.name, b.version, b.digest, s.segment, s.renewal_date";

/// The embedded store: one SQLite file in WAL mode with full sync, so a run that
/// committed survives a crash of the next one.
pub struct SqliteStore {
    conn: Connection,
    path: PathBuf,
}

impl SqliteStore {
    /// Opens (creating if needed) the store at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let sqlite = |source| StoreError::Sqlite {
            path: path.to_owned(),
            source,
        };
        let conn = Connection::open(path).map_err(sqlite)?;
        let found: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(sqlite)?;
        if found > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema {
                path: path.to_owned(),
                found,
                supported: SCHEMA_VERSION,
            });
        }
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .and_then(|()| conn.pragma_update(None, "journal_mode", "WAL"))
            .and_then(|()| conn.pragma_update(None, "synchronous", "FULL"))
            .and_then(|()| conn.pragma_update(None, "foreign_keys", "ON"))
            .map_err(sqlite)?;
        if found < SCHEMA_VERSION {
            let (upgrade, backfill) = if found == 1 {
                (UPGRADE_FROM_1, BACKFILL_FROM_1)
            } else {
                ("", "")
            };
            conn.execute_batch(&format!("BEGIN; {upgrade} {SCHEMA} {backfill} COMMIT;"))
                .and_then(|()| conn.pragma_update(None, "user_version", SCHEMA_VERSION))
                .map_err(sqlite)?;
        }
        Ok(Self {
            conn,
            path: path.to_owned(),
        })
    }

    fn sqlite(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// Runs `insert` (doing nothing on a key already there) then `update` (only
    /// when a value differs) for each row, in one transaction.
    fn upsert(
        &mut self,
        insert: &str,
        update: &str,
        rows: impl Iterator<Item = Vec<Value>>,
    ) -> Result<Recorded, StoreError> {
        let path = self.path.clone();
        let sqlite = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(sqlite)?;
        let mut recorded = Recorded::default();
        {
            let mut insert = tx.prepare_cached(insert).map_err(sqlite)?;
            let mut update = tx.prepare_cached(update).map_err(sqlite)?;
            for row in rows {
                let values = rusqlite::params_from_iter(row.iter());
                if insert.execute(values).map_err(sqlite)? == 1 {
                    recorded.new += 1;
                } else if update
                    .execute(rusqlite::params_from_iter(row.iter()))
                    .map_err(sqlite)?
                    == 1
                {
                    recorded.changed += 1;
                } else {
                    recorded.unchanged += 1;
                }
            }
        }
        tx.commit().map_err(sqlite)?;
        Ok(recorded)
    }

    fn corrupt(&self, what: String, reason: impl ToString) -> StoreError {
        StoreError::Corrupt {
            path: self.path.clone(),
            what,
            reason: reason.to_string(),
        }
    }

    fn query(&self, sql: &str, args: &[&str]) -> Result<Vec<Snapshot>, StoreError> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(|e| self.sqlite(e))?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(args), |r| {
                Ok(RawSnapshot {
                    tenant: r.get(0)?,
                    account_id: r.get(1)?,
                    as_of: r.get(2)?,
                    arr: r.get(3)?,
                    score: r.get(4)?,
                    band: r.get(5)?,
                    factors: r.get(6)?,
                    milestones: r.get(7)?,
                    plugin: PluginRef {
                        name: r.get(8)?,
                        version: r.get(9)?,
                        digest: r.get(10)?,
                    },
                    segment: r.get(11)?,
                    renewal_date: r.get(12)?,
                })
            })
            .map_err(|e| self.sqlite(e))?;
        let mut out = Vec::new();
        for raw in rows {
            let raw = raw.map_err(|e| self.sqlite(e))?;
            // One unreadable row (written by an older, laxer build) is skipped
            // and named, never a reason to fail a whole tenant's history.
            match self.decode(raw) {
                Ok(snapshot) => out.push(snapshot),
                Err(e) => tracing::warn!("skipping a stored snapshot: {e}"),
            }
        }
        Ok(out)
    }

    fn decode(&self, raw: RawSnapshot) -> Result<Snapshot, StoreError> {
        let what = || format!("snapshot {} {} {}", raw.tenant, raw.account_id, raw.as_of);
        let milestones: Vec<headway_core::MilestoneProgress> =
            serde_json::from_str(&raw.milestones).map_err(|e| self.corrupt(what(), e))?;
        let renewal_date = raw
            .renewal_date
            .as_deref()
            .map(str::parse)
            .transpose()
            .map_err(|e| self.corrupt(what(), e))?;
        Ok(Snapshot {
            as_of: raw.as_of.parse().map_err(|e| self.corrupt(what(), e))?,
            factors: serde_json::from_str(&raw.factors).map_err(|e| self.corrupt(what(), e))?,
            milestones,
            tenant: raw.tenant,
            account_id: raw.account_id,
            arr: raw.arr,
            segment: raw.segment,
            renewal_date,
            score: raw.score,
            band: raw.band,
            plugin: raw.plugin,
        })
    }
}

/// One run being recorded, in one transaction.
pub trait RunRecorder {
    /// Adds snapshots of the run.
    fn add(&mut self, snapshots: &[Snapshot]) -> Result<(), StoreError>;

    /// Makes the run visible, all of it at once, with its log (`id` and
    /// `recorded` filled in by the store); the log as stored.
    fn commit(self: Box<Self>, log: RunLog) -> Result<RunLog, StoreError>;
}

struct SqliteRun<'s> {
    tx: rusqlite::Transaction<'s>,
    path: &'s Path,
    digest: String,
    recorded: Recorded,
    /// The earliest and latest day recorded.
    days: Option<(Date, Date)>,
}

impl RunRecorder for SqliteRun<'_> {
    fn add(&mut self, snapshots: &[Snapshot]) -> Result<(), StoreError> {
        let result = (|| -> rusqlite::Result<()> {
            let mut insert = self.tx.prepare_cached(
                "INSERT INTO snapshots (tenant, digest, account_id, as_of, arr, score, band,
                                        factors, milestones, segment, renewal_date)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
                 ON CONFLICT DO NOTHING",
            )?;
            let mut update = self.tx.prepare_cached(
                "UPDATE snapshots SET arr = ?5, score = ?6, band = ?7, factors = ?8, milestones = ?9,
                                      segment = ?10, renewal_date = ?11
                 WHERE tenant = ?1 AND digest = ?2 AND account_id = ?3 AND as_of = ?4
                   AND (arr IS NOT ?5 OR score IS NOT ?6 OR band IS NOT ?7
                        OR factors IS NOT ?8 OR milestones IS NOT ?9
                        OR segment IS NOT ?10 OR renewal_date IS NOT ?11)",
            )?;
            for s in snapshots {
                let values = params![
                    s.tenant,
                    self.digest,
                    s.account_id,
                    s.as_of.to_string(),
                    s.arr,
                    s.score,
                    s.band,
                    serde_json::to_string(&s.factors).expect("factors serialise"),
                    serde_json::to_string(&s.milestones).expect("milestones serialise"),
                    s.segment,
                    s.renewal_date.map(|d| d.to_string()),
                ];
                self.days = Some(match self.days {
                    None => (s.as_of, s.as_of),
                    Some((first, last)) => (first.min(s.as_of), last.max(s.as_of)),
                });
                if insert.execute(values)? == 1 {
                    self.recorded.new += 1;
                } else if update.execute(values)? == 1 {
                    self.recorded.changed += 1;
                } else {
                    self.recorded.unchanged += 1;
                }
            }
            Ok(())
        })();
        result.map_err(|source| StoreError::Sqlite {
            path: self.path.to_owned(),
            source,
        })
    }

    fn commit(self: Box<Self>, mut log: RunLog) -> Result<RunLog, StoreError> {
        log.recorded = self.recorded;
        let path = self.path.to_owned();
        let sqlite = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        self.tx
            .execute(
                "INSERT INTO runs (tenant, digest, log) VALUES (?1, ?2, '')",
                params![log.tenant, self.digest],
            )
            .map_err(sqlite)?;
        log.id = self.tx.last_insert_rowid();
        self.tx
            .execute(
                "UPDATE runs SET log = ?2 WHERE id = ?1",
                params![
                    log.id,
                    serde_json::to_string(&log).expect("a run log serialises")
                ],
            )
            .map_err(sqlite)?;
        // What `builds` reads, kept with each run: a count over every snapshot
        // on each read would cost a scan of the tenant's whole history.
        if let Some((first, last)) = self.days {
            self.tx
                .execute(
                    "INSERT INTO tenant_builds VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT (tenant, digest) DO UPDATE SET
                        snapshots = snapshots + excluded.snapshots,
                        first = min(first, excluded.first),
                        last = max(last, excluded.last),
                        last_run = excluded.last_run",
                    params![
                        log.tenant,
                        self.digest,
                        log.recorded.new as i64,
                        first.to_string(),
                        last.to_string(),
                        log.id
                    ],
                )
                .map_err(sqlite)?;
        }
        self.tx.commit().map_err(sqlite)?;
        Ok(log)
    }
}

struct RawSnapshot {
    tenant: String,
    account_id: String,
    as_of: String,
    arr: f64,
    score: f64,
    band: String,
    factors: String,
    milestones: String,
    plugin: PluginRef,
    segment: String,
    renewal_date: Option<String>,
}

impl SnapshotStore for SqliteStore {
    fn record(
        &mut self,
        info: &PluginInfo,
        plugin: &PluginRef,
        snapshots: &[Snapshot],
        log: RunLog,
    ) -> Result<RunLog, StoreError> {
        let mut run = self.begin_run(info, plugin)?;
        run.add(snapshots)?;
        run.commit(log)
    }

    fn begin_run<'s>(
        &'s mut self,
        info: &PluginInfo,
        plugin: &PluginRef,
    ) -> Result<Box<dyn RunRecorder + 's>, StoreError> {
        let info_json = serde_json::to_string(info).expect("plugin info serialises");
        let tx = self
            .conn
            .transaction()
            .map_err(|source| StoreError::Sqlite {
                path: self.path.clone(),
                source,
            })?;
        tx.execute(
            "INSERT INTO plugin_builds (digest, name, version, info) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (digest) DO NOTHING",
            params![plugin.digest, plugin.name, plugin.version, info_json],
        )
        .map_err(|source| StoreError::Sqlite {
            path: self.path.clone(),
            source,
        })?;
        Ok(Box::new(SqliteRun {
            tx,
            path: &self.path,
            digest: plugin.digest.clone(),
            recorded: Recorded::default(),
            days: None,
        }))
    }

    fn account_history(&self, tenant: &str, account: &str) -> Result<Vec<Snapshot>, StoreError> {
        self.query(
            &format!(
                "SELECT {COLUMNS} FROM snapshots s JOIN plugin_builds b ON b.digest = s.digest
                 WHERE s.tenant = ?1 AND s.account_id = ?2 ORDER BY s.as_of, b.version, b.digest"
            ),
            &[tenant, account],
        )
    }

    fn snapshots(&self, tenant: &str, digest: &str) -> Result<Vec<Snapshot>, StoreError> {
        self.query(
            &format!(
                "SELECT {COLUMNS} FROM snapshots s JOIN plugin_builds b ON b.digest = s.digest
                 WHERE s.tenant = ?1 AND s.digest = ?2 ORDER BY s.account_id, s.as_of"
            ),
            &[tenant, digest],
        )
    }

    fn recent(&self, tenant: &str, digest: &str, since: Date) -> Result<Vec<Snapshot>, StoreError> {
        let columns = COLUMNS.replace("s.factors", "'[]'");
        self.query(
            &format!(
                "SELECT {columns} FROM snapshots s JOIN plugin_builds b ON b.digest = s.digest
                 WHERE s.tenant = ?1 AND s.digest = ?2 AND s.as_of >= ?3
                 ORDER BY s.account_id, s.as_of"
            ),
            &[tenant, digest, &since.to_string()],
        )
    }

    fn builds(&self, tenant: &str) -> Result<Vec<StoredBuild>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT b.name, b.version, b.digest, b.info, t.snapshots, t.first, t.last
                 FROM tenant_builds t JOIN plugin_builds b ON b.digest = t.digest
                 WHERE t.tenant = ?1 ORDER BY t.last, t.last_run",
            )
            .map_err(|e| self.sqlite(e))?;
        let rows = stmt
            .query_map([tenant], |r| {
                Ok((
                    PluginRef {
                        name: r.get(0)?,
                        version: r.get(1)?,
                        digest: r.get(2)?,
                    },
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, String>(6)?,
                ))
            })
            .map_err(|e| self.sqlite(e))?;
        rows.map(|row| {
            let (plugin, info, count, first, last) = row.map_err(|e| self.sqlite(e))?;
            let what = || format!("plugin build {}", plugin.digest);
            Ok(StoredBuild {
                info: serde_json::from_str(&info).map_err(|e| self.corrupt(what(), e))?,
                snapshots: count as usize,
                first: first.parse().map_err(|e| self.corrupt(what(), e))?,
                last: last.parse().map_err(|e| self.corrupt(what(), e))?,
                plugin,
            })
        })
        .collect()
    }

    fn runs(
        &self,
        tenant: &str,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<RunLog>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, log FROM runs WHERE tenant = ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3",
            )
            .map_err(|e| self.sqlite(e))?;
        let rows = stmt
            .query_map(
                params![tenant, before.unwrap_or(i64::MAX), limit as i64],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)),
            )
            .map_err(|e| self.sqlite(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, log) = row.map_err(|e| self.sqlite(e))?;
            match serde_json::from_str(&log) {
                Ok(log) => out.push(log),
                Err(e) => tracing::warn!(
                    "skipping run {id}: {}",
                    self.corrupt(format!("run {id}"), e)
                ),
            }
        }
        Ok(out)
    }

    fn run(&self, tenant: &str, id: i64) -> Result<Option<RunLog>, StoreError> {
        let log: Option<String> = self
            .conn
            .query_row(
                "SELECT log FROM runs WHERE tenant = ?1 AND id = ?2",
                params![tenant, id],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.sqlite(e))?;
        log.map(|log| serde_json::from_str(&log).map_err(|e| self.corrupt(format!("run {id}"), e)))
            .transpose()
    }
    fn put_ledger(&mut self, tenant: &str, rows: &[LedgerRow]) -> Result<Recorded, StoreError> {
        self.upsert(
            "INSERT INTO ledger VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING",
            "UPDATE ledger SET arr = ?4, stage = ?5, segment = ?6, term_end = ?7
             WHERE tenant = ?1 AND account_id = ?2 AND date = ?3
               AND (arr IS NOT ?4 OR stage IS NOT ?5 OR segment IS NOT ?6 OR term_end IS NOT ?7)",
            rows.iter().map(|r| {
                vec![
                    Value::from(tenant.to_owned()),
                    Value::from(r.account_id.clone()),
                    Value::from(r.date.to_string()),
                    Value::from(r.arr),
                    Value::from(r.stage.as_str().to_owned()),
                    r.segment.clone().map_or(Value::Null, Value::from),
                    r.term_end
                        .map_or(Value::Null, |d| Value::from(d.to_string())),
                ]
            }),
        )
    }

    fn ledger(&self, tenant: &str) -> Result<Vec<LedgerRow>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT account_id, date, arr, stage, segment, term_end FROM ledger
                 WHERE tenant = ?1 ORDER BY account_id, date",
            )
            .map_err(|e| self.sqlite(e))?;
        let rows = stmt
            .query_map([tenant], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, f64>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, Option<String>>(5)?,
                ))
            })
            .map_err(|e| self.sqlite(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (account_id, date, arr, stage, segment, term_end) =
                row.map_err(|e| self.sqlite(e))?;
            let what = || format!("ledger row {account_id} {date}");
            let term_end = term_end
                .as_deref()
                .map(str::parse)
                .transpose()
                .map_err(|e| self.corrupt(what(), e))?;
            out.push(LedgerRow {
                date: date.parse().map_err(|e| self.corrupt(what(), e))?,
                stage: RevenueStage::from_name(&stage)
                    .ok_or_else(|| self.corrupt(what(), format!("stage `{stage}`")))?,
                account_id,
                arr,
                segment,
                term_end,
            });
        }
        Ok(out)
    }

    fn put_surveys(
        &mut self,
        tenant: &str,
        rows: &[SurveyResponse],
    ) -> Result<Recorded, StoreError> {
        self.upsert(
            "INSERT INTO surveys VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
            "UPDATE surveys SET score = ?5
             WHERE tenant = ?1 AND account_id = ?2 AND date = ?3 AND kind = ?4 AND score IS NOT ?5",
            rows.iter().map(|r| {
                vec![
                    Value::from(tenant.to_owned()),
                    Value::from(r.account_id.clone()),
                    Value::from(r.date.to_string()),
                    Value::from(r.kind.as_str().to_owned()),
                    Value::from(r.score),
                ]
            }),
        )
    }

    fn surveys(&self, tenant: &str) -> Result<Vec<SurveyResponse>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT account_id, date, kind, score FROM surveys
                 WHERE tenant = ?1 ORDER BY account_id, date, kind",
            )
            .map_err(|e| self.sqlite(e))?;
        let rows = stmt
            .query_map([tenant], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, f64>(3)?,
                ))
            })
            .map_err(|e| self.sqlite(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (account_id, date, kind, score) = row.map_err(|e| self.sqlite(e))?;
            let what = || format!("survey answer {account_id} {date} {kind}");
            out.push(SurveyResponse {
                date: date.parse().map_err(|e| self.corrupt(what(), e))?,
                kind: SurveyKind::from_name(&kind)
                    .ok_or_else(|| self.corrupt(what(), format!("survey `{kind}`")))?,
                account_id,
                score,
            });
        }
        Ok(out)
    }
}

/// The build of `tenant` with the latest snapshot, if any.
pub fn latest_build(
    store: &dyn SnapshotStore,
    tenant: &str,
) -> Result<Option<StoredBuild>, StoreError> {
    Ok(store.builds(tenant)?.pop())
}

#[cfg(test)]
mod tests {
    use super::*;
    use headway_core::{FactorScore, MilestoneProgress};

    fn plugin(digest: &str) -> PluginRef {
        PluginRef {
            name: "p".into(),
            version: digest.trim_start_matches("sha256:").into(),
            digest: digest.into(),
        }
    }

    fn snap(account: &str, day: &str, score: f64, digest: &str) -> Snapshot {
        Snapshot {
            tenant: "acme".into(),
            account_id: account.into(),
            as_of: day.parse().unwrap(),
            arr: 1_200.0,
            segment: String::new(),
            renewal_date: None,
            score,
            band: "green".into(),
            factors: vec![FactorScore {
                name: "usage".into(),
                value: 0.5,
                weight: 1.0,
                contribution: score,
                reason: "half".into(),
            }],
            milestones: vec![MilestoneProgress {
                id: "m".into(),
                progress: 0.5,
                reached_on: None,
                predicted_on: Some("2026-12-01".parse().unwrap()),
                likelihood: Some(0.3),
            }],
            plugin: plugin(digest),
        }
    }

    /// Records `snapshots` as one run of build `digest`.
    fn record(store: &mut SqliteStore, digest: &str, snapshots: &[Snapshot]) -> Recorded {
        let log = RunLog::new(
            "acme",
            &plugin(digest),
            "test",
            "2026-11-01T00:00:00Z".into(),
        );
        store
            .record(&info(), &plugin(digest), snapshots, log)
            .unwrap()
            .recorded
    }

    fn info() -> PluginInfo {
        PluginInfo {
            name: "p".into(),
            version: "1".into(),
            ..PluginInfo::default()
        }
    }

    #[test]
    fn round_trip_and_idempotent_reruns() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.db");
        let mut store = SqliteStore::open(&path).unwrap();
        let run = [
            snap("a", "2026-10-01", 50.0, "sha256:1"),
            snap("a", "2026-11-01", 60.0, "sha256:1"),
            snap("b", "2026-11-01", 70.0, "sha256:1"),
        ];
        let first = record(&mut store, "sha256:1", &run);
        assert_eq!(
            first,
            Recorded {
                new: 3,
                changed: 0,
                unchanged: 0
            }
        );
        let again = record(&mut store, "sha256:1", &run);
        assert_eq!(
            again,
            Recorded {
                new: 0,
                changed: 0,
                unchanged: 3
            }
        );
        // Corrected input for one day: replaced, not duplicated.
        let fixed = [snap("b", "2026-11-01", 72.0, "sha256:1")];
        let third = record(&mut store, "sha256:1", &fixed);
        assert_eq!(
            third,
            Recorded {
                new: 0,
                changed: 1,
                unchanged: 0
            }
        );
        // A new build is kept beside the old one.
        let v2 = [snap("a", "2026-11-01", 65.0, "sha256:2")];
        record(&mut store, "sha256:2", &v2);

        let history = store.account_history("acme", "a").unwrap();
        let seen: Vec<(String, f64, &str)> = history
            .iter()
            .map(|s| (s.as_of.to_string(), s.score, s.plugin.digest.as_str()))
            .collect();
        assert_eq!(
            seen,
            [
                ("2026-10-01".to_owned(), 50.0, "sha256:1"),
                ("2026-11-01".to_owned(), 60.0, "sha256:1"),
                ("2026-11-01".to_owned(), 65.0, "sha256:2"),
            ]
        );
        assert_eq!(history[0], run[0], "every field round-trips");
        assert_eq!(store.snapshots("acme", "sha256:1").unwrap()[2].score, 72.0);
        assert!(store.snapshots("other", "sha256:1").unwrap().is_empty());
        let builds = store.builds("acme").unwrap();
        assert_eq!(builds.len(), 2);
        assert_eq!(
            (builds[0].snapshots, builds[0].first.to_string()),
            (3, "2026-10-01".to_owned())
        );
        assert_eq!(builds[1].info, info());
    }

    #[test]
    fn one_unreadable_row_is_skipped_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.db");
        let mut store = SqliteStore::open(&path).unwrap();
        let run = [
            snap("a", "2026-10-01", 50.0, "sha256:1"),
            snap("a", "2026-11-01", 60.0, "sha256:1"),
        ];
        record(&mut store, "sha256:1", &run);
        // What an older build let a plugin write: a day no reader can parse.
        store
            .conn
            .execute(
                "UPDATE snapshots SET milestones = replace(milestones, '2026-12-01', '5881580-07-11')
                 WHERE as_of = '2026-10-01'",
                [],
            )
            .unwrap();
        let history = store.account_history("acme", "a").unwrap();
        assert_eq!(history.len(), 1, "the bad row is skipped");
        assert_eq!(history[0].as_of.to_string(), "2026-11-01");
        assert_eq!(store.snapshots("acme", "sha256:1").unwrap().len(), 1);
    }

    #[test]
    fn a_crash_mid_run_keeps_what_was_committed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.db");
        let mut store = SqliteStore::open(&path).unwrap();
        record(
            &mut store,
            "sha256:1",
            &[snap("a", "2026-10-01", 50.0, "sha256:1")],
        );
        // A second run dies mid-transaction: its connection is never closed and
        // its rows never committed (what a killed process leaves in the WAL).
        let mut dying = SqliteStore::open(&path).unwrap();
        let tx = dying.conn.transaction().unwrap();
        tx.execute(
            "INSERT INTO snapshots (tenant, digest, account_id, as_of, arr, score, band, factors, milestones)
             VALUES ('acme', 'sha256:1', 'b', '2026-10-01', 1, 1, 'x', '[]', '[]')",
            [],
        )
        .unwrap();
        std::mem::forget(tx);
        std::mem::forget(dying);
        let reopened = SqliteStore::open(&path).unwrap();
        let kept = reopened.snapshots("acme", "sha256:1").unwrap();
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].account_id, "a");
    }

    #[test]
    fn errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("not-a-db.db");
        std::fs::write(
            &path,
            "this is a text file, not SQLite, and long enough to tell",
        )
        .unwrap();
        let err = SqliteStore::open(&path).err().unwrap().to_string();
        assert!(
            err.contains("not-a-db.db") && err.contains("not a database"),
            "{err}"
        );

        let path = dir.path().join("future.db");
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        drop(conn);
        let err = SqliteStore::open(&path).err().unwrap().to_string();
        assert!(
            err.contains("schema version 99, this build reads up to 2"),
            "{err}"
        );
    }

    #[test]
    fn runs_are_logged_with_their_snapshots_and_listed_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.db");
        let mut store = SqliteStore::open(&path).unwrap();
        for day in ["2026-09-01", "2026-10-01", "2026-11-01"] {
            record(&mut store, "sha256:1", &[snap("a", day, 50.0, "sha256:1")]);
        }
        let runs = store.runs("acme", None, 2).unwrap();
        let ids: Vec<i64> = runs.iter().map(|r| r.id).collect();
        assert_eq!(ids, [3, 2]);
        assert_eq!(runs[0].recorded.new, 1);
        assert_eq!(runs[0].plugin.digest, "sha256:1");
        // The next page starts below the last id seen.
        let older: Vec<i64> = store
            .runs("acme", Some(2), 2)
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(older, [1]);
        assert_eq!(store.run("acme", 2).unwrap().unwrap().id, 2);
        // Another tenant sees neither the list nor a run by its id.
        assert!(store.runs("other", None, 10).unwrap().is_empty());
        assert!(store.run("other", 2).unwrap().is_none());
    }

    #[test]
    fn a_version_1_file_is_upgraded_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1.db");
        // What a version 1 build wrote: no runs, no segment or renewal day.
        let v1 = Connection::open(&path).unwrap();
        v1.execute_batch(
            "CREATE TABLE plugin_builds (digest TEXT PRIMARY KEY, name TEXT NOT NULL,
                                         version TEXT NOT NULL, info TEXT NOT NULL);
             CREATE TABLE snapshots (tenant TEXT NOT NULL, digest TEXT NOT NULL
                 REFERENCES plugin_builds (digest), account_id TEXT NOT NULL,
                 as_of TEXT NOT NULL, arr REAL NOT NULL, score REAL NOT NULL,
                 band TEXT NOT NULL, factors TEXT NOT NULL, milestones TEXT NOT NULL,
                 UNIQUE (tenant, digest, account_id, as_of));
             PRAGMA user_version = 1;",
        )
        .unwrap();
        v1.execute(
            "INSERT INTO plugin_builds VALUES ('sha256:1', 'p', '1', ?1)",
            [serde_json::to_string(&info()).unwrap()],
        )
        .unwrap();
        v1.execute(
            "INSERT INTO snapshots VALUES ('acme', 'sha256:1', 'a', '2026-10-01', 1200, 50,
                 'green', '[]', '[]')",
            [],
        )
        .unwrap();
        drop(v1);
        let mut store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.snapshots("acme", "sha256:1").unwrap().len(), 1);
        let builds = store.builds("acme").unwrap();
        assert_eq!(
            (builds.len(), builds[0].snapshots),
            (1, 1),
            "counts backfilled"
        );
        record(
            &mut store,
            "sha256:1",
            &[snap("a", "2026-11-01", 55.0, "sha256:1")],
        );
        assert_eq!(store.runs("acme", None, 10).unwrap().len(), 1);
        let builds = store.builds("acme").unwrap();
        assert_eq!(
            (builds[0].snapshots, builds[0].last.to_string()),
            (2, "2026-11-01".to_owned())
        );
        let version: i64 = store
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, 2);
    }

    #[test]
    fn ledger_and_survey_uploads_are_idempotent_and_scoped() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SqliteStore::open(&dir.path().join("h.db")).unwrap();
        let row = |account: &str, day: &str, arr: f64| LedgerRow {
            account_id: account.into(),
            date: day.parse().unwrap(),
            arr,
            stage: RevenueStage::Paid,
            segment: Some("smb".into()),
            term_end: Some("2027-01-01".parse().unwrap()),
        };
        let rows = vec![row("a", "2026-01-01", 1200.0), row("b", "2026-02-01", 0.0)];
        let counts = |r: Recorded| (r.new, r.changed, r.unchanged);
        assert_eq!(counts(store.put_ledger("acme", &rows).unwrap()), (2, 0, 0));
        assert_eq!(counts(store.put_ledger("acme", &rows).unwrap()), (0, 0, 2));
        let fixed = [row("a", "2026-01-01", 1500.0)];
        assert_eq!(counts(store.put_ledger("acme", &fixed).unwrap()), (0, 1, 0));
        let stored = store.ledger("acme").unwrap();
        assert_eq!(stored, vec![fixed[0].clone(), rows[1].clone()]);
        assert!(store.ledger("other").unwrap().is_empty());

        let answer = SurveyResponse {
            account_id: "a".into(),
            date: "2026-03-01".parse().unwrap(),
            kind: SurveyKind::Nps,
            score: 9.0,
        };
        let csat = SurveyResponse {
            kind: SurveyKind::Csat,
            score: 4.0,
            ..answer.clone()
        };
        let both = [answer.clone(), csat.clone()];
        assert_eq!(counts(store.put_surveys("acme", &both).unwrap()), (2, 0, 0));
        assert_eq!(counts(store.put_surveys("acme", &both).unwrap()), (0, 0, 2));
        assert_eq!(store.surveys("acme").unwrap(), vec![csat, answer]);
        assert!(store.surveys("other").unwrap().is_empty());
    }
}
