//! Single-use values that carry no state of their own: an OIDC
//! authorization code, a DPoP proof's `jti`, a node's join token. Kept by
//! hash and kind, each used at most once across every node: the use is a
//! conditional `UPDATE` under the database-wide writer lock, so of two
//! nodes racing for one value exactly one sees it succeed. (Challenges and
//! enrolment grants follow the same rule in their own tables, which hold
//! the ceremony state and the grant's terms beside the hash.)

use crate::conn::params;
use crate::queries::inserted;
use crate::{ReadTx, StoreError, WriteTx};

impl ReadTx {
    /// Whether `token_hash` of `kind` is stored, unused and unexpired.
    pub async fn single_use_is_live(
        &mut self,
        kind: &str,
        token_hash: &[u8],
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        Ok(self
            .db()?
            .query_opt(
                "SELECT expires_ms FROM single_use
                 WHERE kind = $1 AND token_hash = $2 AND used_ms IS NULL AND expires_ms > $3",
                params![kind, token_hash, now_ms],
                |r| r.int("expires_ms"),
            )
            .await?
            .is_some())
    }
}

impl WriteTx {
    /// Stores a new value of `kind`, usable until `expires_ms`.
    /// [`StoreError::Conflict`] when that value of that kind is already
    /// stored, used or not: for a value the client chose (a DPoP `jti`),
    /// that is a replay.
    pub async fn insert_single_use(
        &mut self,
        kind: &str,
        token_hash: &[u8],
        expires_ms: i64,
    ) -> Result<(), StoreError> {
        let done = self
            .write()
            .await?
            .execute(
                "INSERT INTO single_use (kind, token_hash, expires_ms) VALUES ($1, $2, $3)
                 ON CONFLICT DO NOTHING",
                params![kind, token_hash, expires_ms],
            )
            .await?;
        inserted(done)
    }

    /// Uses the value: true for the first caller on any node while it is
    /// unexpired, false for every other (unknown, used, expired, or of
    /// another kind).
    pub async fn use_single_use(
        &mut self,
        kind: &str,
        token_hash: &[u8],
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let done = self
            .write()
            .await?
            .execute(
                "UPDATE single_use SET used_ms = $3
                 WHERE kind = $1 AND token_hash = $2 AND used_ms IS NULL AND expires_ms > $3",
                params![kind, token_hash, now_ms],
            )
            .await?;
        Ok(done == 1)
    }
}
