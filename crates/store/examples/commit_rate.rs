//! Transactions per second through the store, the way a ceremony step uses
//! it (one challenge row and one audit event per transaction), with 1 and
//! 64 concurrent callers and each durability:
//!
//! ```text
//! cargo run --release -p keybound-store --example commit_rate [postgres://…]
//! ```
//!
//! Without a URL it uses a SQLite file in a temporary directory.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::{Duration, Instant};

use keybound_audit::NewEvent;
use keybound_store::{Challenge, Durability, Store};

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let given = std::env::args().nth(1);
    for durability in [Durability::Full, Durability::Relaxed] {
        for callers in [1usize, 64] {
            let url = given.clone().unwrap_or_else(|| {
                format!(
                    "sqlite://{}",
                    dir.path()
                        .join(format!("{durability:?}-{callers}.db"))
                        .display()
                )
            });
            let store = Store::open_with(&url, durability).await.unwrap();
            let before = store.commit_stats().await;
            let start = Instant::now();
            let tasks: Vec<_> = (0..callers)
                .map(|c| {
                    let store = store.clone();
                    tokio::spawn(async move {
                        let mut n = 0u64;
                        while start.elapsed() < Duration::from_secs(3) {
                            let mut tx = store.begin().await.unwrap();
                            let mut hash = [0u8; 32];
                            hash[..8].copy_from_slice(&(c as u64).to_le_bytes());
                            hash[8..16].copy_from_slice(&n.to_le_bytes());
                            hash[16..24].copy_from_slice(
                                &(start.elapsed().as_nanos() as u64).to_le_bytes(),
                            );
                            tx.insert_challenge(&Challenge {
                                challenge_hash: hash.to_vec(),
                                session_hash: vec![1; 32],
                                ceremony: "authentication".into(),
                                payload: "{}".into(),
                                expires_ms: 1,
                            })
                            .await
                            .unwrap();
                            tx.append_audit(NewEvent {
                                kind: "bench".into(),
                                ..NewEvent::default()
                            })
                            .await
                            .unwrap();
                            tx.commit().await.unwrap();
                            n += 1;
                        }
                        n
                    })
                })
                .collect();
            let mut total = 0;
            for t in tasks {
                total += t.await.unwrap();
            }
            let secs = start.elapsed().as_secs_f64();
            let after = store.commit_stats().await;
            let batches = after.batches - before.batches;
            println!(
                "{durability:?} x{callers}: {:.0} transactions/s, {:.0} commits/s, {:.1} transactions per commit",
                total as f64 / secs,
                batches as f64 / secs,
                total as f64 / batches.max(1) as f64
            );
        }
    }
}
