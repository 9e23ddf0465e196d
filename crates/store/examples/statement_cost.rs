//! Why the SQLite backend runs on rusqlite in the calling task rather than
//! on sqlx's SQLite driver (which hands every statement to a worker thread
//! and back): the cost of one small statement each way, on the same
//! machine, in one run.
//!
//! ```text
//! cargo run --release -p keybound-store --example statement_cost
//! ```
#![allow(clippy::unwrap_used, missing_docs)]

use std::time::Instant;

use sqlx::{Connection, Executor};

const N: u32 = 5_000;

#[tokio::main]
async fn main() {
    let mut sqlx_conn = sqlx::SqliteConnection::connect("sqlite::memory:")
        .await
        .unwrap();
    let rusqlite_conn = rusqlite::Connection::open_in_memory().unwrap();
    for (what, sql) in [
        ("row-returning (SELECT 1)", "SELECT 1"),
        ("no rows (SAVEPOINT + RELEASE)", "SAVEPOINT s; RELEASE s"),
    ] {
        let start = Instant::now();
        for _ in 0..N {
            if sql.contains(';') {
                sqlx_conn.execute(sql).await.unwrap();
            } else {
                sqlx::query(sql).fetch_all(&mut sqlx_conn).await.unwrap();
            }
        }
        let via_sqlx = start.elapsed().as_secs_f64() * 1e6 / f64::from(N);
        let start = Instant::now();
        for _ in 0..N {
            if sql.contains(';') {
                rusqlite_conn.execute_batch(sql).unwrap();
            } else {
                let mut statement = rusqlite_conn.prepare_cached(sql).unwrap();
                let mut rows = statement.query([]).unwrap();
                while rows.next().unwrap().is_some() {}
            }
        }
        let inline = start.elapsed().as_secs_f64() * 1e6 / f64::from(N);
        println!("{what}: sqlx-sqlite {via_sqlx:.1} µs, rusqlite in the task {inline:.2} µs");
    }
}
