//! The embedded backend: one SQLite file.

use std::path::{Path, PathBuf};

use headway_core::retention::{AdvocacyEvent, LedgerRow, SurveyResponse};
use headway_core::success::Snapshot;
use headway_core::{Date, PluginInfo, PluginRef};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params};

use crate::rows::{
    ALERT_COLUMNS, RawAlert, RawSnapshot, advocacy_row, decision, in_outbox_order, ledger_row,
    override_change, readable, readable_runs, run_log, settlement, stored_alert, stored_build,
    stored_override, survey_row, to_json,
};
use crate::{
    AlertKey, AlertQuery, AlertStatus, Attempt, Decision, DecisionEntry, KeptBuild, OverrideEdit,
    Recorded, RunLog, RunRecorder, SnapshotStore, StoreError, StoredAlert, StoredBuild,
};
use headway_core::alerts::Fired;
use headway_core::overrides::{Override, OverrideChange};

/// The schema version this build writes (`PRAGMA user_version`). Older files
/// are upgraded in place: [`UPGRADE_FROM_1`] or [`UPGRADE_FROM_3`], then
/// [`SCHEMA`] (which only creates what is missing: version 5 added overrides,
/// version 6 advocacy, version 7 the decision log).
const SCHEMA_VERSION: i64 = 7;

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

/// Version 3 alerts had no detail and no delivery state.
const UPGRADE_FROM_3: &str = "
ALTER TABLE alerts ADD COLUMN detail TEXT NOT NULL DEFAULT 'null';
ALTER TABLE alerts ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE alerts ADD COLUMN next_attempt_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE alerts ADD COLUMN claimed_until_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE alerts ADD COLUMN last_error TEXT;
ALTER TABLE alerts ADD COLUMN delivered_at TEXT;
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
CREATE TABLE IF NOT EXISTS advocacy (
    tenant     TEXT NOT NULL,
    account_id TEXT NOT NULL,
    date       TEXT NOT NULL,
    kind       TEXT NOT NULL,
    referred   TEXT NOT NULL,
    PRIMARY KEY (tenant, account_id, date, kind, referred)
);
CREATE TABLE IF NOT EXISTS alerts (
    tenant     TEXT NOT NULL,
    rule       TEXT NOT NULL,
    account_id TEXT NOT NULL,
    as_of      TEXT NOT NULL,
    kind       TEXT NOT NULL,
    digest     TEXT NOT NULL,
    summary    TEXT NOT NULL,
    status     TEXT NOT NULL DEFAULT 'pending',
    detail     TEXT NOT NULL DEFAULT 'null',
    attempts   INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms  INTEGER NOT NULL DEFAULT 0,
    claimed_until_ms INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT,
    delivered_at TEXT,
    PRIMARY KEY (tenant, rule, account_id, as_of)
);
CREATE INDEX IF NOT EXISTS alerts_due ON alerts (tenant, status, next_attempt_ms);
CREATE TABLE IF NOT EXISTS overrides (
    tenant     TEXT NOT NULL,
    account_id TEXT NOT NULL,
    target     TEXT NOT NULL,
    body       TEXT NOT NULL,
    PRIMARY KEY (tenant, account_id, target)
);
CREATE TABLE IF NOT EXISTS override_log (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant     TEXT NOT NULL,
    account_id TEXT NOT NULL,
    change     TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS override_log_by_account ON override_log (tenant, account_id, id);
CREATE TABLE IF NOT EXISTS decisions (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant TEXT NOT NULL,
    body   TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS decisions_by_tenant ON decisions (tenant, id);
CREATE TABLE IF NOT EXISTS kept_inputs (
    tenant TEXT NOT NULL,
    digest TEXT NOT NULL,
    body   BLOB NOT NULL,
    PRIMARY KEY (tenant, digest)
);
CREATE TABLE IF NOT EXISTS kept_builds (
    tenant    TEXT NOT NULL,
    key       TEXT NOT NULL,
    component BLOB NOT NULL,
    options   TEXT NOT NULL,
    PRIMARY KEY (tenant, key)
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
                store: path.display().to_string(),
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
            let (upgrade, backfill) = match found {
                1 => (UPGRADE_FROM_1, BACKFILL_FROM_1),
                3 => (UPGRADE_FROM_3, ""),
                _ => ("", ""),
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

    /// The outbox rows `sql` returns ([`ALERT_COLUMNS`]).
    fn alert_rows(
        &self,
        sql: &str,
        args: impl rusqlite::Params,
    ) -> Result<Vec<StoredAlert>, StoreError> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(|e| self.sqlite(e))?;
        let rows = stmt
            .query_map(args, |r| {
                Ok(RawAlert {
                    rule: r.get(0)?,
                    kind: r.get(1)?,
                    account_id: r.get(2)?,
                    as_of: r.get(3)?,
                    digest: r.get(4)?,
                    summary: r.get(5)?,
                    detail: r.get(6)?,
                    status: r.get(7)?,
                    attempts: r.get(8)?,
                    last_error: r.get(9)?,
                    delivered_at: r.get(10)?,
                })
            })
            .map_err(|e| self.sqlite(e))?;
        rows.map(|row| stored_alert(&self.label(), row.map_err(|e| self.sqlite(e))?))
            .collect()
    }

    /// The file, as errors name it.
    fn label(&self) -> String {
        self.path.display().to_string()
    }

    /// `(id, JSON)` rows of a page that `sql` selects (tenant, before, limit),
    /// newest first: a page of runs or of decisions.
    fn newest_first(
        &self,
        sql: &str,
        tenant: &str,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<(i64, String)>, StoreError> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(|e| self.sqlite(e))?;
        let rows = stmt
            .query_map(
                params![tenant, before.unwrap_or(i64::MAX), limit as i64],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(|e| self.sqlite(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.sqlite(e))
    }

    fn query(&self, sql: &str, args: &[&str]) -> Result<Vec<Snapshot>, StoreError> {
        query(&self.conn, &self.path, sql, args)
    }
}

/// Snapshots `sql` selects ([`COLUMNS`]) with `args`, on a connection or in a
/// transaction.
fn query(
    conn: &Connection,
    path: &Path,
    sql: &str,
    args: &[&str],
) -> Result<Vec<Snapshot>, StoreError> {
    let sqlite = |source| StoreError::Sqlite {
        path: path.to_owned(),
        source,
    };
    let mut stmt = conn.prepare_cached(sql).map_err(sqlite)?;
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
        .map_err(sqlite)?;
    let raws = rows.collect::<Result<Vec<_>, _>>().map_err(sqlite)?;
    Ok(readable(&path.display().to_string(), raws))
}

struct SqliteRun<'s> {
    tx: rusqlite::Transaction<'s>,
    path: &'s Path,
    tenant: String,
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

    fn prior(
        &mut self,
        accounts: &[&str],
        since: Date,
        until: Date,
    ) -> Result<Vec<Snapshot>, StoreError> {
        let ids = serde_json::to_string(accounts).expect("ids serialise");
        query(
            &self.tx,
            self.path,
            &format!(
                "SELECT {COLUMNS} FROM snapshots s JOIN plugin_builds b ON b.digest = s.digest
                 WHERE s.tenant = ?1 AND s.digest = ?2
                   AND s.account_id IN (SELECT value FROM json_each(?3))
                   AND s.as_of >= ?4 AND s.as_of < ?5
                 ORDER BY s.account_id, s.as_of"
            ),
            &[
                &self.tenant,
                &self.digest,
                &ids,
                &since.to_string(),
                &until.to_string(),
            ],
        )
    }

    fn add_alerts(&mut self, fired: &[Fired]) -> Result<usize, StoreError> {
        let result = (|| -> rusqlite::Result<usize> {
            let mut insert = self.tx.prepare_cached(
                "INSERT INTO alerts (tenant, rule, account_id, as_of, kind, digest, summary, detail)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT DO NOTHING",
            )?;
            let mut new = 0;
            for f in fired {
                new += insert.execute(params![
                    self.tenant,
                    f.rule,
                    f.account_id,
                    f.as_of.to_string(),
                    f.kind,
                    self.digest,
                    f.summary,
                    crate::rows::detail_json(&f.detail),
                ])?;
            }
            Ok(new)
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

impl SnapshotStore for SqliteStore {
    fn begin_run<'s>(
        &'s mut self,
        tenant: &str,
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
            tenant: tenant.to_owned(),
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
        rows.map(|row| stored_build(&self.label(), row.map_err(|e| self.sqlite(e))?))
            .collect()
    }

    fn runs(
        &self,
        tenant: &str,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<RunLog>, StoreError> {
        let rows = self.newest_first(
            "SELECT id, log FROM runs WHERE tenant = ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3",
            tenant,
            before,
            limit,
        )?;
        Ok(readable_runs(&self.label(), rows))
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
        log.map(|log| run_log(&self.label(), id, &log)).transpose()
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
        rows.map(|row| ledger_row(&self.label(), row.map_err(|e| self.sqlite(e))?))
            .collect()
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

    fn put_advocacy(
        &mut self,
        tenant: &str,
        rows: &[AdvocacyEvent],
    ) -> Result<Recorded, StoreError> {
        // Every column is the key: an event is there or not, never changed.
        self.upsert(
            "INSERT INTO advocacy VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
            "UPDATE advocacy SET kind = ?4
             WHERE 0 AND tenant = ?1 AND account_id = ?2 AND date = ?3 AND referred = ?5",
            rows.iter().map(|r| {
                vec![
                    Value::from(tenant.to_owned()),
                    Value::from(r.account_id.clone()),
                    Value::from(r.date.to_string()),
                    Value::from(r.kind.as_str().to_owned()),
                    Value::from(r.referred.clone().unwrap_or_default()),
                ]
            }),
        )
    }

    fn advocacy(&self, tenant: &str) -> Result<Vec<AdvocacyEvent>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT account_id, date, kind, referred FROM advocacy
                 WHERE tenant = ?1 ORDER BY account_id, date, kind, referred",
            )
            .map_err(|e| self.sqlite(e))?;
        let rows = stmt
            .query_map([tenant], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .map_err(|e| self.sqlite(e))?;
        rows.map(|row| advocacy_row(&self.label(), row.map_err(|e| self.sqlite(e))?))
            .collect()
    }

    fn alerts(&self, tenant: &str, query: &AlertQuery) -> Result<Vec<StoredAlert>, StoreError> {
        let since = query.since.map_or_else(String::new, |d| d.to_string());
        let status = query.status.map(AlertStatus::as_str);
        self.alert_rows(
            &format!(
                "SELECT {ALERT_COLUMNS} FROM alerts
                 WHERE tenant = ?1 AND as_of >= ?2 AND (?3 IS NULL OR status = ?3)
                 ORDER BY as_of DESC, rule, account_id LIMIT ?4"
            ),
            params![tenant, since, status, query.limit as i64],
        )
    }

    fn claim_alerts(
        &mut self,
        tenant: &str,
        now_ms: i64,
        lease_ms: i64,
        limit: usize,
    ) -> Result<Vec<StoredAlert>, StoreError> {
        // One statement: SQLite's write lock makes the take atomic across processes.
        let mut claimed = self.alert_rows(
            &format!(
                "UPDATE alerts SET claimed_until_ms = ?3
                 WHERE rowid IN (
                     SELECT rowid FROM alerts
                     WHERE tenant = ?1 AND status = 'pending'
                       AND next_attempt_ms <= ?2 AND claimed_until_ms <= ?2
                     ORDER BY as_of, rule, account_id LIMIT ?4)
                 RETURNING {ALERT_COLUMNS}"
            ),
            params![
                tenant,
                now_ms,
                now_ms.saturating_add(lease_ms),
                limit as i64
            ],
        )?;
        in_outbox_order(&mut claimed);
        Ok(claimed)
    }

    fn settle_alert(
        &mut self,
        tenant: &str,
        key: &AlertKey,
        attempt: &Attempt,
    ) -> Result<bool, StoreError> {
        let (status, error, retry_at, delivered_at) = settlement(attempt);
        let changed = self
            .conn
            .execute(
                "UPDATE alerts SET status = ?5, last_error = coalesce(?6, last_error),
                     next_attempt_ms = ?7, delivered_at = ?8, claimed_until_ms = 0,
                     attempts = attempts + 1
                 WHERE tenant = ?1 AND rule = ?2 AND account_id = ?3 AND as_of = ?4
                   AND status = 'pending'",
                params![
                    tenant,
                    key.rule,
                    key.account_id,
                    key.as_of.to_string(),
                    status.as_str(),
                    error,
                    retry_at,
                    delivered_at
                ],
            )
            .map_err(|e| self.sqlite(e))?;
        Ok(changed == 1)
    }

    fn change_override(
        &mut self,
        tenant: &str,
        edit: OverrideEdit,
    ) -> Result<Option<OverrideChange>, StoreError> {
        let label = self.label();
        let path = self.path.clone();
        let sqlite = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let target = edit.target.to_string();
        let key = params![tenant, edit.account_id, target];
        let tx = self.conn.transaction().map_err(sqlite)?;
        let old: Option<String> = tx
            .query_row(
                "SELECT body FROM overrides WHERE tenant = ?1 AND account_id = ?2 AND target = ?3",
                key,
                |r| r.get(0),
            )
            .optional()
            .map_err(sqlite)?;
        let old = old.map(|b| stored_override(&label, &b)).transpose()?;
        let Some(change) = edit.over(old) else {
            return Ok(None);
        };
        match &change.new {
            Some(new) => tx.execute(
                "INSERT INTO overrides VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (tenant, account_id, target) DO UPDATE SET body = excluded.body",
                params![tenant, change.account_id, target, to_json(new)],
            ),
            None => tx.execute(
                "DELETE FROM overrides WHERE tenant = ?1 AND account_id = ?2 AND target = ?3",
                params![tenant, change.account_id, target],
            ),
        }
        .and_then(|_| {
            tx.execute(
                "INSERT INTO override_log (tenant, account_id, change) VALUES (?1, ?2, ?3)",
                params![tenant, change.account_id, to_json(&change)],
            )
        })
        .and_then(|_| tx.commit())
        .map_err(sqlite)?;
        Ok(Some(change))
    }

    fn overrides(&self, tenant: &str, account: Option<&str>) -> Result<Vec<Override>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT body FROM overrides WHERE tenant = ?1 AND (?2 IS NULL OR account_id = ?2)
                 ORDER BY account_id, target",
            )
            .map_err(|e| self.sqlite(e))?;
        let rows = stmt
            .query_map(params![tenant, account], |r| r.get::<_, String>(0))
            .map_err(|e| self.sqlite(e))?;
        rows.map(|body| stored_override(&self.label(), &body.map_err(|e| self.sqlite(e))?))
            .collect()
    }

    fn override_log(&self, tenant: &str, account: &str) -> Result<Vec<OverrideChange>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, change FROM override_log WHERE tenant = ?1 AND account_id = ?2
                 ORDER BY id",
            )
            .map_err(|e| self.sqlite(e))?;
        let rows = stmt
            .query_map(params![tenant, account], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(|e| self.sqlite(e))?;
        rows.map(|row| {
            let (id, body) = row.map_err(|e| self.sqlite(e))?;
            override_change(&self.label(), id, &body)
        })
        .collect()
    }

    fn log_decision(&mut self, entry: &DecisionEntry<'_>) -> Result<Decision, StoreError> {
        let path = self.path.clone();
        let sqlite = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let mut decision = entry.decision.clone();
        let tx = self.conn.transaction().map_err(sqlite)?;
        if let Some(input) = entry.input {
            tx.execute(
                "INSERT INTO kept_inputs VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                params![decision.tenant, decision.input_digest, input],
            )
            .map_err(sqlite)?;
        }
        if let Some(build) = entry.build {
            tx.execute(
                "INSERT INTO kept_builds VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
                params![
                    decision.tenant,
                    decision.build,
                    build.component,
                    build.options
                ],
            )
            .map_err(sqlite)?;
        }
        // The id is the row's; the body holds the rest.
        tx.execute(
            "INSERT INTO decisions (tenant, body) VALUES (?1, ?2)",
            params![decision.tenant, to_json(&decision)],
        )
        .map_err(sqlite)?;
        decision.id = tx.last_insert_rowid();
        tx.commit().map_err(sqlite)?;
        Ok(decision)
    }

    fn decisions(
        &self,
        tenant: &str,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<Decision>, StoreError> {
        let rows = self.newest_first(
            "SELECT id, body FROM decisions WHERE tenant = ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3",
            tenant,
            before,
            limit,
        )?;
        rows.into_iter()
            .map(|(id, body)| decision(&self.label(), id, &body))
            .collect()
    }

    fn decision(&self, tenant: &str, id: i64) -> Result<Option<Decision>, StoreError> {
        let body: Option<String> = self
            .conn
            .query_row(
                "SELECT body FROM decisions WHERE tenant = ?1 AND id = ?2",
                params![tenant, id],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.sqlite(e))?;
        body.map(|b| decision(&self.label(), id, &b)).transpose()
    }

    fn kept_input(&self, tenant: &str, digest: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.conn
            .query_row(
                "SELECT body FROM kept_inputs WHERE tenant = ?1 AND digest = ?2",
                params![tenant, digest],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.sqlite(e))
    }

    fn kept_build(&self, tenant: &str, key: &str) -> Result<Option<KeptBuild>, StoreError> {
        self.conn
            .query_row(
                "SELECT component, options FROM kept_builds WHERE tenant = ?1 AND key = ?2",
                params![tenant, key],
                |r| {
                    Ok(KeptBuild {
                        component: r.get(0)?,
                        options: r.get(1)?,
                    })
                },
            )
            .optional()
            .map_err(|e| self.sqlite(e))
    }

    fn has_kept_build(&self, tenant: &str, key: &str) -> Result<bool, StoreError> {
        self.conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM kept_builds WHERE tenant = ?1 AND key = ?2)",
                params![tenant, key],
                |r| r.get(0),
            )
            .map_err(|e| self.sqlite(e))
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
        rows.map(|row| survey_row(&self.label(), row.map_err(|e| self.sqlite(e))?))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{info, record, snap};

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
            err.contains(&format!(
                "schema version 99, this build reads up to {SCHEMA_VERSION}"
            )),
            "{err}"
        );
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
        assert_eq!(version, SCHEMA_VERSION);
    }

    #[test]
    fn a_version_3_outbox_gains_delivery_state_and_keeps_its_alerts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v3.db");
        drop(SqliteStore::open(&path).unwrap());
        // Take the file back to what version 3 wrote: the alerts table without
        // detail or delivery columns, one alert in it.
        let v3 = Connection::open(&path).unwrap();
        v3.execute_batch(
            "DROP TABLE alerts;
             CREATE TABLE alerts (tenant TEXT NOT NULL, rule TEXT NOT NULL,
                 account_id TEXT NOT NULL, as_of TEXT NOT NULL, kind TEXT NOT NULL,
                 digest TEXT NOT NULL, summary TEXT NOT NULL,
                 status TEXT NOT NULL DEFAULT 'pending',
                 PRIMARY KEY (tenant, rule, account_id, as_of));
             INSERT INTO alerts VALUES ('acme', 'turned-red', 'a', '2026-10-01',
                 'band-entered', 'sha256:1', 'entered red', 'pending');
             PRAGMA user_version = 3;",
        )
        .unwrap();
        drop(v3);
        let mut store = SqliteStore::open(&path).unwrap();
        let claimed = store.claim_alerts("acme", 10, 100, 10).unwrap();
        assert_eq!(claimed.len(), 1);
        assert_eq!(
            (
                claimed[0].summary.as_str(),
                claimed[0].detail.as_ref(),
                claimed[0].attempts
            ),
            ("entered red", None, 0)
        );
    }
}
