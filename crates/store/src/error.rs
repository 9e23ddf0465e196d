//! The store's one error type; no driver type escapes.

use std::fmt;

/// Why a storage operation failed.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// A unique key already exists (a name, a credential id): a client
    /// error for the layers above, never a 500.
    Conflict,
    /// A stored row could not be read back (bad enum text, negative count).
    Corrupt(String),
    /// The database could not be reached or refused the operation.
    Backend(String),
    /// Another process holds the write lock (SQLite); retried internally.
    Busy,
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Conflict => f.write_str("already exists"),
            StoreError::Corrupt(what) => write!(f, "corrupt row: {what}"),
            StoreError::Backend(what) => write!(f, "database error: {what}"),
            StoreError::Busy => f.write_str("database is locked"),
        }
    }
}

impl std::error::Error for StoreError {}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict,
            _ => StoreError::Backend(e.to_string()),
        }
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        StoreError::Backend(e.to_string())
    }
}
