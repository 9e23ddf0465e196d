//! The two databases keybound runs on, and what differs between them: how
//! to connect, which migrations, how durable a commit is, and how a write
//! batch excludes other writers. Every query is the same text on both.

use std::time::Duration;

use sqlx::{Connection, Executor, PgConnection};

use crate::conn::Conn;
use crate::{Durability, StoreError};

/// Which database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    /// An embedded file (or memory) database: one node.
    Sqlite,
    /// A PostgreSQL server: any number of nodes.
    Postgres,
}

impl Backend {
    /// The backend for `url`, or an error naming what is supported.
    pub(crate) fn of(url: &str) -> Result<Backend, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(StoreError::Backend(format!(
                "unsupported database URL scheme in {:?}: use sqlite:// or postgres://",
                url.split(':').next().unwrap_or_default()
            )))
        }
    }

    /// One connection, configured for `durability`, with the schema
    /// brought up to date.
    pub(crate) async fn connect(
        self,
        url: &str,
        durability: Durability,
    ) -> Result<Conn, StoreError> {
        match self {
            Backend::Sqlite => {
                let db = sqlite_open(url)?;
                let synchronous = match durability {
                    // WAL plus an fsync of the log at every commit.
                    Durability::Full => "FULL",
                    // WAL, fsync only at checkpoints: a killed process
                    // loses nothing, a power cut may lose the last commits.
                    Durability::Relaxed => "NORMAL",
                };
                // Opening may meet another process's brief lock (a server
                // checkpointing its WAL as its last connection closes, an
                // admin command migrating): wait for it here, once, before
                // anything is served, rather than fail the command.
                db.busy_timeout(Duration::from_secs(5))?;
                db.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
                db.execute_batch(&format!(
                    "PRAGMA synchronous = {synchronous}; PRAGMA foreign_keys = ON;"
                ))?;
                db.set_prepared_statement_cache_capacity(128);
                migrate_sqlite(&db)?;
                // From here on never wait for a lock inside a statement:
                // that would block the runtime's thread. The one statement
                // that can meet a lock held by another process, BEGIN
                // IMMEDIATE, is retried asynchronously (`Conn::begin_batch`).
                db.busy_timeout(Duration::ZERO)?;
                Ok(Conn::Sqlite(Some(db)))
            }
            Backend::Postgres => {
                let mut pg = PgConnection::connect(url).await?;
                let synchronous_commit = match durability {
                    Durability::Full => "on",
                    // The server acknowledges before its WAL is flushed: a
                    // killed keybound node loses nothing, a crash of the
                    // database server may lose its last ~0.6 s of commits.
                    Durability::Relaxed => "off",
                };
                pg.execute(format!("SET synchronous_commit = {synchronous_commit}").as_str())
                    .await?;
                pg.execute("SET application_name = 'keybound'").await?;
                // Migrations take their own advisory lock: nodes starting
                // together are safe.
                sqlx::migrate!("migrations/postgres")
                    .run_direct(&mut pg)
                    .await?;
                Ok(Conn::postgres(pg))
            }
        }
    }

    /// Whether `url` names a database keybound has set up (its migrations
    /// table and its own tables are there: another program's sqlx database
    /// is not ours), without creating or changing anything: a SQLite
    /// file is opened read-only and only if it exists, a PostgreSQL
    /// database is only asked. Commands that must not create a database
    /// ask this first.
    pub(crate) async fn initialised(self, url: &str) -> Result<bool, StoreError> {
        match self {
            Backend::Sqlite => {
                let path = sqlite_path(url);
                if path == ":memory:" {
                    return Ok(false);
                }
                if !std::path::Path::new(path).is_file() {
                    return Ok(false);
                }
                let db = rusqlite::Connection::open_with_flags(
                    path,
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                        | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                db.busy_timeout(Duration::from_secs(5))?;
                let n: i64 = db.query_row(
                    "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name IN
                     ('_sqlx_migrations', 'identities', 'audit_events')",
                    [],
                    |r| r.get(0),
                )?;
                Ok(n == 3)
            }
            Backend::Postgres => {
                let mut pg = PgConnection::connect(url).await?;
                let present: bool = sqlx::query_scalar(
                    "SELECT to_regclass('_sqlx_migrations') IS NOT NULL
                         AND to_regclass('identities') IS NOT NULL
                         AND to_regclass('audit_events') IS NOT NULL",
                )
                .fetch_one(&mut pg)
                .await?;
                let _ = pg.close().await;
                Ok(present)
            }
        }
    }

    /// A connection for reads only (durability does not concern it), no
    /// migrations (the writer ran them when the store opened).
    pub(crate) async fn connect_reader(self, url: &str) -> Result<Conn, StoreError> {
        match self {
            Backend::Sqlite => {
                let db = sqlite_open(url)?;
                db.busy_timeout(Duration::from_secs(1))?;
                db.execute_batch("PRAGMA foreign_keys = ON; PRAGMA query_only = ON;")?;
                db.set_prepared_statement_cache_capacity(128);
                Ok(Conn::Sqlite(Some(db)))
            }
            Backend::Postgres => {
                let mut pg = PgConnection::connect(url).await?;
                pg.execute("SET application_name = 'keybound-reader'")
                    .await?;
                Ok(Conn::postgres(pg))
            }
        }
    }

    /// Opens a write batch holding the database-wide writer lock, so the
    /// audit chain gets one writer at a time however many nodes there are.
    pub(crate) fn begin_batch(self) -> &'static [&'static str] {
        match self {
            // IMMEDIATE takes the write lock now, not at the first write,
            // so a batch never fails on a lock upgrade.
            Backend::Sqlite => &["BEGIN IMMEDIATE"],
            Backend::Postgres => &["BEGIN", PG_LOCK],
        }
    }
}

/// The advisory lock that makes one PostgreSQL write batch at a time across
/// every node (27490 is "kb" in ASCII). Held until the batch commits.
const PG_LOCK: &str = "SELECT pg_advisory_xact_lock(27490)";

/// Opens the SQLite database a `sqlite:` URL names, creating the file when
/// missing (`sqlite::memory:` is a private in-memory database).
fn sqlite_open(url: &str) -> Result<rusqlite::Connection, StoreError> {
    let path = sqlite_path(url);
    if path == ":memory:" {
        return Ok(rusqlite::Connection::open_in_memory()?);
    }
    Ok(rusqlite::Connection::open(path)?)
}

/// The file path in `sqlite://path`, `sqlite:path` or `sqlite://path?…`.
pub(crate) fn sqlite_path(url: &str) -> &str {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    rest.split('?').next().unwrap_or(rest)
}

/// Applies the SQLite migrations not yet applied, recording them in the
/// `_sqlx_migrations` table in the layout sqlx's migrator uses, so
/// databases made by earlier versions (migrated by sqlx) carry on.
fn migrate_sqlite(db: &rusqlite::Connection) -> Result<(), StoreError> {
    let migrator = sqlx::migrate!("migrations/sqlite");
    db.execute_batch(
        "CREATE TABLE IF NOT EXISTS _sqlx_migrations (
             version BIGINT PRIMARY KEY,
             description TEXT NOT NULL,
             installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
             success BOOLEAN NOT NULL,
             checksum BLOB NOT NULL,
             execution_time BIGINT NOT NULL
         );",
    )?;
    for migration in migrator.iter() {
        let applied: Option<Vec<u8>> = db
            .query_row(
                "SELECT checksum FROM _sqlx_migrations WHERE version = ?1 AND success",
                [migration.version],
                |r| r.get(0),
            )
            .map(Some)
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                e => Err(e),
            })?;
        match applied {
            Some(checksum) if checksum == *migration.checksum => continue,
            Some(_) => {
                return Err(StoreError::Backend(format!(
                    "migration {} was changed after it was applied",
                    migration.version
                )))
            }
            None => {}
        }
        let started = std::time::Instant::now();
        let tx = db.unchecked_transaction()?;
        tx.execute_batch(&migration.sql)?;
        tx.execute(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
             VALUES (?1, ?2, TRUE, ?3, ?4)",
            rusqlite::params![
                migration.version,
                migration.description.as_ref(),
                migration.checksum.as_ref(),
                i64::try_from(started.elapsed().as_nanos()).unwrap_or(i64::MAX),
            ],
        )?;
        tx.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_choose_the_backend() {
        assert_eq!(Backend::of("sqlite://x.db").unwrap(), Backend::Sqlite);
        assert_eq!(Backend::of("sqlite::memory:").unwrap(), Backend::Sqlite);
        assert_eq!(Backend::of("postgres://u@h/db").unwrap(), Backend::Postgres);
        assert_eq!(
            Backend::of("postgresql://u@h/db").unwrap(),
            Backend::Postgres
        );
        assert!(Backend::of("mysql://u@h/db").is_err());
    }

    #[test]
    fn sqlite_urls_name_a_path() {
        assert_eq!(sqlite_path("sqlite:///tmp/a.db"), "/tmp/a.db");
        assert_eq!(sqlite_path("sqlite://data/a.db?mode=rwc"), "data/a.db");
        assert_eq!(sqlite_path("sqlite:a.db"), "a.db");
        assert_eq!(sqlite_path("sqlite::memory:"), ":memory:");
    }
}
