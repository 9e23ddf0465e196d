//! Sessions: who is signed in, with which credential, until when.

use crate::conn::params;
use crate::model::Session;
use crate::rows::session_from_row;
use crate::{ReadTx, StoreError, WriteTx};

impl ReadTx {
    /// The live session with this cookie hash: not ended, not expired, and
    /// its credential still active.
    pub async fn live_session(
        &mut self,
        id_hash: &[u8],
        now_ms: i64,
    ) -> Result<Option<Session>, StoreError> {
        self.db()?
            .query_opt(
                "SELECT s.* FROM sessions s JOIN credentials c ON c.id = s.credential_id
             WHERE s.id_hash = $1 AND s.ended_ms IS NULL AND s.expires_ms > $2
               AND c.status = 'active'",
                params![id_hash, now_ms],
                session_from_row,
            )
            .await
    }
}

impl WriteTx {
    /// Starts a session.
    pub async fn insert_session(&mut self, s: &Session) -> Result<(), StoreError> {
        self.write()
            .await?
            .execute(
                "INSERT INTO sessions (id_hash, identity_id, credential_id, user_verified, tier,
                 created_ms, expires_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
                params![
                    &s.id_hash,
                    &s.identity_id,
                    &s.credential_id,
                    s.user_verified,
                    s.tier,
                    s.created_ms,
                    s.expires_ms
                ],
            )
            .await?;
        Ok(())
    }

    /// Ends one session (sign-out); false when it was not live.
    pub async fn end_session(&mut self, id_hash: &[u8], now_ms: i64) -> Result<bool, StoreError> {
        let done = self
            .write()
            .await?
            .execute(
                "UPDATE sessions SET ended_ms = $1 WHERE id_hash = $2 AND ended_ms IS NULL",
                params![now_ms, id_hash],
            )
            .await?;
        Ok(done == 1)
    }

    /// Ends every live session of an identity; the sessions ended (their
    /// credential ids, for the audit record).
    pub async fn end_sessions_of(
        &mut self,
        identity_id: &str,
        now_ms: i64,
    ) -> Result<Vec<Vec<u8>>, StoreError> {
        self.write()
            .await?
            .query_all(
                "UPDATE sessions SET ended_ms = $1
             WHERE identity_id = $2 AND ended_ms IS NULL AND expires_ms > $3
             RETURNING credential_id",
                params![now_ms, identity_id, now_ms],
                |r| r.blob("credential_id"),
            )
            .await
    }

    /// Ends every live session opened with `credential_id` (quarantine);
    /// how many ended.
    pub async fn end_sessions_of_credential(
        &mut self,
        credential_id: &[u8],
        now_ms: i64,
    ) -> Result<u64, StoreError> {
        self.write()
            .await?
            .execute(
                "UPDATE sessions SET ended_ms = $1
             WHERE credential_id = $2 AND ended_ms IS NULL AND expires_ms > $3",
                params![now_ms, credential_id, now_ms],
            )
            .await
    }
}

impl ReadTx {
    /// The live sessions of an identity (not ended, not expired), newest
    /// first: what an administrator sees and may end.
    pub async fn live_sessions_of(
        &mut self,
        identity_id: &str,
        now_ms: i64,
    ) -> Result<Vec<Session>, StoreError> {
        self.db()?
            .query_all(
                "SELECT * FROM sessions
             WHERE identity_id = $1 AND ended_ms IS NULL AND expires_ms > $2
             ORDER BY created_ms DESC",
                params![identity_id, now_ms],
                session_from_row,
            )
            .await
    }
}

impl WriteTx {
    /// Ends one live session of `identity_id`, named by its hash (an
    /// administrator's "end"); false when it was not a live session of
    /// theirs.
    pub async fn end_session_of(
        &mut self,
        identity_id: &str,
        id_hash: &[u8],
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let done = self
            .write()
            .await?
            .execute(
                "UPDATE sessions SET ended_ms = $1
             WHERE id_hash = $2 AND identity_id = $3 AND ended_ms IS NULL AND expires_ms > $4",
                params![now_ms, id_hash, identity_id, now_ms],
            )
            .await?;
        Ok(done == 1)
    }
}
