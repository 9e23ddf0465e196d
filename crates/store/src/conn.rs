//! One database connection, whichever backend: statements with `$n`
//! parameters in, rows out through [`Fields`].
//!
//! SQLite runs through rusqlite, in the calling task: a statement on a
//! cached page costs a few microseconds, while sqlx's SQLite driver hands
//! every statement to a worker thread and back, which on the 2-core VM this
//! is measured on costs 120-150 µs per row-returning statement
//! (`cargo run --release -p keybound-store --example statement_cost`). Only
//! the COMMIT waits for the disk: in place on a multi-threaded runtime
//! (`block_in_place`), on the blocking pool otherwise.
//! PostgreSQL runs through sqlx, whose driver is async end to end.

use std::borrow::Cow;

use sqlx::postgres::PgRow;
use sqlx::{Executor, PgConnection, Row};

use crate::StoreError;

/// A statement parameter.
#[derive(Debug, Clone)]
pub(crate) enum Param<'a> {
    Int(i64),
    Bool(bool),
    Text(Cow<'a, str>),
    Blob(&'a [u8]),
    NullInt,
    NullText,
    NullBool,
    NullBlob,
}

impl From<i64> for Param<'_> {
    fn from(v: i64) -> Self {
        Param::Int(v)
    }
}

impl From<bool> for Param<'_> {
    fn from(v: bool) -> Self {
        Param::Bool(v)
    }
}

impl<'a> From<&'a str> for Param<'a> {
    fn from(v: &'a str) -> Self {
        Param::Text(Cow::Borrowed(v))
    }
}

impl<'a> From<&'a String> for Param<'a> {
    fn from(v: &'a String) -> Self {
        Param::Text(Cow::Borrowed(v))
    }
}

impl From<String> for Param<'_> {
    fn from(v: String) -> Self {
        Param::Text(Cow::Owned(v))
    }
}

impl<'a> From<&'a [u8]> for Param<'a> {
    fn from(v: &'a [u8]) -> Self {
        Param::Blob(v)
    }
}

impl<'a> From<&'a Vec<u8>> for Param<'a> {
    fn from(v: &'a Vec<u8>) -> Self {
        Param::Blob(v)
    }
}

impl<'a> From<&'a Option<Vec<u8>>> for Param<'a> {
    fn from(v: &'a Option<Vec<u8>>) -> Self {
        v.as_deref().map_or(Param::NullBlob, Param::Blob)
    }
}

impl From<Option<i64>> for Param<'_> {
    fn from(v: Option<i64>) -> Self {
        v.map_or(Param::NullInt, Param::Int)
    }
}

impl From<Option<bool>> for Param<'_> {
    fn from(v: Option<bool>) -> Self {
        v.map_or(Param::NullBool, Param::Bool)
    }
}

impl<'a> From<Option<&'a str>> for Param<'a> {
    fn from(v: Option<&'a str>) -> Self {
        v.map_or(Param::NullText, |s| Param::Text(Cow::Borrowed(s)))
    }
}

impl<'a> From<&'a Option<String>> for Param<'a> {
    fn from(v: &'a Option<String>) -> Self {
        Param::from(v.as_deref())
    }
}

/// `params![a, b]`: statement parameters from values of the supported types.
macro_rules! params {
    ($($value:expr),* $(,)?) => {
        &[$($crate::conn::Param::from($value)),*]
    };
}
pub(crate) use params;

impl rusqlite::ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, Value, ValueRef};
        Ok(match self {
            Param::Int(v) => ToSqlOutput::Owned(Value::Integer(*v)),
            Param::Bool(v) => ToSqlOutput::Owned(Value::Integer(i64::from(*v))),
            Param::Text(v) => ToSqlOutput::Borrowed(ValueRef::Text(v.as_bytes())),
            Param::Blob(v) => ToSqlOutput::Borrowed(ValueRef::Blob(v)),
            Param::NullInt | Param::NullText | Param::NullBool | Param::NullBlob => {
                ToSqlOutput::Owned(Value::Null)
            }
        })
    }
}

/// Column access by name, the same for both backends' rows. Booleans are
/// integers in SQLite and booleans in PostgreSQL; [`Fields::flag`] reads
/// either.
pub(crate) trait Fields {
    fn int(&self, column: &str) -> Result<i64, StoreError>;
    fn opt_int(&self, column: &str) -> Result<Option<i64>, StoreError>;
    fn text(&self, column: &str) -> Result<String, StoreError>;
    fn opt_text(&self, column: &str) -> Result<Option<String>, StoreError>;
    fn blob(&self, column: &str) -> Result<Vec<u8>, StoreError>;
    fn opt_blob(&self, column: &str) -> Result<Option<Vec<u8>>, StoreError>;
    fn flag(&self, column: &str) -> Result<bool, StoreError>;
    fn opt_flag(&self, column: &str) -> Result<Option<bool>, StoreError>;
}

impl Fields for rusqlite::Row<'_> {
    fn int(&self, column: &str) -> Result<i64, StoreError> {
        Ok(self.get(column)?)
    }
    fn opt_int(&self, column: &str) -> Result<Option<i64>, StoreError> {
        Ok(self.get(column)?)
    }
    fn text(&self, column: &str) -> Result<String, StoreError> {
        Ok(self.get(column)?)
    }
    fn opt_text(&self, column: &str) -> Result<Option<String>, StoreError> {
        Ok(self.get(column)?)
    }
    fn blob(&self, column: &str) -> Result<Vec<u8>, StoreError> {
        Ok(self.get(column)?)
    }
    fn opt_blob(&self, column: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.get(column)?)
    }
    fn flag(&self, column: &str) -> Result<bool, StoreError> {
        Ok(self.get::<_, i64>(column)? != 0)
    }
    fn opt_flag(&self, column: &str) -> Result<Option<bool>, StoreError> {
        Ok(self.get::<_, Option<i64>>(column)?.map(|v| v != 0))
    }
}

impl Fields for PgRow {
    fn int(&self, column: &str) -> Result<i64, StoreError> {
        Ok(self.try_get(column)?)
    }
    fn opt_int(&self, column: &str) -> Result<Option<i64>, StoreError> {
        Ok(self.try_get(column)?)
    }
    fn text(&self, column: &str) -> Result<String, StoreError> {
        Ok(self.try_get(column)?)
    }
    fn opt_text(&self, column: &str) -> Result<Option<String>, StoreError> {
        Ok(self.try_get(column)?)
    }
    fn blob(&self, column: &str) -> Result<Vec<u8>, StoreError> {
        Ok(self.try_get(column)?)
    }
    fn opt_blob(&self, column: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.try_get(column)?)
    }
    fn flag(&self, column: &str) -> Result<bool, StoreError> {
        Ok(self.try_get(column)?)
    }
    fn opt_flag(&self, column: &str) -> Result<Option<bool>, StoreError> {
        Ok(self.try_get(column)?)
    }
}

/// A connection to either backend.
pub(crate) enum Conn {
    /// `None` only while a COMMIT runs on the blocking pool.
    Sqlite(Option<rusqlite::Connection>),
    /// The flag is set once the connection failed in a way that means it
    /// is gone (the server restarted or dropped it): it is then replaced,
    /// not reused.
    Postgres(PgConnection, bool),
}

/// Whether a PostgreSQL error means the connection itself is lost (I/O,
/// protocol, "terminating connection", connection exceptions).
fn connection_lost(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::Protocol(_) | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(d) => d
            .code()
            .is_some_and(|c| c.starts_with("57P") || c.starts_with("08")),
        _ => false,
    }
}

/// Passes a PostgreSQL result on, noting a lost connection in `broken`.
fn noting<T>(broken: &mut bool, result: Result<T, sqlx::Error>) -> Result<T, StoreError> {
    if let Err(e) = &result {
        if connection_lost(e) {
            *broken = true;
        }
    }
    Ok(result?)
}

fn sqlite_sql(sql: &str) -> Cow<'_, str> {
    // `$n` would be a named parameter to SQLite; `?n` is the n-th.
    if sql.contains('$') {
        Cow::Owned(sql.replace('$', "?"))
    } else {
        Cow::Borrowed(sql)
    }
}

fn pg_query<'q>(
    sql: &'q str,
    params: &'q [Param<'q>],
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    let mut q = sqlx::query(sql);
    for p in params {
        q = match p {
            Param::Int(v) => q.bind(*v),
            Param::Bool(v) => q.bind(*v),
            Param::Text(v) => q.bind(v.as_ref()),
            Param::Blob(v) => q.bind(*v),
            Param::NullInt => q.bind(None::<i64>),
            Param::NullText => q.bind(None::<&str>),
            Param::NullBool => q.bind(None::<bool>),
            Param::NullBlob => q.bind(None::<&[u8]>),
        };
    }
    q
}

/// A boxed `Send` future. PostgreSQL calls are boxed so the futures of the
/// async functions above them stay provably `Send` (sqlx's executor traits
/// are higher-ranked, which rustc's `Send` inference cannot see through).
type Boxed<'a, T> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, sqlx::Error>> + Send + 'a>>;

fn pg_execute<'a>(
    pg: &'a mut PgConnection,
    sql: &'a str,
    params: &'a [Param<'a>],
) -> Boxed<'a, u64> {
    Box::pin(async move { Ok(pg_query(sql, params).execute(pg).await?.rows_affected()) })
}

fn pg_fetch_all<'a>(
    pg: &'a mut PgConnection,
    sql: &'a str,
    params: &'a [Param<'a>],
) -> Boxed<'a, Vec<PgRow>> {
    Box::pin(async move { pg_query(sql, params).fetch_all(pg).await })
}

fn pg_fetch_optional<'a>(
    pg: &'a mut PgConnection,
    sql: &'a str,
    params: &'a [Param<'a>],
) -> Boxed<'a, Option<PgRow>> {
    Box::pin(async move { pg_query(sql, params).fetch_optional(pg).await })
}

fn pg_run<'a>(pg: &'a mut PgConnection, sql: &'a str) -> Boxed<'a, ()> {
    Box::pin(async move {
        pg.execute(sql).await?;
        Ok(())
    })
}

impl Conn {
    /// A PostgreSQL connection that has not failed.
    pub(crate) fn postgres(pg: PgConnection) -> Conn {
        Conn::Postgres(pg, false)
    }

    /// The connection is lost and must be replaced.
    pub(crate) fn is_broken(&self) -> bool {
        matches!(self, Conn::Postgres(_, true))
    }

    fn sqlite(&mut self) -> Result<&mut rusqlite::Connection, StoreError> {
        match self {
            Conn::Sqlite(Some(c)) => Ok(c),
            _ => Err(StoreError::Backend("the connection is committing".into())),
        }
    }

    /// Runs a statement; the number of rows it changed.
    pub(crate) async fn execute(
        &mut self,
        sql: &str,
        params: &[Param<'_>],
    ) -> Result<u64, StoreError> {
        match self {
            Conn::Postgres(pg, broken) => noting(broken, pg_execute(pg, sql, params).await),
            Conn::Sqlite(_) => {
                let db = self.sqlite()?;
                let mut statement = db.prepare_cached(&sqlite_sql(sql))?;
                let changed = statement.execute(rusqlite::params_from_iter(params.iter()))?;
                Ok(changed as u64)
            }
        }
    }

    /// Runs a query; every row, mapped.
    pub(crate) async fn query_all<T>(
        &mut self,
        sql: &str,
        params: &[Param<'_>],
        map: impl Fn(&dyn Fields) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        match self {
            Conn::Postgres(pg, broken) => {
                let rows = noting(broken, pg_fetch_all(pg, sql, params).await)?;
                rows.iter().map(|r| map(r)).collect()
            }
            Conn::Sqlite(_) => {
                let db = self.sqlite()?;
                let mut statement = db.prepare_cached(&sqlite_sql(sql))?;
                let mut rows = statement.query(rusqlite::params_from_iter(params.iter()))?;
                let mut out = Vec::new();
                while let Some(row) = rows.next()? {
                    out.push(map(row)?);
                }
                Ok(out)
            }
        }
    }

    /// Runs a query; its first row, mapped, if any.
    pub(crate) async fn query_opt<T>(
        &mut self,
        sql: &str,
        params: &[Param<'_>],
        map: impl Fn(&dyn Fields) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        match self {
            Conn::Postgres(pg, broken) => {
                let row = noting(broken, pg_fetch_optional(pg, sql, params).await)?;
                row.as_ref().map(|r| map(r)).transpose()
            }
            Conn::Sqlite(_) => {
                let db = self.sqlite()?;
                let mut statement = db.prepare_cached(&sqlite_sql(sql))?;
                let mut rows = statement.query(rusqlite::params_from_iter(params.iter()))?;
                let first = match rows.next()? {
                    Some(row) => Some(map(row)?),
                    None => None,
                };
                // Step to the end: an UPDATE … RETURNING finishes its work.
                while rows.next()?.is_some() {}
                Ok(first)
            }
        }
    }

    /// A statement without parameters or rows (transaction control).
    pub(crate) async fn run(&mut self, sql: &str) -> Result<(), StoreError> {
        match self {
            Conn::Postgres(pg, broken) => noting(broken, pg_run(pg, sql).await),
            Conn::Sqlite(_) => {
                self.sqlite()?.execute_batch(sql)?;
                Ok(())
            }
        }
    }

    /// Opens a write batch with `statements`. On SQLite the write lock may
    /// be held by another process (an admin command, a second server on the
    /// same file): wait for it here, asynchronously, for up to 10 s.
    pub(crate) async fn begin_batch(&mut self, statements: &[&str]) -> Result<(), StoreError> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let mut pause = std::time::Duration::from_micros(200);
        loop {
            let mut outcome = Ok(());
            for statement in statements {
                outcome = self.run(statement).await;
                if outcome.is_err() {
                    break;
                }
            }
            match outcome {
                Err(StoreError::Busy) if std::time::Instant::now() < deadline => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(std::time::Duration::from_millis(20));
                }
                Err(StoreError::Busy) => {
                    return Err(StoreError::Backend(
                        "the database stayed locked for 10 s".into(),
                    ))
                }
                other => return other,
            }
        }
    }

    /// COMMIT. On SQLite it waits for the disk (fsync) with full
    /// durability; on a multi-threaded runtime that wait happens in place
    /// (`block_in_place`: the runtime moves this worker's other tasks to
    /// another thread) rather than on the blocking pool, which would cost
    /// two thread hand-offs while every other transaction waits for the
    /// connection.
    pub(crate) async fn commit(&mut self) -> Result<(), StoreError> {
        match self {
            Conn::Postgres(pg, broken) => noting(broken, pg_run(pg, "COMMIT").await),
            Conn::Sqlite(slot) => {
                let multi_thread = tokio::runtime::Handle::try_current().is_ok_and(|h| {
                    h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread
                });
                if multi_thread {
                    let db = slot.as_mut().ok_or_else(|| {
                        StoreError::Backend("the connection is committing".into())
                    })?;
                    return Ok(tokio::task::block_in_place(|| db.execute_batch("COMMIT"))?);
                }
                let db = slot
                    .take()
                    .ok_or_else(|| StoreError::Backend("the connection is committing".into()))?;
                let (db, done) = tokio::task::spawn_blocking(move || {
                    let done = db.execute_batch("COMMIT");
                    (db, done)
                })
                .await
                .map_err(|e| StoreError::Backend(format!("commit task: {e}")))?;
                *slot = Some(db);
                Ok(done?)
            }
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match &e {
            rusqlite::Error::SqliteFailure(f, _)
                if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                    || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY =>
            {
                StoreError::Conflict
            }
            rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::DatabaseBusy => {
                StoreError::Busy
            }
            _ => StoreError::Backend(e.to_string()),
        }
    }
}
