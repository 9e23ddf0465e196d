//! The cursors of audit streams (`keybound audit stream`): per stream name,
//! the last sequence number its receiver acknowledged. A cursor only moves
//! forward (a late or repeated acknowledgement never moves it back), except
//! by an explicit reset (`--from-start`).

use crate::conn::params;
use crate::{ReadTx, Store, StoreError, WriteTx};

/// A stream name the table can hold (PostgreSQL refuses NUL in text).
fn storable_name(name: &str) -> Result<(), StoreError> {
    if super::storable(name) {
        Ok(())
    } else {
        Err(StoreError::Backend("a stream name holds NUL".into()))
    }
}

/// A sequence number as the column holds it.
fn seq_param(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

impl ReadTx {
    /// The last acknowledged sequence number of stream `name` (0 when the
    /// stream is new: it starts at the first event).
    pub async fn audit_stream_cursor(&mut self, name: &str) -> Result<u64, StoreError> {
        storable_name(name)?;
        let acked = self
            .db()?
            .query_opt(
                "SELECT acked_seq FROM audit_streams WHERE name = $1",
                params![name],
                |r| r.int("acked_seq"),
            )
            .await?
            .unwrap_or(0);
        u64::try_from(acked).map_err(|_| StoreError::Corrupt("audit stream cursor".into()))
    }
}

impl WriteTx {
    /// Records that stream `name`'s receiver acknowledged every event up
    /// to `seq`. Only forward: the row is created at `seq` if missing, and
    /// otherwise updated only when `seq` is past the stored cursor.
    pub async fn advance_audit_stream(
        &mut self,
        name: &str,
        seq: u64,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        storable_name(name)?;
        let seq = seq_param(seq);
        let db = self.write().await?;
        db.execute(
            "INSERT INTO audit_streams (name, acked_seq, updated_ms) VALUES ($1, 0, $2)
             ON CONFLICT DO NOTHING",
            params![name, now_ms],
        )
        .await?;
        db.execute(
            "UPDATE audit_streams SET acked_seq = $2, updated_ms = $3
             WHERE name = $1 AND acked_seq < $2",
            params![name, seq, now_ms],
        )
        .await?;
        Ok(())
    }

    /// Puts stream `name` back before the first event (`--from-start`).
    pub async fn reset_audit_stream(&mut self, name: &str) -> Result<(), StoreError> {
        storable_name(name)?;
        self.write()
            .await?
            .execute("DELETE FROM audit_streams WHERE name = $1", params![name])
            .await?;
        Ok(())
    }
}

impl Store {
    /// [`ReadTx::audit_stream_cursor`] on a reader.
    pub async fn audit_stream_cursor(&self, name: &str) -> Result<u64, StoreError> {
        let mut tx = self.read().await?;
        tx.audit_stream_cursor(name).await
    }

    /// [`WriteTx::advance_audit_stream`] in a transaction of its own.
    pub async fn advance_audit_stream(
        &self,
        name: &str,
        seq: u64,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        tx.advance_audit_stream(name, seq, now_ms).await?;
        tx.commit().await
    }

    /// [`WriteTx::reset_audit_stream`] in a transaction of its own.
    pub async fn reset_audit_stream(&self, name: &str) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        tx.reset_audit_stream(name).await?;
        tx.commit().await
    }
}
