//! Plugin builds published to a fleet (PostgreSQL only): components kept by
//! digest, and per tenant a log of activations whose newest entry is the build
//! every server of the fleet serves. Each activation is announced on
//! [`CHANNEL`] with `NOTIFY` when its transaction commits; a server listening
//! ([`BuildListener`]) reloads that tenant.

use std::time::Duration;

use ::postgres::fallible_iterator::FallibleIterator;
use ::postgres::{Client, NoTls};
use serde::Serialize;

use crate::postgres::{config, redact};
use crate::{PgStore, StoreError};

/// The channel activations are announced on; the payload is the tenant id.
const CHANNEL: &str = "headway_builds";

/// What a tenant serves, per the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveBuild {
    /// `sha256:<hex>` of the component.
    pub digest: String,
    /// Which activation made it active.
    pub activation: i64,
}

/// One entry of a tenant's activation log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Activation {
    /// Increasing over the whole database.
    pub id: i64,
    /// The build activated.
    pub digest: String,
    /// Its plugin name and version, as it declared them.
    pub name: String,
    /// Its version.
    pub version: String,
    /// `publish` or `rollback`.
    pub action: String,
    /// Who: the caller's description (`cli`, `api token`).
    pub by: String,
    /// When, RFC 3339 UTC.
    pub at: String,
}

/// A build to publish: the component and what it declared.
pub struct Publication<'a> {
    /// The component's bytes.
    pub component: &'a [u8],
    /// `sha256:<hex>` of `component`.
    pub digest: &'a str,
    /// Plugin name.
    pub name: &'a str,
    /// Plugin version.
    pub version: &'a str,
    /// Who publishes.
    pub by: &'a str,
}

impl PgStore {
    /// Stores `build` (once per digest) and makes it the tenant's active build,
    /// announcing it to the fleet when the transaction commits.
    pub fn publish(&self, tenant: &str, build: &Publication<'_>) -> Result<Activation, StoreError> {
        self.scoped(tenant, |tx| {
            tx.execute(
                "INSERT INTO plugins (tenant, digest, name, version, component)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                &[
                    &tenant,
                    &build.digest,
                    &build.name,
                    &build.version,
                    &build.component,
                ],
            )?;
            activate(tx, tenant, build.digest, "publish", build.by)
        })
    }

    /// Activates the build that served before the active one (fleet-wide); a
    /// second rollback undoes the first. `None`: nothing to roll back to.
    pub fn rollback_published(
        &self,
        tenant: &str,
        by: &str,
    ) -> Result<Option<Activation>, StoreError> {
        self.scoped(tenant, |tx| {
            let Some(current) = tx.query_opt(
                "SELECT digest FROM activations WHERE tenant = $1 ORDER BY id DESC LIMIT 1",
                &[&tenant],
            )?
            else {
                return Ok(None);
            };
            let current: String = current.get(0);
            let previous = tx.query_opt(
                "SELECT digest FROM activations WHERE tenant = $1 AND digest <> $2
                 ORDER BY id DESC LIMIT 1",
                &[&tenant, &current],
            )?;
            match previous {
                Some(row) => {
                    let digest: String = row.get(0);
                    activate(tx, tenant, &digest, "rollback", by).map(Some)
                }
                None => Ok(None),
            }
        })
    }

    /// The tenant's active build, if any was published.
    pub fn active_build(&self, tenant: &str) -> Result<Option<ActiveBuild>, StoreError> {
        self.scoped(tenant, |tx| {
            let row = tx.query_opt(
                "SELECT digest, id FROM activations WHERE tenant = $1 ORDER BY id DESC LIMIT 1",
                &[&tenant],
            )?;
            Ok(row.map(|r| ActiveBuild {
                digest: r.get(0),
                activation: r.get(1),
            }))
        })
    }

    /// A published component's bytes.
    pub fn component(&self, tenant: &str, digest: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.scoped(tenant, |tx| {
            let row = tx.query_opt(
                "SELECT component FROM plugins WHERE tenant = $1 AND digest = $2",
                &[&tenant, &digest],
            )?;
            Ok(row.map(|r| r.get(0)))
        })
    }

    /// The tenant's activations, newest first, at most `limit`.
    pub fn activations(&self, tenant: &str, limit: usize) -> Result<Vec<Activation>, StoreError> {
        self.scoped(tenant, |tx| {
            let rows = tx.query(
                &format!("{ACTIVATION} WHERE a.tenant = $1 ORDER BY a.id DESC LIMIT $2"),
                &[&tenant, &(limit as i64)],
            )?;
            Ok(rows.iter().map(activation).collect())
        })
    }
}

const ACTIVATION: &str = "SELECT a.id, a.digest, p.name, p.version, a.action, a.by,
        to_char(a.at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')
     FROM activations a JOIN plugins p ON p.tenant = a.tenant AND p.digest = a.digest";

fn activation(r: &::postgres::Row) -> Activation {
    Activation {
        id: r.get(0),
        digest: r.get(1),
        name: r.get(2),
        version: r.get(3),
        action: r.get(4),
        by: r.get(5),
        at: r.get(6),
    }
}

fn activate(
    tx: &mut ::postgres::Transaction<'_>,
    tenant: &str,
    digest: &str,
    action: &str,
    by: &str,
) -> Result<Activation, ::postgres::Error> {
    let id: i64 = tx
        .query_one(
            "INSERT INTO activations (tenant, digest, action, by) VALUES ($1, $2, $3, $4)
             RETURNING id",
            &[&tenant, &digest, &action, &by],
        )?
        .get(0);
    tx.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &tenant])?;
    let row = tx.query_one(&format!("{ACTIVATION} WHERE a.id = $1"), &[&id])?;
    Ok(activation(&row))
}

/// A connection of its own that hears activations: blocking, for a thread of
/// its own.
pub struct BuildListener {
    client: Client,
    label: String,
}

impl BuildListener {
    /// Connects to the database at `url` and listens on [`CHANNEL`].
    pub fn connect(url: &str) -> Result<Self, StoreError> {
        let label = redact(url);
        let error = |source| StoreError::Postgres {
            url: label.clone(),
            source,
        };
        let mut client = config(url)?.connect(NoTls).map_err(error)?;
        client
            .batch_execute(&format!("LISTEN {CHANNEL}"))
            .map_err(error)?;
        Ok(Self { client, label })
    }

    /// The tenants announced within `wait` (empty when none was); an error when
    /// the connection is lost (reconnect, and reconcile everything: an
    /// announcement may have been missed meanwhile).
    pub fn wait(&mut self, wait: Duration) -> Result<Vec<String>, StoreError> {
        let mut tenants = Vec::new();
        let mut next = self.client.notifications().timeout_iter(wait).next();
        loop {
            match next {
                Ok(Some(note)) => {
                    let tenant = note.payload().to_owned();
                    if !tenants.contains(&tenant) {
                        tenants.push(tenant);
                    }
                }
                Ok(None) if self.client.is_closed() => {
                    return Err(StoreError::Pool {
                        url: self.label.clone(),
                        reason: "the listening connection closed".into(),
                    });
                }
                Ok(None) => return Ok(tenants),
                Err(source) => {
                    return Err(StoreError::Postgres {
                        url: self.label.clone(),
                        source,
                    });
                }
            }
            // Whatever else has arrived already, without waiting again.
            next = self.client.notifications().iter().next();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestDatabase;

    fn build<'a>(component: &'a [u8], digest: &'a str, version: &'a str) -> Publication<'a> {
        Publication {
            component,
            digest,
            name: "p",
            version,
            by: "test",
        }
    }

    #[test]
    fn publish_activate_roll_back_and_hear_it() {
        let Some(db) = TestDatabase::create() else {
            return;
        };
        let store = PgStore::connect(&db.url()).unwrap();
        let mut listener = BuildListener::connect(&db.url()).unwrap();
        assert_eq!(store.active_build("acme").unwrap(), None);
        assert_eq!(store.rollback_published("acme", "t").unwrap(), None);

        let one = store
            .publish("acme", &build(b"one", "sha256:1", "1"))
            .unwrap();
        assert_eq!(
            (one.digest.as_str(), one.action.as_str()),
            ("sha256:1", "publish")
        );
        assert_eq!(listener.wait(Duration::from_secs(5)).unwrap(), ["acme"]);
        // Only one build: nothing to roll back to.
        assert_eq!(store.rollback_published("acme", "t").unwrap(), None);

        store
            .publish("acme", &build(b"two", "sha256:2", "2"))
            .unwrap();
        store
            .publish("globex", &build(b"g", "sha256:9", "9"))
            .unwrap();
        let mut heard = listener.wait(Duration::from_secs(5)).unwrap();
        if heard.len() < 2 {
            heard.extend(listener.wait(Duration::from_secs(5)).unwrap());
        }
        assert_eq!(heard, ["acme", "globex"]);
        assert_eq!(
            store.active_build("acme").unwrap().unwrap().digest,
            "sha256:2"
        );

        let back = store.rollback_published("acme", "t").unwrap().unwrap();
        assert_eq!(
            (back.digest.as_str(), back.version.as_str()),
            ("sha256:1", "1")
        );
        assert_eq!(
            store.active_build("acme").unwrap().unwrap().digest,
            "sha256:1"
        );
        // A second rollback undoes the first.
        let forth = store.rollback_published("acme", "t").unwrap().unwrap();
        assert_eq!(forth.digest, "sha256:2");
        // Publishing a build again re-activates it; its bytes are kept once.
        store
            .publish("acme", &build(b"one", "sha256:1", "1"))
            .unwrap();
        assert_eq!(
            store.component("acme", "sha256:1").unwrap().unwrap(),
            b"one"
        );

        let log: Vec<(String, String)> = store
            .activations("acme", 10)
            .unwrap()
            .into_iter()
            .map(|a| (a.action, a.digest))
            .collect();
        let pair = |a: &str, d: &str| (a.to_owned(), d.to_owned());
        assert_eq!(
            log,
            [
                pair("publish", "sha256:1"),
                pair("rollback", "sha256:2"),
                pair("rollback", "sha256:1"),
                pair("publish", "sha256:2"),
                pair("publish", "sha256:1"),
            ]
        );
        // Another tenant sees none of it, not even by digest.
        assert_eq!(store.component("globex", "sha256:1").unwrap(), None);
        assert_eq!(
            store.active_build("globex").unwrap().unwrap().digest,
            "sha256:9"
        );
        assert_eq!(store.activations("initech", 10).unwrap(), []);
        assert!(listener.wait(Duration::from_millis(10)).is_ok());
    }
}
