//! The shared backend: one PostgreSQL database that every server of a fleet
//! reads and writes.
//!
//! Tenant isolation is the database's job, not only the queries': every table
//! has row-level security keyed by the setting `headway.tenant`, and every
//! piece of work runs in a transaction that first switches to the role
//! `headway_tenant` (no login, and no bypass of the policies as a superuser or
//! the tables' owner would have) and sets the tenant. A query that forgot its `WHERE tenant = ...` still sees one tenant.

use std::cell::RefCell;
use std::collections::HashSet;
use std::hash::Hash;
use std::ops::{DerefMut, Range};

use ::postgres::{Client, NoTls, Transaction};
use headway_core::retention::{AdvocacyEvent, LedgerRow, SurveyResponse};
use headway_core::success::Snapshot;
use headway_core::{Date, PluginInfo, PluginRef};
use r2d2_postgres::PostgresConnectionManager;

use crate::rows::{
    RawAlert, RawSnapshot, advocacy_row, decision, detail_json, in_outbox_order, ledger_row,
    override_change, readable, readable_runs, run_log, settlement, stored_alert, stored_build,
    stored_override, survey_row, to_json,
};
use crate::{
    AlertKey, AlertQuery, AlertStatus, Attempt, Decision, DecisionEntry, KeptBuild, OverrideEdit,
    Recorded, RunLog, RunRecorder, SnapshotStore, StoreError, StoredAlert, StoredBuild,
};
use headway_core::alerts::Fired;
use headway_core::overrides::{Override, OverrideChange};

/// Each migration, in order; the schema version is how many have run. A
/// migration never changes once released: a change is a new one.
const MIGRATIONS: &[&str] = &[V1, V2, V3, V4, V5, V6, V7];

const V1: &str = r#"
CREATE TABLE builds (
    tenant    text COLLATE "C" NOT NULL,
    digest    text COLLATE "C" NOT NULL,
    name      text NOT NULL,
    version   text COLLATE "C" NOT NULL,
    info      jsonb NOT NULL,
    -- What `builds` reads, kept with each run: a count over every snapshot on
    -- each read would scan the tenant's whole history.
    snapshots bigint NOT NULL DEFAULT 0,
    first     date,
    last      date,
    last_run  bigint,
    PRIMARY KEY (tenant, digest)
);
CREATE TABLE snapshots (
    tenant       text COLLATE "C" NOT NULL,
    digest       text COLLATE "C" NOT NULL,
    account_id   text COLLATE "C" NOT NULL,
    as_of        date NOT NULL,
    arr          float8 NOT NULL,
    segment      text NOT NULL DEFAULT '',
    renewal_date date,
    score        float8 NOT NULL,
    band         text NOT NULL,
    factors      jsonb NOT NULL,
    milestones   jsonb NOT NULL,
    PRIMARY KEY (tenant, digest, account_id, as_of),
    FOREIGN KEY (tenant, digest) REFERENCES builds
);
CREATE INDEX snapshots_by_account ON snapshots (tenant, account_id, as_of);
CREATE INDEX snapshots_by_day ON snapshots (tenant, digest, as_of);
CREATE TABLE runs (
    id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant text COLLATE "C" NOT NULL,
    digest text COLLATE "C" NOT NULL,
    log    jsonb NOT NULL,
    FOREIGN KEY (tenant, digest) REFERENCES builds
);
CREATE INDEX runs_by_tenant ON runs (tenant, id);
CREATE TABLE ledger (
    tenant     text COLLATE "C" NOT NULL,
    account_id text COLLATE "C" NOT NULL,
    date       date NOT NULL,
    arr        float8 NOT NULL,
    stage      text NOT NULL,
    segment    text,
    term_end   date,
    PRIMARY KEY (tenant, account_id, date)
);
CREATE TABLE surveys (
    tenant     text COLLATE "C" NOT NULL,
    account_id text COLLATE "C" NOT NULL,
    date       date NOT NULL,
    kind       text COLLATE "C" NOT NULL,
    score      float8 NOT NULL,
    PRIMARY KEY (tenant, account_id, date, kind)
);
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'headway_tenant') THEN
        CREATE ROLE headway_tenant NOLOGIN;
    END IF;
    IF NOT pg_has_role(current_user, 'headway_tenant', 'MEMBER') THEN
        EXECUTE format('GRANT headway_tenant TO %I', current_user);
    END IF;
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO headway_tenant', current_schema());
END
$$;
-- What every tenant table gets (this migration's and later ones'): the tenant
-- role's `privileges` on it, and row-level security on its `tenant` column.
CREATE FUNCTION headway_isolate(t text, privileges text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('GRANT %s ON %I TO headway_tenant', privileges, t);
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format(
        'CREATE POLICY one_tenant ON %I
            USING (tenant = current_setting(''headway.tenant'', true))
            WITH CHECK (tenant = current_setting(''headway.tenant'', true))', t);
END
$$;
SELECT headway_isolate(t, 'SELECT, INSERT, UPDATE')
FROM unnest(ARRAY['builds', 'snapshots', 'runs', 'ledger', 'surveys']) AS t;
"#;

/// Builds published to the fleet (see `published.rs`).
const V2: &str = r#"
CREATE TABLE plugins (
    tenant       text COLLATE "C" NOT NULL,
    digest       text COLLATE "C" NOT NULL,
    name         text NOT NULL,
    version      text NOT NULL,
    component    bytea NOT NULL,
    published_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, digest)
);
CREATE TABLE activations (
    id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant text COLLATE "C" NOT NULL,
    digest text COLLATE "C" NOT NULL,
    action text NOT NULL CHECK (action IN ('publish', 'rollback')),
    by     text NOT NULL,
    at     timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (tenant, digest) REFERENCES plugins
);
CREATE INDEX activations_by_tenant ON activations (tenant, id);
-- Published once, never changed: no UPDATE.
SELECT headway_isolate(t, 'SELECT, INSERT') FROM unnest(ARRAY['plugins', 'activations']) AS t;
"#;

/// The alert outbox: one row per tenant, rule, account and day.
const V3: &str = r#"
CREATE TABLE alerts (
    tenant     text COLLATE "C" NOT NULL,
    rule       text COLLATE "C" NOT NULL,
    account_id text COLLATE "C" NOT NULL,
    as_of      date NOT NULL,
    kind       text NOT NULL,
    digest     text NOT NULL,
    summary    text NOT NULL,
    status     text NOT NULL DEFAULT 'pending',
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, rule, account_id, as_of)
);
SELECT headway_isolate('alerts', 'SELECT, INSERT, UPDATE');
"#;

/// Each alert's detail and the state of its delivery.
const V4: &str = r#"
ALTER TABLE alerts
    ADD COLUMN detail jsonb NOT NULL DEFAULT 'null',
    ADD COLUMN attempts bigint NOT NULL DEFAULT 0,
    ADD COLUMN next_attempt_ms bigint NOT NULL DEFAULT 0,
    ADD COLUMN claimed_until_ms bigint NOT NULL DEFAULT 0,
    ADD COLUMN last_error text,
    ADD COLUMN delivered_at text;
CREATE INDEX alerts_due ON alerts (tenant, status, next_attempt_ms);
"#;

/// CSM overrides in force and the audit trail of every change to them.
const V5: &str = r#"
CREATE TABLE overrides (
    tenant     text COLLATE "C" NOT NULL,
    account_id text COLLATE "C" NOT NULL,
    target     text COLLATE "C" NOT NULL,
    body       jsonb NOT NULL,
    PRIMARY KEY (tenant, account_id, target)
);
CREATE TABLE override_log (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant     text COLLATE "C" NOT NULL,
    account_id text COLLATE "C" NOT NULL,
    change     jsonb NOT NULL,
    at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX override_log_by_account ON override_log (tenant, account_id, id);
SELECT headway_isolate('overrides', 'SELECT, INSERT, UPDATE, DELETE');
-- The audit trail is only ever added to.
SELECT headway_isolate('override_log', 'SELECT, INSERT');
"#;

/// Advocacy events; every column is the key ('' when no account was referred).
const V6: &str = r#"
CREATE TABLE advocacy (
    tenant     text COLLATE "C" NOT NULL,
    account_id text COLLATE "C" NOT NULL,
    date       date NOT NULL,
    kind       text COLLATE "C" NOT NULL,
    referred   text COLLATE "C" NOT NULL,
    PRIMARY KEY (tenant, account_id, date, kind, referred)
);
SELECT headway_isolate('advocacy', 'SELECT, INSERT');
"#;

/// The decision log, and the inputs and builds it keeps for replay.
const V7: &str = r#"
CREATE TABLE decisions (
    id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant text COLLATE "C" NOT NULL,
    body   jsonb NOT NULL
);
CREATE INDEX decisions_by_tenant ON decisions (tenant, id);
CREATE TABLE kept_inputs (
    tenant text COLLATE "C" NOT NULL,
    digest text COLLATE "C" NOT NULL,
    body   bytea NOT NULL,
    PRIMARY KEY (tenant, digest)
);
CREATE TABLE kept_builds (
    tenant    text COLLATE "C" NOT NULL,
    key       text COLLATE "C" NOT NULL,
    component bytea NOT NULL,
    options   text NOT NULL,
    PRIMARY KEY (tenant, key)
);
SELECT headway_isolate(t, 'SELECT, INSERT')
FROM unnest(ARRAY['decisions', 'kept_inputs', 'kept_builds']) AS t;
"#;

/// The outbox columns a [`RawAlert`] reads, of `alerts a`, days and details as text.
const PG_ALERT_COLUMNS: &str = "a.rule, a.kind, a.account_id, a.as_of::text, a.digest, \
     a.summary, a.detail::text, a.status, a.attempts, a.last_error, a.delivered_at";

/// Serialises migrations across every server starting at once (one key for the
/// whole cluster: the tenant role is cluster-wide too).
const MIGRATION_LOCK: i64 = 0x0048_6561_6477_6179; // "Headway" in ASCII

/// Makes the rest of a transaction tenant work: row-level security applies.
const SCOPE: &str =
    "SELECT set_config('role', 'headway_tenant', true), set_config('headway.tenant', $1, true)";

/// The driver's message: a server error's own words (with detail and hint),
/// not the bare "db error".
pub(crate) fn describe(e: &::postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return db.to_string().replace('\n', "; ");
    }
    let mut text = e.to_string();
    let mut below = std::error::Error::source(e);
    while let Some(cause) = below {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        below = cause.source();
    }
    text
}

/// `url` without its password, for messages and logs.
pub(crate) fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let rest = &url[scheme_end..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => match rest[..at].find(':') {
            Some(colon) => format!(
                "{}{}:***{}",
                &url[..scheme_end],
                &rest[..colon],
                &rest[at..]
            ),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

pub(crate) type Pooled = r2d2::PooledConnection<PostgresConnectionManager<NoTls>>;

/// A connection of its own or one lent by a pool.
enum Connection {
    Own(Box<Client>),
    Pooled(Box<Pooled>),
}

impl std::ops::Deref for Connection {
    type Target = Client;
    fn deref(&self) -> &Client {
        match self {
            Connection::Own(c) => c,
            Connection::Pooled(c) => c,
        }
    }
}

impl DerefMut for Connection {
    fn deref_mut(&mut self) -> &mut Client {
        match self {
            Connection::Own(c) => c,
            Connection::Pooled(c) => c,
        }
    }
}

/// The history store in a PostgreSQL database, on one connection.
pub struct PgStore {
    /// Reads take `&self` and the driver `&mut`: one borrow at a time.
    conn: RefCell<Connection>,
    /// The database without its password, as errors name it.
    label: String,
}

/// Parses `url` as the driver does, naming the URL (without its password) when
/// it cannot.
pub(crate) fn config(url: &str) -> Result<::postgres::Config, StoreError> {
    url.parse().map_err(|source| StoreError::Postgres {
        url: redact(url),
        source,
    })
}

impl PgStore {
    /// The outbox rows of a query of [`PG_ALERT_COLUMNS`].
    fn alert_rows(&self, rows: &[::postgres::Row]) -> Result<Vec<StoredAlert>, StoreError> {
        rows.iter()
            .map(|r| {
                let raw = RawAlert {
                    rule: r.get(0),
                    kind: r.get(1),
                    account_id: r.get(2),
                    as_of: r.get(3),
                    digest: r.get(4),
                    summary: r.get(5),
                    detail: r.get(6),
                    status: r.get(7),
                    attempts: r.get(8),
                    last_error: r.get(9),
                    delivered_at: r.get(10),
                };
                stored_alert(&self.label, raw)
            })
            .collect()
    }

    /// Connects to the database at `url` (`postgres://user@host:port/db`, with
    /// any driver option such as `options=-csearch_path%3Dschema`), bringing its
    /// schema up to date.
    pub fn connect(url: &str) -> Result<Self, StoreError> {
        let label = redact(url);
        let client = config(url)?
            .connect(NoTls)
            .map_err(|source| StoreError::Postgres {
                url: label.clone(),
                source,
            })?;
        let store = Self {
            conn: RefCell::new(Connection::Own(Box::new(client))),
            label,
        };
        store.migrate()?;
        Ok(store)
    }

    /// A store on a connection from a pool whose database is already migrated.
    pub(crate) fn pooled(conn: Pooled, label: String) -> Self {
        Self {
            conn: RefCell::new(Connection::Pooled(Box::new(conn))),
            label,
        }
    }

    fn error(&self, source: ::postgres::Error) -> StoreError {
        StoreError::Postgres {
            url: self.label.clone(),
            source,
        }
    }

    /// Applies the migrations this database lacks, one server at a time.
    fn migrate(&self) -> Result<(), StoreError> {
        let mut conn = self.conn.borrow_mut();
        let result = (|| -> Result<Result<(), i64>, ::postgres::Error> {
            let mut tx = conn.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
            tx.batch_execute(
                "CREATE TABLE IF NOT EXISTS headway_schema (version integer NOT NULL);
                 INSERT INTO headway_schema SELECT 0 WHERE NOT EXISTS (SELECT FROM headway_schema);",
            )?;
            let found: i32 = tx
                .query_one("SELECT version FROM headway_schema", &[])?
                .get(0);
            let found = found as usize;
            if found > MIGRATIONS.len() {
                return Ok(Err(found as i64));
            }
            for migration in &MIGRATIONS[found..] {
                tx.batch_execute(migration)?;
            }
            tx.execute(
                "UPDATE headway_schema SET version = $1",
                &[&(MIGRATIONS.len() as i32)],
            )?;
            tx.commit()?;
            Ok(Ok(()))
        })();
        match result {
            Ok(Ok(())) => Ok(()),
            Ok(Err(found)) => Err(StoreError::NewerSchema {
                store: self.label.clone(),
                found,
                supported: MIGRATIONS.len() as i64,
            }),
            Err(e) => Err(self.error(e)),
        }
    }

    /// Runs `work` in a transaction scoped to `tenant` (row-level security on).
    /// `(id, JSON)` rows of a page that `sql` selects (tenant, before, limit),
    /// newest first: a page of runs or of decisions.
    fn newest_first(
        &self,
        sql: &str,
        tenant: &str,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<(i64, String)>, StoreError> {
        let rows = self.scoped(tenant, |tx| {
            tx.query(
                sql,
                &[&tenant, &before.unwrap_or(i64::MAX), &(limit as i64)],
            )
        })?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    pub(crate) fn scoped<T>(
        &self,
        tenant: &str,
        work: impl FnOnce(&mut Transaction<'_>) -> Result<T, ::postgres::Error>,
    ) -> Result<T, StoreError> {
        let mut conn = self.conn.borrow_mut();
        let result = (|| {
            let mut tx = conn.transaction()?;
            tx.execute(SCOPE, &[&tenant])?;
            let out = work(&mut tx)?;
            tx.commit()?;
            Ok(out)
        })();
        result.map_err(|e| self.error(e))
    }

    fn query(&self, tenant: &str, sql: &str, args: &[&str]) -> Result<Vec<Snapshot>, StoreError> {
        let params: Vec<&(dyn ::postgres::types::ToSql + Sync)> =
            args.iter().map(|a| a as _).collect();
        let rows = self.scoped(tenant, |tx| tx.query(sql, &params))?;
        Ok(snapshots(&self.label, &rows))
    }
}

/// Rows of [`COLUMNS`] as snapshots.
fn snapshots(label: &str, rows: &[::postgres::Row]) -> Vec<Snapshot> {
    let raws = rows.iter().map(|r| RawSnapshot {
        tenant: r.get(0),
        account_id: r.get(1),
        as_of: r.get(2),
        arr: r.get(3),
        score: r.get(4),
        band: r.get(5),
        factors: r.get(6),
        milestones: r.get(7),
        plugin: PluginRef {
            name: r.get(8),
            version: r.get(9),
            digest: r.get(10),
        },
        segment: r.get(11),
        renewal_date: r.get(12),
    });
    readable(label, raws)
}

/// Columns of [`RawSnapshot`], days and JSON as text.
const COLUMNS: &str = "s.tenant, s.account_id, s.as_of::text, s.arr, s.score, s.band, \
     s.factors::text, s.milestones::text, b.name, b.version, b.digest, s.segment, s.renewal_date::text";

const FROM: &str = "FROM snapshots s JOIN builds b ON b.tenant = s.tenant AND b.digest = s.digest";

/// Inserts a batch given as columns, updating a stored row only where a value
/// differs; returns one row per insert or update, `true` for an insert.
const UPSERT_SNAPSHOTS: &str = "
INSERT INTO snapshots AS s (tenant, digest, account_id, as_of, arr, score, band, factors,
                            milestones, segment, renewal_date)
SELECT u.tenant, $1, u.account_id, u.as_of::date, u.arr, u.score, u.band, u.factors::jsonb,
       u.milestones::jsonb, u.segment, u.renewal_date::date
FROM unnest($2::text[], $3::text[], $4::text[], $5::float8[], $6::float8[], $7::text[],
            $8::text[], $9::text[], $10::text[], $11::text[])
     AS u(tenant, account_id, as_of, arr, score, band, factors, milestones, segment, renewal_date)
ON CONFLICT (tenant, digest, account_id, as_of) DO UPDATE SET
    arr = excluded.arr, score = excluded.score, band = excluded.band,
    factors = excluded.factors, milestones = excluded.milestones,
    segment = excluded.segment, renewal_date = excluded.renewal_date
WHERE (s.arr, s.score, s.band, s.factors, s.milestones, s.segment, s.renewal_date)
      IS DISTINCT FROM
      (excluded.arr, excluded.score, excluded.band, excluded.factors, excluded.milestones,
       excluded.segment, excluded.renewal_date)
RETURNING xmax = 0";

const UPSERT_LEDGER: &str = "
INSERT INTO ledger AS l (tenant, account_id, date, arr, stage, segment, term_end)
SELECT current_setting('headway.tenant'), u.account_id, u.date::date, u.arr, u.stage, u.segment,
       u.term_end::date
FROM unnest($1::text[], $2::text[], $3::float8[], $4::text[], $5::text[], $6::text[])
     AS u(account_id, date, arr, stage, segment, term_end)
ON CONFLICT (tenant, account_id, date) DO UPDATE SET
    arr = excluded.arr, stage = excluded.stage, segment = excluded.segment,
    term_end = excluded.term_end
WHERE (l.arr, l.stage, l.segment, l.term_end)
      IS DISTINCT FROM (excluded.arr, excluded.stage, excluded.segment, excluded.term_end)
RETURNING xmax = 0";

const UPSERT_SURVEYS: &str = "
INSERT INTO surveys AS v (tenant, account_id, date, kind, score)
SELECT current_setting('headway.tenant'), u.account_id, u.date::date, u.kind, u.score
FROM unnest($1::text[], $2::text[], $3::text[], $4::float8[]) AS u(account_id, date, kind, score)
ON CONFLICT (tenant, account_id, date, kind) DO UPDATE SET score = excluded.score
WHERE v.score IS DISTINCT FROM excluded.score
RETURNING xmax = 0";

const INSERT_ADVOCACY: &str = "
INSERT INTO advocacy (tenant, account_id, date, kind, referred)
SELECT current_setting('headway.tenant'), u.account_id, u.date::date, u.kind, u.referred
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS u(account_id, date, kind, referred)
ON CONFLICT DO NOTHING
RETURNING true";

/// Splits `items` into consecutive runs in which no key repeats: one statement
/// may not touch a row twice, so a key seen again starts the next statement
/// (which then sees the earlier value, as row-by-row recording would).
fn without_repeats<'a, T, K: Hash + Eq>(
    items: &'a [T],
    key: impl Fn(&'a T) -> K,
) -> Vec<Range<usize>> {
    let mut parts = Vec::new();
    let mut seen = HashSet::new();
    let mut start = 0;
    for (i, item) in items.iter().enumerate() {
        if !seen.insert(key(item)) {
            parts.push(start..i);
            seen.clear();
            seen.insert(key(item));
            start = i;
        }
    }
    if start < items.len() {
        parts.push(start..items.len());
    }
    parts
}

/// What one upsert statement did, from its `xmax = 0` column.
fn count(rows: &[::postgres::Row], total: usize) -> Recorded {
    let new = rows.iter().filter(|r| r.get::<_, bool>(0)).count();
    Recorded {
        new,
        changed: rows.len() - new,
        unchanged: total - rows.len(),
    }
}

fn add(into: &mut Recorded, part: Recorded) {
    into.new += part.new;
    into.changed += part.changed;
    into.unchanged += part.unchanged;
}

/// One run being recorded, in one transaction scoped to its tenant.
struct PgRun<'s> {
    tx: Transaction<'s>,
    label: &'s str,
    digest: String,
    recorded: Recorded,
    /// The earliest and latest day recorded.
    days: Option<(Date, Date)>,
}

impl PgRun<'_> {
    fn error(&self, source: ::postgres::Error) -> StoreError {
        StoreError::Postgres {
            url: self.label.to_owned(),
            source,
        }
    }

    fn upsert(&mut self, snapshots: &[Snapshot]) -> Result<Recorded, ::postgres::Error> {
        let text = |f: fn(&Snapshot) -> String| snapshots.iter().map(f).collect::<Vec<_>>();
        let tenants = text(|s| s.tenant.clone());
        let accounts = text(|s| s.account_id.clone());
        let days = text(|s| s.as_of.to_string());
        let arr: Vec<f64> = snapshots.iter().map(|s| s.arr).collect();
        let scores: Vec<f64> = snapshots.iter().map(|s| s.score).collect();
        let bands = text(|s| s.band.clone());
        let factors = text(|s| serde_json::to_string(&s.factors).expect("factors serialise"));
        let milestones =
            text(|s| serde_json::to_string(&s.milestones).expect("milestones serialise"));
        let segments = text(|s| s.segment.clone());
        let renewals: Vec<Option<String>> = snapshots
            .iter()
            .map(|s| s.renewal_date.map(|d| d.to_string()))
            .collect();
        let rows = self.tx.query(
            UPSERT_SNAPSHOTS,
            &[
                &self.digest,
                &tenants,
                &accounts,
                &days,
                &arr,
                &scores,
                &bands,
                &factors,
                &milestones,
                &segments,
                &renewals,
            ],
        )?;
        Ok(count(&rows, snapshots.len()))
    }
}

impl RunRecorder for PgRun<'_> {
    fn add(&mut self, snapshots: &[Snapshot]) -> Result<(), StoreError> {
        for part in without_repeats(snapshots, |s| (&s.account_id, s.as_of)) {
            let done = self.upsert(&snapshots[part]).map_err(|e| self.error(e))?;
            add(&mut self.recorded, done);
        }
        for s in snapshots {
            self.days = Some(match self.days {
                None => (s.as_of, s.as_of),
                Some((first, last)) => (first.min(s.as_of), last.max(s.as_of)),
            });
        }
        Ok(())
    }

    fn prior(
        &mut self,
        accounts: &[&str],
        since: Date,
        until: Date,
    ) -> Result<Vec<Snapshot>, StoreError> {
        let rows = self
            .tx
            .query(
                &format!(
                    "SELECT {COLUMNS} {FROM}
                     WHERE s.tenant = current_setting('headway.tenant') AND s.digest = $1
                       AND s.account_id = ANY($2) AND s.as_of >= $3::text::date
                       AND s.as_of < $4::text::date
                     ORDER BY s.account_id, s.as_of"
                ),
                &[
                    &self.digest,
                    &accounts,
                    &since.to_string(),
                    &until.to_string(),
                ],
            )
            .map_err(|e| self.error(e))?;
        Ok(snapshots(self.label, &rows))
    }

    fn add_alerts(&mut self, fired: &[Fired]) -> Result<usize, StoreError> {
        if fired.is_empty() {
            return Ok(0);
        }
        let text = |f: fn(&Fired) -> String| fired.iter().map(f).collect::<Vec<_>>();
        let rows = self
            .tx
            .execute(
                "INSERT INTO alerts (tenant, rule, account_id, as_of, kind, digest, summary, detail)
                 SELECT current_setting('headway.tenant'), u.rule, u.account_id, u.as_of::date,
                        u.kind, $1, u.summary, u.detail::jsonb
                 FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
                      AS u(rule, account_id, as_of, kind, summary, detail)
                 ON CONFLICT DO NOTHING",
                &[
                    &self.digest,
                    &text(|f| f.rule.clone()),
                    &text(|f| f.account_id.clone()),
                    &text(|f| f.as_of.to_string()),
                    &text(|f| f.kind.to_owned()),
                    &text(|f| f.summary.clone()),
                    &text(|f| detail_json(&f.detail)),
                ],
            )
            .map_err(|e| self.error(e))?;
        Ok(rows as usize)
    }

    fn commit(mut self: Box<Self>, mut log: RunLog) -> Result<RunLog, StoreError> {
        log.recorded = self.recorded;
        let result = (|| -> Result<RunLog, ::postgres::Error> {
            let id: i64 = self
                .tx
                .query_one(
                    "INSERT INTO runs (tenant, digest, log) VALUES ($1, $2, '{}') RETURNING id",
                    &[&log.tenant, &self.digest],
                )?
                .get(0);
            log.id = id;
            let text = serde_json::to_string(&log).expect("a run log serialises");
            self.tx.execute(
                "UPDATE runs SET log = $2::text::jsonb WHERE id = $1",
                &[&id, &text],
            )?;
            if let Some((first, last)) = self.days {
                self.tx.execute(
                    "UPDATE builds SET snapshots = snapshots + $3,
                         first = least(first, $4::text::date), last = greatest(last, $5::text::date),
                         last_run = $6
                     WHERE tenant = $1 AND digest = $2",
                    &[
                        &log.tenant,
                        &self.digest,
                        &(log.recorded.new as i64),
                        &first.to_string(),
                        &last.to_string(),
                        &id,
                    ],
                )?;
            }
            Ok(log)
        })();
        let log = result.map_err(|e| self.error(e))?;
        let label = self.label;
        self.tx.commit().map_err(|source| StoreError::Postgres {
            url: label.to_owned(),
            source,
        })?;
        Ok(log)
    }
}

impl SnapshotStore for PgStore {
    fn begin_run<'s>(
        &'s mut self,
        tenant: &str,
        info: &PluginInfo,
        plugin: &PluginRef,
    ) -> Result<Box<dyn RunRecorder + 's>, StoreError> {
        let info = serde_json::to_string(info).expect("plugin info serialises");
        let label = &self.label;
        let error = |source| StoreError::Postgres {
            url: label.clone(),
            source,
        };
        let mut tx = self.conn.get_mut().transaction().map_err(error)?;
        tx.execute(SCOPE, &[&tenant]).map_err(error)?;
        tx.execute(
            "INSERT INTO builds (tenant, digest, name, version, info)
             VALUES ($1, $2, $3, $4, $5::text::jsonb) ON CONFLICT DO NOTHING",
            &[
                &tenant,
                &plugin.digest,
                &plugin.name,
                &plugin.version,
                &info,
            ],
        )
        .map_err(error)?;
        Ok(Box::new(PgRun {
            tx,
            label,
            digest: plugin.digest.clone(),
            recorded: Recorded::default(),
            days: None,
        }))
    }

    fn account_history(&self, tenant: &str, account: &str) -> Result<Vec<Snapshot>, StoreError> {
        self.query(
            tenant,
            &format!(
                "SELECT {COLUMNS} {FROM} WHERE s.tenant = $1 AND s.account_id = $2
                 ORDER BY s.as_of, b.version, b.digest"
            ),
            &[tenant, account],
        )
    }

    fn snapshots(&self, tenant: &str, digest: &str) -> Result<Vec<Snapshot>, StoreError> {
        self.query(
            tenant,
            &format!(
                "SELECT {COLUMNS} {FROM} WHERE s.tenant = $1 AND s.digest = $2
                 ORDER BY s.account_id, s.as_of"
            ),
            &[tenant, digest],
        )
    }

    fn recent(&self, tenant: &str, digest: &str, since: Date) -> Result<Vec<Snapshot>, StoreError> {
        let columns = COLUMNS.replace("s.factors::text", "'[]'");
        self.query(
            tenant,
            &format!(
                "SELECT {columns} {FROM} WHERE s.tenant = $1 AND s.digest = $2
                   AND s.as_of >= $3::text::date ORDER BY s.account_id, s.as_of"
            ),
            &[tenant, digest, &since.to_string()],
        )
    }

    fn builds(&self, tenant: &str) -> Result<Vec<StoredBuild>, StoreError> {
        let rows = self.scoped(tenant, |tx| {
            tx.query(
                "SELECT name, version, digest, info::text, snapshots, first::text, last::text
                 FROM builds WHERE tenant = $1 AND last IS NOT NULL ORDER BY last, last_run",
                &[&tenant],
            )
        })?;
        rows.iter()
            .map(|r| {
                let plugin = PluginRef {
                    name: r.get(0),
                    version: r.get(1),
                    digest: r.get(2),
                };
                stored_build(
                    &self.label,
                    (plugin, r.get(3), r.get(4), r.get(5), r.get(6)),
                )
            })
            .collect()
    }

    fn runs(
        &self,
        tenant: &str,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<RunLog>, StoreError> {
        let rows = self.newest_first(
            "SELECT id, log::text FROM runs WHERE tenant = $1 AND id < $2
             ORDER BY id DESC LIMIT $3",
            tenant,
            before,
            limit,
        )?;
        Ok(readable_runs(&self.label, rows))
    }

    fn run(&self, tenant: &str, id: i64) -> Result<Option<RunLog>, StoreError> {
        let row = self.scoped(tenant, |tx| {
            tx.query_opt(
                "SELECT log::text FROM runs WHERE tenant = $1 AND id = $2",
                &[&tenant, &id],
            )
        })?;
        row.map(|r| run_log(&self.label, id, r.get(0))).transpose()
    }

    fn put_ledger(&mut self, tenant: &str, rows: &[LedgerRow]) -> Result<Recorded, StoreError> {
        self.scoped(tenant, |tx| {
            let mut recorded = Recorded::default();
            for part in without_repeats(rows, |r| (&r.account_id, r.date)) {
                let rows = &rows[part];
                let accounts: Vec<&str> = rows.iter().map(|r| r.account_id.as_str()).collect();
                let days: Vec<String> = rows.iter().map(|r| r.date.to_string()).collect();
                let arr: Vec<f64> = rows.iter().map(|r| r.arr).collect();
                let stages: Vec<&str> = rows.iter().map(|r| r.stage.as_str()).collect();
                let segments: Vec<Option<&str>> =
                    rows.iter().map(|r| r.segment.as_deref()).collect();
                let ends: Vec<Option<String>> = rows
                    .iter()
                    .map(|r| r.term_end.map(|d| d.to_string()))
                    .collect();
                let done = tx.query(
                    UPSERT_LEDGER,
                    &[&accounts, &days, &arr, &stages, &segments, &ends],
                )?;
                add(&mut recorded, count(&done, rows.len()));
            }
            Ok(recorded)
        })
    }

    fn ledger(&self, tenant: &str) -> Result<Vec<LedgerRow>, StoreError> {
        let rows = self.scoped(tenant, |tx| {
            tx.query(
                "SELECT account_id, date::text, arr, stage, segment, term_end::text FROM ledger
                 WHERE tenant = $1 ORDER BY account_id, date",
                &[&tenant],
            )
        })?;
        rows.iter()
            .map(|r| {
                let raw = (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5));
                ledger_row(&self.label, raw)
            })
            .collect()
    }

    fn put_surveys(
        &mut self,
        tenant: &str,
        rows: &[SurveyResponse],
    ) -> Result<Recorded, StoreError> {
        self.scoped(tenant, |tx| {
            let mut recorded = Recorded::default();
            for part in without_repeats(rows, |r| (&r.account_id, r.date, r.kind.as_str())) {
                let rows = &rows[part];
                let accounts: Vec<&str> = rows.iter().map(|r| r.account_id.as_str()).collect();
                let days: Vec<String> = rows.iter().map(|r| r.date.to_string()).collect();
                let kinds: Vec<&str> = rows.iter().map(|r| r.kind.as_str()).collect();
                let scores: Vec<f64> = rows.iter().map(|r| r.score).collect();
                let done = tx.query(UPSERT_SURVEYS, &[&accounts, &days, &kinds, &scores])?;
                add(&mut recorded, count(&done, rows.len()));
            }
            Ok(recorded)
        })
    }

    fn alerts(&self, tenant: &str, query: &AlertQuery) -> Result<Vec<StoredAlert>, StoreError> {
        let since = query.since.map(|d| d.to_string());
        let status = query.status.map(AlertStatus::as_str);
        let rows = self.scoped(tenant, |tx| {
            tx.query(
                &format!(
                    "SELECT {PG_ALERT_COLUMNS} FROM alerts a
                     WHERE tenant = $1 AND ($2::text IS NULL OR as_of >= $2::text::date)
                       AND ($3::text IS NULL OR status = $3)
                     ORDER BY as_of DESC, rule, account_id LIMIT $4"
                ),
                &[&tenant, &since, &status, &(query.limit as i64)],
            )
        })?;
        self.alert_rows(&rows)
    }

    fn claim_alerts(
        &mut self,
        tenant: &str,
        now_ms: i64,
        lease_ms: i64,
        limit: usize,
    ) -> Result<Vec<StoredAlert>, StoreError> {
        // SKIP LOCKED: servers claiming at once take different alerts, none waits.
        let rows = self.scoped(tenant, |tx| {
            tx.query(
                &format!(
                    "WITH due AS MATERIALIZED (
                         SELECT tenant, rule, account_id, as_of FROM alerts
                         WHERE tenant = $1 AND status = 'pending'
                           AND next_attempt_ms <= $2 AND claimed_until_ms <= $2
                         ORDER BY as_of, rule, account_id LIMIT $4
                         FOR UPDATE SKIP LOCKED)
                     UPDATE alerts a SET claimed_until_ms = $3 FROM due
                     WHERE a.tenant = due.tenant AND a.rule = due.rule
                       AND a.account_id = due.account_id AND a.as_of = due.as_of
                     RETURNING {PG_ALERT_COLUMNS}"
                ),
                &[
                    &tenant,
                    &now_ms,
                    &now_ms.saturating_add(lease_ms),
                    &(limit as i64),
                ],
            )
        })?;
        let mut claimed = self.alert_rows(&rows)?;
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
        let changed = self.scoped(tenant, |tx| {
            tx.execute(
                "UPDATE alerts SET status = $5, last_error = coalesce($6, last_error),
                     next_attempt_ms = $7, delivered_at = $8, claimed_until_ms = 0,
                     attempts = attempts + 1
                 WHERE tenant = $1 AND rule = $2 AND account_id = $3 AND as_of = $4::text::date
                   AND status = 'pending'",
                &[
                    &tenant,
                    &key.rule,
                    &key.account_id,
                    &key.as_of.to_string(),
                    &status.as_str(),
                    &error,
                    &retry_at,
                    &delivered_at,
                ],
            )
        })?;
        Ok(changed == 1)
    }

    fn change_override(
        &mut self,
        tenant: &str,
        edit: OverrideEdit,
    ) -> Result<Option<OverrideChange>, StoreError> {
        let target = edit.target.to_string();
        // The inner result: an unreadable old override writes nothing.
        self.scoped(tenant, |tx| {
            let old = tx.query_opt(
                "SELECT body::text FROM overrides
                 WHERE tenant = $1 AND account_id = $2 AND target = $3 FOR UPDATE",
                &[&tenant, &edit.account_id, &target],
            )?;
            let old = match old.map(|r| stored_override(&self.label, r.get(0))).transpose() {
                Ok(old) => old,
                Err(e) => return Ok(Err(e)),
            };
            let Some(change) = edit.over(old) else {
                return Ok(Ok(None));
            };
            match &change.new {
                Some(new) => tx.execute(
                    "INSERT INTO overrides VALUES ($1, $2, $3, $4::text::jsonb)
                     ON CONFLICT (tenant, account_id, target) DO UPDATE SET body = excluded.body",
                    &[&tenant, &change.account_id, &target, &to_json(new)],
                ),
                None => tx.execute(
                    "DELETE FROM overrides WHERE tenant = $1 AND account_id = $2 AND target = $3",
                    &[&tenant, &change.account_id, &target],
                ),
            }?;
            tx.execute(
                "INSERT INTO override_log (tenant, account_id, change) VALUES ($1, $2, $3::text::jsonb)",
                &[&tenant, &change.account_id, &to_json(&change)],
            )?;
            Ok(Ok(Some(change)))
        })?
    }

    fn overrides(&self, tenant: &str, account: Option<&str>) -> Result<Vec<Override>, StoreError> {
        let rows = self.scoped(tenant, |tx| {
            tx.query(
                "SELECT body::text FROM overrides
                 WHERE tenant = $1 AND ($2::text IS NULL OR account_id = $2)
                 ORDER BY account_id, target",
                &[&tenant, &account],
            )
        })?;
        rows.iter()
            .map(|r| stored_override(&self.label, r.get(0)))
            .collect()
    }

    fn override_log(&self, tenant: &str, account: &str) -> Result<Vec<OverrideChange>, StoreError> {
        let rows = self.scoped(tenant, |tx| {
            tx.query(
                "SELECT id, change::text FROM override_log
                 WHERE tenant = $1 AND account_id = $2 ORDER BY id",
                &[&tenant, &account],
            )
        })?;
        rows.iter()
            .map(|r| override_change(&self.label, r.get(0), r.get(1)))
            .collect()
    }

    fn log_decision(&mut self, entry: &DecisionEntry<'_>) -> Result<Decision, StoreError> {
        let mut decision = entry.decision.clone();
        let tenant = decision.tenant.clone();
        let id = self.scoped(&tenant, |tx| {
            if let Some(input) = entry.input {
                tx.execute(
                    "INSERT INTO kept_inputs VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                    &[&tenant, &decision.input_digest, &input],
                )?;
            }
            if let Some(build) = entry.build {
                tx.execute(
                    "INSERT INTO kept_builds VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                    &[&tenant, &decision.build, &build.component, &build.options],
                )?;
            }
            // The id is the row's; the body holds the rest.
            let id: i64 = tx
                .query_one(
                    "INSERT INTO decisions (tenant, body) VALUES ($1, $2::text::jsonb) RETURNING id",
                    &[&tenant, &to_json(&decision)],
                )?
                .get(0);
            Ok(id)
        })?;
        decision.id = id;
        Ok(decision)
    }

    fn decisions(
        &self,
        tenant: &str,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<Decision>, StoreError> {
        let rows = self.newest_first(
            "SELECT id, body::text FROM decisions WHERE tenant = $1 AND id < $2
             ORDER BY id DESC LIMIT $3",
            tenant,
            before,
            limit,
        )?;
        rows.into_iter()
            .map(|(id, body)| decision(&self.label, id, &body))
            .collect()
    }

    fn decision(&self, tenant: &str, id: i64) -> Result<Option<Decision>, StoreError> {
        let row = self.scoped(tenant, |tx| {
            tx.query_opt(
                "SELECT body::text FROM decisions WHERE tenant = $1 AND id = $2",
                &[&tenant, &id],
            )
        })?;
        row.map(|r| decision(&self.label, id, r.get(0))).transpose()
    }

    fn kept_input(&self, tenant: &str, digest: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let row = self.scoped(tenant, |tx| {
            tx.query_opt(
                "SELECT body FROM kept_inputs WHERE tenant = $1 AND digest = $2",
                &[&tenant, &digest],
            )
        })?;
        Ok(row.map(|r| r.get(0)))
    }

    fn kept_build(&self, tenant: &str, key: &str) -> Result<Option<KeptBuild>, StoreError> {
        let row = self.scoped(tenant, |tx| {
            tx.query_opt(
                "SELECT component, options FROM kept_builds WHERE tenant = $1 AND key = $2",
                &[&tenant, &key],
            )
        })?;
        Ok(row.map(|r| KeptBuild {
            component: r.get(0),
            options: r.get(1),
        }))
    }

    fn has_kept_build(&self, tenant: &str, key: &str) -> Result<bool, StoreError> {
        self.scoped(tenant, |tx| {
            Ok(tx
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM kept_builds WHERE tenant = $1 AND key = $2)",
                    &[&tenant, &key],
                )?
                .get(0))
        })
    }

    fn put_advocacy(
        &mut self,
        tenant: &str,
        rows: &[AdvocacyEvent],
    ) -> Result<Recorded, StoreError> {
        self.scoped(tenant, |tx| {
            let accounts: Vec<&str> = rows.iter().map(|r| r.account_id.as_str()).collect();
            let days: Vec<String> = rows.iter().map(|r| r.date.to_string()).collect();
            let kinds: Vec<&str> = rows.iter().map(|r| r.kind.as_str()).collect();
            let referred: Vec<&str> = rows
                .iter()
                .map(|r| r.referred.as_deref().unwrap_or(""))
                .collect();
            let done = tx.query(INSERT_ADVOCACY, &[&accounts, &days, &kinds, &referred])?;
            Ok(count(&done, rows.len()))
        })
    }

    fn advocacy(&self, tenant: &str) -> Result<Vec<AdvocacyEvent>, StoreError> {
        let rows = self.scoped(tenant, |tx| {
            tx.query(
                "SELECT account_id, date::text, kind, referred FROM advocacy
                 WHERE tenant = $1 ORDER BY account_id, date, kind, referred",
                &[&tenant],
            )
        })?;
        rows.iter()
            .map(|r| advocacy_row(&self.label, (r.get(0), r.get(1), r.get(2), r.get(3))))
            .collect()
    }

    fn surveys(&self, tenant: &str) -> Result<Vec<SurveyResponse>, StoreError> {
        let rows = self.scoped(tenant, |tx| {
            tx.query(
                "SELECT account_id, date::text, kind, score FROM surveys
                 WHERE tenant = $1 ORDER BY account_id, date, kind",
                &[&tenant],
            )
        })?;
        rows.iter()
            .map(|r| survey_row(&self.label, (r.get(0), r.get(1), r.get(2), r.get(3))))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{TestDatabase, record, snap};

    #[test]
    fn a_query_without_its_tenant_still_sees_one_tenant() {
        let Some(db) = TestDatabase::create() else {
            return;
        };
        let mut store = PgStore::connect(&db.url()).unwrap();
        record(
            &mut store,
            "sha256:1",
            &[snap("a", "2026-10-01", 50.0, "sha256:1")],
        );
        let mut other = snap("z", "2026-10-01", 10.0, "sha256:1");
        other.tenant = "globex".into();
        let log = RunLog::new("globex", &other.plugin, "test", String::new());
        store
            .record(
                &crate::testing::info(),
                &other.plugin.clone(),
                &[other],
                log,
            )
            .unwrap();
        // Deliberately unscoped: no WHERE on the tenant.
        let count = |tenant: &str| {
            store
                .scoped(tenant, |tx| {
                    let all: i64 = tx.query_one("SELECT count(*) FROM snapshots", &[])?.get(0);
                    let runs: i64 = tx.query_one("SELECT count(*) FROM runs", &[])?.get(0);
                    let builds: i64 = tx.query_one("SELECT count(*) FROM builds", &[])?.get(0);
                    Ok((all, runs, builds))
                })
                .unwrap()
        };
        assert_eq!(count("acme"), (1, 1, 1));
        assert_eq!(count("globex"), (1, 1, 1));
        assert_eq!(count("initech"), (0, 0, 0));
        // Writing another tenant's row is refused, not filed under it.
        let err = store
            .scoped("acme", |tx| {
                tx.execute(
                    "INSERT INTO ledger VALUES ('globex', 'x', '2026-01-01', 1, 'paid', NULL, NULL)",
                    &[],
                )
            })
            .unwrap_err()
            .to_string();
        assert!(err.contains("row-level security"), "{err}");
        // Tenant work runs as the role the policies bind, not as the login.
        let role: String = store
            .scoped("acme", |tx| {
                Ok(tx.query_one("SELECT current_user::text", &[])?.get(0))
            })
            .unwrap();
        assert_eq!(role, "headway_tenant");
    }

    #[test]
    fn servers_starting_together_migrate_once_and_a_newer_schema_is_refused() {
        let Some(db) = TestDatabase::create() else {
            return;
        };
        let url = db.url();
        let starts: Vec<_> = (0..4)
            .map(|_| {
                let url = url.clone();
                std::thread::spawn(move || PgStore::connect(&url).map(drop))
            })
            .collect();
        for start in starts {
            start.join().unwrap().unwrap();
        }
        let mut admin = PgStore::connect(&url).unwrap();
        let version: i32 = admin
            .conn
            .get_mut()
            .query_one("SELECT version FROM headway_schema", &[])
            .unwrap()
            .get(0);
        assert_eq!(version as usize, MIGRATIONS.len());
        admin
            .conn
            .get_mut()
            .execute("UPDATE headway_schema SET version = 99", &[])
            .unwrap();
        let err = PgStore::connect(&url).err().unwrap().to_string();
        let expected = format!(
            "schema version 99, this build reads up to {}",
            MIGRATIONS.len()
        );
        assert!(err.contains(&expected), "{err}");
    }

    #[test]
    fn an_unreachable_server_is_named_without_its_password() {
        // Port 1 on loopback: nothing listens, the refusal is immediate.
        let err = PgStore::connect("postgres://u:hunter2@127.0.0.1:1/db")
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.starts_with("postgres://u:***@127.0.0.1:1/db: "),
            "{err}"
        );
        assert!(!err.contains("hunter2"), "{err}");
        assert!(err.contains("refused"), "{err}");
    }

    #[test]
    fn passwords_never_reach_a_message() {
        assert_eq!(
            redact("postgres://app:s3cret@db.internal:5432/headway?sslmode=disable"),
            "postgres://app:***@db.internal:5432/headway?sslmode=disable"
        );
        assert_eq!(
            redact("postgres://app@db/headway"),
            "postgres://app@db/headway"
        );
        assert_eq!(
            redact("postgres://db/x?user=a@b"),
            "postgres://db/x?user=a@b"
        );
    }

    #[test]
    fn a_repeated_key_starts_the_next_statement() {
        let keys = [1, 2, 1, 3, 3, 4];
        assert_eq!(without_repeats(&keys, |k| *k), [0..2, 2..4, 4..6]);
        assert_eq!(without_repeats(&[] as &[i32], |k| *k), []);
        assert_eq!(without_repeats(&[7], |k| *k), vec![(0..1)]);
    }
}
