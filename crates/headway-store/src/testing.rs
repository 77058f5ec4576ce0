//! For tests (feature `testing`): small fixtures, and a PostgreSQL schema of a
//! test's own.
//!
//! The database is `HEADWAY_TEST_POSTGRES` (default
//! `postgres://postgres@127.0.0.1:5432/test`). Where it cannot be reached the
//! PostgreSQL tests skip, saying why, unless `HEADWAY_REQUIRE_POSTGRES` is set
//! (as CI sets it): then they fail.

use std::sync::atomic::{AtomicUsize, Ordering};

use headway_core::success::Snapshot;
use headway_core::{FactorScore, MilestoneProgress, PluginInfo, PluginRef};

use crate::{Recorded, RunLog, SnapshotStore, StoreLocation};

/// Build `digest` of plugin `p`, version from the digest.
pub fn plugin(digest: &str) -> PluginRef {
    PluginRef {
        name: "p".into(),
        version: digest.trim_start_matches("sha256:").into(),
        digest: digest.into(),
    }
}

/// The declaration the fixtures record.
pub fn info() -> PluginInfo {
    PluginInfo {
        name: "p".into(),
        version: "1".into(),
        ..PluginInfo::default()
    }
}

/// A snapshot of tenant `acme` with one factor and one milestone.
pub fn snap(account: &str, day: &str, score: f64, digest: &str) -> Snapshot {
    Snapshot {
        tenant: "acme".into(),
        account_id: account.into(),
        as_of: day.parse().expect("a fixture day"),
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
            predicted_on: Some("2026-12-01".parse().expect("a fixture day")),
            likelihood: Some(0.3),
        }],
        plugin: plugin(digest),
        overrides: Vec::new(),
    }
}

/// Records `snapshots` (of tenant `acme`) as one run of build `digest`.
pub fn record(store: &mut dyn SnapshotStore, digest: &str, snapshots: &[Snapshot]) -> Recorded {
    let log = RunLog::new(
        "acme",
        &plugin(digest),
        "test",
        "2026-11-01T00:00:00Z".into(),
    );
    store
        .record(&info(), &plugin(digest), snapshots, log)
        .expect("the run records")
        .recorded
}

/// The server the PostgreSQL tests use.
pub fn postgres_server() -> String {
    std::env::var("HEADWAY_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A schema of one test's own in the test server, dropped when this is.
pub struct TestDatabase {
    server: String,
    schema: String,
}

impl TestDatabase {
    /// A fresh, empty schema; `None` (after saying why) where no server can be
    /// reached and none is required.
    pub fn create() -> Option<Self> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let server = postgres_server();
        let schema = format!(
            "headway_test_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let created = admin(
            &server,
            format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"),
        );
        match created {
            Ok(()) => Some(Self { server, schema }),
            Err(e) if std::env::var_os("HEADWAY_REQUIRE_POSTGRES").is_some() => {
                panic!("PostgreSQL at {server} is required (HEADWAY_REQUIRE_POSTGRES): {e}")
            }
            Err(e) => {
                eprintln!("skipping: no PostgreSQL at {server} ({e}); set HEADWAY_TEST_POSTGRES");
                None
            }
        }
    }

    /// The URL of the schema: the server's, with the schema as search path.
    pub fn url(&self) -> String {
        let join = if self.server.contains('?') { '&' } else { '?' };
        format!(
            "{}{join}options=-csearch_path%3D{}",
            self.server, self.schema
        )
    }

    /// The schema as a `--store`.
    pub fn location(&self) -> StoreLocation {
        StoreLocation::Postgres(self.url())
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let drop_schema = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema);
        let _ = admin(&self.server, drop_schema);
    }
}

/// Runs `sql` on `server` on a thread of its own: the blocking driver may not
/// run on an async runtime's thread, and tests are often async.
fn admin(server: &str, sql: String) -> Result<(), ::postgres::Error> {
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut client = ::postgres::Client::connect(server, ::postgres::NoTls)?;
            client.batch_execute(&sql)
        })
        .join()
        .expect("the admin thread does not panic")
    })
}
