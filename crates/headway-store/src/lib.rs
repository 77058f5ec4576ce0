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

use headway_core::success::Snapshot;
use headway_core::{Date, PluginInfo, PluginRef};
use rusqlite::{Connection, params};

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
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recorded {
    /// Snapshots not stored before.
    pub new: usize,
    /// Snapshots stored before with other values (the input for that day changed).
    pub changed: usize,
    /// Snapshots stored before with the same values.
    pub unchanged: usize,
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
    /// Records one run of one plugin build, all or nothing.
    fn record(
        &mut self,
        info: &PluginInfo,
        plugin: &PluginRef,
        snapshots: &[Snapshot],
    ) -> Result<Recorded, StoreError>;

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

    /// The builds with snapshots for a tenant: by latest day, then the most
    /// recently recorded last.
    fn builds(&self, tenant: &str) -> Result<Vec<StoredBuild>, StoreError>;
}

/// The schema version this build writes (`PRAGMA user_version`).
const SCHEMA_VERSION: i64 = 1;

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
    score      REAL NOT NULL,
    band       TEXT NOT NULL,
    factors    TEXT NOT NULL,
    milestones TEXT NOT NULL,
    UNIQUE (tenant, digest, account_id, as_of)
);
CREATE INDEX IF NOT EXISTS snapshots_by_account ON snapshots (tenant, account_id, as_of);
";

const COLUMNS: &str = "s.tenant, s.account_id, s.as_of, s.arr, s.score, s.band, s.factors, s.milestones, \
     b.name, b.version, b.digest";

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
            conn.execute_batch(SCHEMA)
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
        Ok(Snapshot {
            as_of: raw.as_of.parse().map_err(|e| self.corrupt(what(), e))?,
            factors: serde_json::from_str(&raw.factors).map_err(|e| self.corrupt(what(), e))?,
            milestones,
            tenant: raw.tenant,
            account_id: raw.account_id,
            arr: raw.arr,
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

    /// Makes the run visible, all of it at once.
    fn commit(self: Box<Self>) -> Result<Recorded, StoreError>;
}

struct SqliteRun<'s> {
    tx: rusqlite::Transaction<'s>,
    path: &'s Path,
    digest: String,
    recorded: Recorded,
}

impl RunRecorder for SqliteRun<'_> {
    fn add(&mut self, snapshots: &[Snapshot]) -> Result<(), StoreError> {
        let result = (|| -> rusqlite::Result<()> {
            let mut insert = self.tx.prepare_cached(
                "INSERT INTO snapshots VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT DO NOTHING",
            )?;
            let mut update = self.tx.prepare_cached(
                "UPDATE snapshots SET arr = ?5, score = ?6, band = ?7, factors = ?8, milestones = ?9
                 WHERE tenant = ?1 AND digest = ?2 AND account_id = ?3 AND as_of = ?4
                   AND (arr IS NOT ?5 OR score IS NOT ?6 OR band IS NOT ?7
                        OR factors IS NOT ?8 OR milestones IS NOT ?9)",
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
                ];
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

    fn commit(self: Box<Self>) -> Result<Recorded, StoreError> {
        let recorded = self.recorded;
        let path = self.path.to_owned();
        self.tx
            .commit()
            .map_err(|source| StoreError::Sqlite { path, source })?;
        Ok(recorded)
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
}

impl SnapshotStore for SqliteStore {
    fn record(
        &mut self,
        info: &PluginInfo,
        plugin: &PluginRef,
        snapshots: &[Snapshot],
    ) -> Result<Recorded, StoreError> {
        let mut run = self.begin_run(info, plugin)?;
        run.add(snapshots)?;
        run.commit()
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

    fn builds(&self, tenant: &str) -> Result<Vec<StoredBuild>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT b.name, b.version, b.digest, b.info, count(*), min(s.as_of), max(s.as_of)
                 FROM snapshots s JOIN plugin_builds b ON b.digest = s.digest
                 WHERE s.tenant = ?1 GROUP BY b.digest ORDER BY max(s.as_of), max(s.rowid)",
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
        let first = store.record(&info(), &plugin("sha256:1"), &run).unwrap();
        assert_eq!(
            first,
            Recorded {
                new: 3,
                changed: 0,
                unchanged: 0
            }
        );
        let again = store.record(&info(), &plugin("sha256:1"), &run).unwrap();
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
        let third = store.record(&info(), &plugin("sha256:1"), &fixed).unwrap();
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
        store.record(&info(), &plugin("sha256:2"), &v2).unwrap();

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
        store.record(&info(), &plugin("sha256:1"), &run).unwrap();
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
        store
            .record(
                &info(),
                &plugin("sha256:1"),
                &[snap("a", "2026-10-01", 50.0, "sha256:1")],
            )
            .unwrap();
        // A second run dies mid-transaction: its connection is never closed and
        // its rows never committed (what a killed process leaves in the WAL).
        let mut dying = SqliteStore::open(&path).unwrap();
        let tx = dying.conn.transaction().unwrap();
        tx.execute(
            "INSERT INTO snapshots VALUES ('acme', 'sha256:1', 'b', '2026-10-01', 1, 1, 'x', '[]', '[]')",
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
            err.contains("schema version 99, this build reads up to 1"),
            "{err}"
        );
    }
}
