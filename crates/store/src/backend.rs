//! The two databases keybound runs on, and what differs between them: how
//! to connect, which migrations, how durable a commit is, and how a write
//! batch excludes other writers. Every query is the same text on both.

use std::sync::Once;

use sqlx::{AnyConnection, Connection, Executor};

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

    /// One connection, configured for `durability`.
    pub(crate) async fn connect(
        self,
        url: &str,
        durability: Durability,
    ) -> Result<AnyConnection, StoreError> {
        static DRIVERS: Once = Once::new();
        DRIVERS.call_once(sqlx::any::install_default_drivers);
        match self {
            Backend::Sqlite => {
                let mut conn = AnyConnection::connect(&sqlite_url(url)).await?;
                let synchronous = match durability {
                    // WAL plus an fsync of the log at every commit.
                    Durability::Full => "FULL",
                    // WAL, fsync only at checkpoints: a killed process
                    // loses nothing, a power cut may lose the last commits.
                    Durability::Relaxed => "NORMAL",
                };
                for pragma in [
                    "PRAGMA journal_mode = WAL".to_owned(),
                    format!("PRAGMA synchronous = {synchronous}"),
                    "PRAGMA foreign_keys = ON".to_owned(),
                    "PRAGMA busy_timeout = 10000".to_owned(),
                ] {
                    conn.execute(pragma.as_str()).await?;
                }
                Ok(conn)
            }
            Backend::Postgres => {
                let mut conn = AnyConnection::connect(url).await?;
                let synchronous_commit = match durability {
                    Durability::Full => "on",
                    // The server acknowledges before its WAL is flushed: a
                    // killed keybound node loses nothing, a crash of the
                    // database server may lose its last ~0.6 s of commits.
                    Durability::Relaxed => "off",
                };
                conn.execute(format!("SET synchronous_commit = {synchronous_commit}").as_str())
                    .await?;
                conn.execute("SET application_name = 'keybound'").await?;
                Ok(conn)
            }
        }
    }

    /// Brings the schema up to date (PostgreSQL migrations take their own
    /// advisory lock, so nodes starting together are safe).
    pub(crate) async fn migrate(self, conn: &mut AnyConnection) -> Result<(), StoreError> {
        match self {
            Backend::Sqlite => sqlx::migrate!("migrations/sqlite").run(conn).await?,
            Backend::Postgres => sqlx::migrate!("migrations/postgres").run(conn).await?,
        }
        Ok(())
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

/// SQLite URLs as the driver wants them: a file is created when missing.
fn sqlite_url(url: &str) -> String {
    if url.contains(":memory:") || url.contains("mode=") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    }
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
    fn sqlite_files_are_created() {
        assert_eq!(
            sqlite_url("sqlite:///tmp/a.db"),
            "sqlite:///tmp/a.db?mode=rwc"
        );
        assert_eq!(
            sqlite_url("sqlite://a.db?cache=shared"),
            "sqlite://a.db?cache=shared&mode=rwc"
        );
        assert_eq!(sqlite_url("sqlite://a.db?mode=ro"), "sqlite://a.db?mode=ro");
        assert_eq!(sqlite_url("sqlite::memory:"), "sqlite::memory:");
    }
}
