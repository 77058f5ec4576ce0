//! Where the history lives, as a user writes it (`--store`), and the handle a
//! server keeps for its readers and writers.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use ::postgres::NoTls;
use r2d2_postgres::PostgresConnectionManager;

use crate::postgres::{config, redact};
use crate::{PgStore, SnapshotStore, SqliteStore, StoreError};

/// A history store: a SQLite file (a path, or `sqlite:path`) or a PostgreSQL
/// database (`postgres://` or `postgresql://`).
#[derive(Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// The embedded default.
    Sqlite(PathBuf),
    /// A database a fleet shares; the URL as given (it may hold a password).
    Postgres(String),
}

impl StoreLocation {
    /// Reads `--store`: a URL by its scheme, anything else a file path.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            return Ok(Self::Postgres(text.to_owned()));
        }
        if let Some(path) = text.strip_prefix("sqlite:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() {
                return Err("`sqlite:` needs a file: `sqlite:headway.db`".into());
            }
            return Ok(Self::Sqlite(path.into()));
        }
        if let Some((scheme, _)) = text.split_once("://") {
            return Err(format!(
                "`{scheme}://` is not a store Headway knows: give a SQLite file or a postgres:// URL"
            ));
        }
        if text.is_empty() {
            return Err("the store is empty: give a SQLite file or a postgres:// URL".into());
        }
        Ok(Self::Sqlite(text.into()))
    }

    /// The SQLite file, for a SQLite store.
    pub fn file(&self) -> Option<&Path> {
        match self {
            Self::Sqlite(path) => Some(path),
            Self::Postgres(_) => None,
        }
    }

    /// Whether something is there to read: a database always may be; a file
    /// must exist (reading must not create an empty one by mistake).
    pub fn exists(&self) -> bool {
        self.file().is_none_or(Path::exists)
    }

    /// One connection to the store, creating or upgrading its schema.
    pub fn open(&self) -> Result<Box<dyn SnapshotStore>, StoreError> {
        Ok(match self {
            Self::Sqlite(path) => Box::new(SqliteStore::open(path)?),
            Self::Postgres(url) => Box::new(PgStore::connect(url)?),
        })
    }
}

impl std::str::FromStr for StoreLocation {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        Self::parse(text)
    }
}

/// The file path, or the URL without its password.
impl fmt::Display for StoreLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "{}", path.display()),
            Self::Postgres(url) => f.write_str(&redact(url)),
        }
    }
}

impl fmt::Debug for StoreLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StoreLocation({self})")
    }
}

/// What a server keeps open: for SQLite one writer at a time (SQLite's rule)
/// and readers on connections of their own (WAL lets them read while a run
/// records); for PostgreSQL a pool both draw from.
pub struct SharedStore {
    location: StoreLocation,
    backend: Backend,
}

enum Backend {
    Sqlite {
        writer: Mutex<SqliteStore>,
    },
    Postgres {
        /// Always `Some` but while dropped (see `Drop`).
        pool: Option<r2d2::Pool<PostgresConnectionManager<NoTls>>>,
    },
}

/// Closing a blocking driver's connection runs a runtime of its own, which
/// panics on an async runtime's thread, where a server drops its store at
/// shutdown: the pool is closed on a thread of its own.
impl Drop for SharedStore {
    fn drop(&mut self) {
        if let Backend::Postgres { pool, .. } = &mut self.backend
            && let Some(pool) = pool.take()
        {
            std::thread::scope(|s| {
                s.spawn(move || drop(pool));
            });
        }
    }
}

/// How long a request waits for a pooled connection before it fails.
const POOL_WAIT: Duration = Duration::from_secs(10);

impl SharedStore {
    /// Opens the store (creating or upgrading its schema); a PostgreSQL store
    /// keeps at most `connections` connections.
    pub fn open(location: &StoreLocation, connections: u32) -> Result<Self, StoreError> {
        let backend = match location {
            StoreLocation::Sqlite(path) => Backend::Sqlite {
                writer: Mutex::new(SqliteStore::open(path)?),
            },
            StoreLocation::Postgres(url) => {
                // Connect once first: a wrong URL fails now, by name, and the
                // schema is brought up to date before any pooled work.
                drop(PgStore::connect(url)?);
                let manager = PostgresConnectionManager::new(config(url)?, NoTls);
                let pool = r2d2::Pool::builder()
                    .max_size(connections.max(1))
                    .min_idle(Some(0))
                    .connection_timeout(POOL_WAIT)
                    .build_unchecked(manager);
                Backend::Postgres { pool: Some(pool) }
            }
        };
        Ok(Self {
            location: location.clone(),
            backend,
        })
    }

    /// Where it is.
    pub fn location(&self) -> &StoreLocation {
        &self.location
    }

    /// A connection for reading, of its own.
    pub fn reader(&self) -> Result<Box<dyn SnapshotStore>, StoreError> {
        match &self.location {
            StoreLocation::Sqlite(path) => Ok(Box::new(SqliteStore::open(path)?)),
            StoreLocation::Postgres(_) => Ok(Box::new(self.pooled()?)),
        }
    }

    /// The connection for writing: waits for the writer of a SQLite store; a
    /// pooled connection of PostgreSQL's, whose writers do not wait on each
    /// other.
    pub fn writer(&self) -> Result<Writer<'_>, StoreError> {
        match &self.backend {
            Backend::Sqlite { writer, .. } => Ok(Writer::Sqlite(
                writer.lock().unwrap_or_else(|e| e.into_inner()),
            )),
            Backend::Postgres { .. } => Ok(Writer::Postgres(self.pooled()?)),
        }
    }

    /// The builds published to the fleet, on a pooled connection: `None` for a
    /// SQLite store (one machine reads plugins from its tenants directory).
    pub fn catalog(&self) -> Result<Option<PgStore>, StoreError> {
        match &self.backend {
            Backend::Sqlite { .. } => Ok(None),
            Backend::Postgres { .. } => self.pooled().map(Some),
        }
    }

    fn pooled(&self) -> Result<PgStore, StoreError> {
        let Backend::Postgres { pool } = &self.backend else {
            unreachable!("only a PostgreSQL store has a pool")
        };
        let pool = pool
            .as_ref()
            .expect("the pool lives until the store is dropped");
        let label = self.location.to_string();
        let conn = pool.get().map_err(|e| StoreError::Pool {
            url: label.clone(),
            reason: e.to_string(),
        })?;
        Ok(PgStore::pooled(conn, label))
    }
}

/// A connection to write with, held until dropped.
pub enum Writer<'a> {
    /// The SQLite store's one writer.
    Sqlite(MutexGuard<'a, SqliteStore>),
    /// A pooled PostgreSQL connection.
    Postgres(PgStore),
}

impl std::ops::Deref for Writer<'_> {
    type Target = dyn SnapshotStore;
    fn deref(&self) -> &Self::Target {
        match self {
            Writer::Sqlite(store) => &**store,
            Writer::Postgres(store) => store,
        }
    }
}

impl std::ops::DerefMut for Writer<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        match self {
            Writer::Sqlite(store) => &mut **store,
            Writer::Postgres(store) => store,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_is_a_file_or_a_url() {
        let sqlite = |p: &str| Ok(StoreLocation::Sqlite(p.into()));
        assert_eq!(StoreLocation::parse("headway.db"), sqlite("headway.db"));
        assert_eq!(StoreLocation::parse("sqlite:h.db"), sqlite("h.db"));
        assert_eq!(
            StoreLocation::parse("sqlite:///tmp/h.db"),
            sqlite("/tmp/h.db")
        );
        assert_eq!(
            StoreLocation::parse("postgresql://u@h/db"),
            Ok(StoreLocation::Postgres("postgresql://u@h/db".into()))
        );
        let err = StoreLocation::parse("mysql://h/db").unwrap_err();
        assert!(err.contains("`mysql://` is not a store"), "{err}");
        assert!(StoreLocation::parse("sqlite:").is_err());
        assert!(StoreLocation::parse("").is_err());
        let secret = StoreLocation::parse("postgres://u:pw@h/db").unwrap();
        assert_eq!(secret.to_string(), "postgres://u:***@h/db");
        assert_eq!(
            format!("{secret:?}"),
            "StoreLocation(postgres://u:***@h/db)"
        );
        assert!(!StoreLocation::parse("/nonexistent/h.db").unwrap().exists());
        assert!(secret.exists());
    }
}
