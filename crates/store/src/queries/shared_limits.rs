//! Rate-limit usage and anomaly observations shared by the nodes on one
//! database (issue 19 item 6). A node's background job writes what it did
//! since its last run in one multi-row statement per table and reads back
//! what the other nodes wrote since then; no request waits on any of it.
//! Reads are by `updated_ms`/`time_ms` with some slack for commits that
//! land late, so a row may be read more than once: the service merges by
//! differences, which makes a repeat harmless.

use crate::conn::{params, Param};
use crate::{ReadTx, StoreError, WriteTx};

/// Rows written per statement: 64 × 5 parameters stays far below both
/// backends' limits, and few distinct statement texts get prepared.
const ROWS_PER_STATEMENT: usize = 64;

/// The most rows one read returns (the oldest changes first); the rest
/// come with the next read.
pub const SHARED_READ_LIMIT: i64 = 20_000;

/// One node's net tokens taken from one bucket in one window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitUsageRow {
    /// The bucket (at most a few dozen bytes: the service hashes long keys).
    pub key: String,
    /// Start of the window, ms.
    pub window_ms: i64,
    /// The node that took them.
    pub node: String,
    /// Net tokens taken in the window (refunds subtract).
    pub count: i64,
}

/// One anomaly observation made on one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitObservationRow {
    /// The node that made it.
    pub node: String,
    /// Its number on that node: (node, seq) is unique.
    pub seq: i64,
    /// The detector's name.
    pub detector: String,
    /// What it is counted for (an address bucket or an account id).
    pub source: String,
    /// Keyed hash of what it was about.
    pub target: i64,
    /// When, ms.
    pub time_ms: i64,
}

/// `($1, $2, ...), (...)`: `rows` groups of `columns` placeholders.
fn placeholders(rows: usize, columns: usize) -> String {
    let mut out = String::new();
    for r in 0..rows {
        if r > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for c in 0..columns {
            if c > 0 {
                out.push_str(", ");
            }
            out.push_str(&format!("${}", r * columns + c + 1));
        }
        out.push(')');
    }
    out
}

impl ReadTx {
    /// Usage rows other nodes than `node` changed at or after `since_ms`.
    pub async fn limit_usage_since(
        &mut self,
        node: &str,
        since_ms: i64,
    ) -> Result<Vec<LimitUsageRow>, StoreError> {
        self.db()?
            .query_all(
                "SELECT key, window_ms, node, count FROM limit_usage
                 WHERE updated_ms >= $1 AND node <> $2
                 ORDER BY updated_ms LIMIT $3",
                params![since_ms, node, SHARED_READ_LIMIT],
                |r| {
                    Ok(LimitUsageRow {
                        key: r.text("key")?,
                        window_ms: r.int("window_ms")?,
                        node: r.text("node")?,
                        count: r.int("count")?,
                    })
                },
            )
            .await
    }

    /// Observations other nodes than `node` made at or after `since_ms`.
    pub async fn limit_observations_since(
        &mut self,
        node: &str,
        since_ms: i64,
    ) -> Result<Vec<LimitObservationRow>, StoreError> {
        self.db()?
            .query_all(
                "SELECT node, seq, detector, source, target, time_ms FROM limit_observations
                 WHERE time_ms >= $1 AND node <> $2
                 ORDER BY time_ms LIMIT $3",
                params![since_ms, node, SHARED_READ_LIMIT],
                |r| {
                    Ok(LimitObservationRow {
                        node: r.text("node")?,
                        seq: r.int("seq")?,
                        detector: r.text("detector")?,
                        source: r.text("source")?,
                        target: r.int("target")?,
                        time_ms: r.int("time_ms")?,
                    })
                },
            )
            .await
    }
}

impl WriteTx {
    /// Adds `usage` ((key, window start, tokens)) to `node`'s rows, stamped
    /// `now_ms`.
    pub async fn add_limit_usage(
        &mut self,
        node: &str,
        now_ms: i64,
        usage: &[(String, i64, i64)],
    ) -> Result<(), StoreError> {
        for chunk in usage.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO limit_usage (key, window_ms, node, count, updated_ms) VALUES {}
                 ON CONFLICT (key, window_ms, node) DO UPDATE
                 SET count = limit_usage.count + excluded.count,
                     updated_ms = excluded.updated_ms",
                placeholders(chunk.len(), 5)
            );
            let mut values: Vec<Param<'_>> = Vec::with_capacity(chunk.len() * 5);
            for (key, window_ms, count) in chunk {
                values.extend([
                    Param::from(key.as_str()),
                    Param::from(*window_ms),
                    Param::from(node),
                    Param::from(*count),
                    Param::from(now_ms),
                ]);
            }
            self.write().await?.execute(&sql, &values).await?;
        }
        Ok(())
    }

    /// Stores `observations` (all made by one node); one already stored is
    /// left as it is, so a retried flush adds nothing twice.
    pub async fn add_limit_observations(
        &mut self,
        observations: &[LimitObservationRow],
    ) -> Result<(), StoreError> {
        for chunk in observations.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO limit_observations (node, seq, detector, source, target, time_ms)
                 VALUES {} ON CONFLICT (node, seq) DO NOTHING",
                placeholders(chunk.len(), 6)
            );
            let mut values: Vec<Param<'_>> = Vec::with_capacity(chunk.len() * 6);
            for o in chunk {
                values.extend([
                    Param::from(o.node.as_str()),
                    Param::from(o.seq),
                    Param::from(o.detector.as_str()),
                    Param::from(o.source.as_str()),
                    Param::from(o.target),
                    Param::from(o.time_ms),
                ]);
            }
            self.write().await?.execute(&sql, &values).await?;
        }
        Ok(())
    }

    /// Claims the alert of `detector` for `source` at `now_ms` for `node`:
    /// true unless some node (this one included) fired it within
    /// `window_ms`. One statement, so of nodes racing exactly one wins.
    pub async fn claim_limit_alert(
        &mut self,
        detector: &str,
        source: &str,
        node: &str,
        now_ms: i64,
        window_ms: i64,
    ) -> Result<bool, StoreError> {
        let changed = self
            .write()
            .await?
            .execute(
                "INSERT INTO limit_alerts (detector, source, node, fired_ms) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (detector, source) DO UPDATE
                 SET node = excluded.node, fired_ms = excluded.fired_ms
                 WHERE limit_alerts.fired_ms <= $5",
                params![
                    detector,
                    source,
                    node,
                    now_ms,
                    now_ms.saturating_sub(window_ms)
                ],
            )
            .await?;
        Ok(changed == 1)
    }

    /// Removes usage of windows that started before `usage_before_ms`,
    /// and observations and alerts from before `events_before_ms`; the
    /// rows removed.
    pub async fn purge_shared_limits(
        &mut self,
        usage_before_ms: i64,
        events_before_ms: i64,
    ) -> Result<u64, StoreError> {
        let mut purged = 0;
        for (sql, before) in [
            (
                "DELETE FROM limit_usage WHERE window_ms < $1",
                usage_before_ms,
            ),
            (
                "DELETE FROM limit_observations WHERE time_ms < $1",
                events_before_ms,
            ),
            (
                "DELETE FROM limit_alerts WHERE fired_ms < $1",
                events_before_ms,
            ),
        ] {
            purged += self.write().await?.execute(sql, params![before]).await?;
        }
        Ok(purged)
    }
}
