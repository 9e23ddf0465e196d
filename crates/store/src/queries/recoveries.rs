//! Recoveries: requests to recover an identity that lost every
//! credential, the administrators' approvals, and the grant each issues.

use super::{inserted, storable};
use crate::conn::params;
use crate::model::Recovery;
use crate::rows::recovery_from_row;
use crate::{ReadTx, StoreError, WriteTx};

/// A recovery of one identity whose grant was issued and is still unused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedRecovery {
    /// The recovery's id.
    pub id: String,
    /// When it was asked for, ms.
    pub requested_ms: i64,
    /// The grant's token hash.
    pub grant_hash: Vec<u8>,
}

impl ReadTx {
    /// A recovery by id.
    pub async fn recovery(&mut self, id: &str) -> Result<Option<Recovery>, StoreError> {
        if !storable(id) {
            return Ok(None);
        }
        self.db()?
            .query_opt(
                "SELECT * FROM recoveries WHERE id = $1",
                params![id],
                recovery_from_row,
            )
            .await
    }

    /// Recoveries still pending and not expired at `now_ms`, oldest first.
    pub async fn pending_recoveries(&mut self, now_ms: i64) -> Result<Vec<Recovery>, StoreError> {
        self.db()?
            .query_all(
                "SELECT * FROM recoveries WHERE status = 'pending' AND expires_ms > $1
             ORDER BY requested_ms, id",
                params![now_ms],
                recovery_from_row,
            )
            .await
    }

    /// The pending, unexpired recovery of `identity_id`, if any (one at a
    /// time per identity), without reading everyone else's.
    pub async fn pending_recovery_of(
        &mut self,
        identity_id: &str,
        now_ms: i64,
    ) -> Result<Option<Recovery>, StoreError> {
        self.db()?
            .query_opt(
                "SELECT * FROM recoveries
             WHERE identity_id = $1 AND status = 'pending' AND expires_ms > $2
             ORDER BY requested_ms DESC",
                params![identity_id, now_ms],
                recovery_from_row,
            )
            .await
    }

    /// The issued recovery of `identity_id` whose grant is still open at
    /// `now_ms`, if any.
    pub async fn issued_recovery_of(
        &mut self,
        identity_id: &str,
        now_ms: i64,
    ) -> Result<Option<IssuedRecovery>, StoreError> {
        self.db()?
            .query_opt(
                "SELECT r.id, r.requested_ms, r.grant_hash FROM recoveries r
             JOIN grants g ON g.token_hash = r.grant_hash
             WHERE r.identity_id = $1 AND r.status = 'issued'
               AND g.used_ms IS NULL AND g.expires_ms > $2
             ORDER BY r.requested_ms DESC",
                params![identity_id, now_ms],
                |r| {
                    Ok(IssuedRecovery {
                        id: r.text("id")?,
                        requested_ms: r.int("requested_ms")?,
                        grant_hash: r.blob("grant_hash")?,
                    })
                },
            )
            .await
    }

    /// The identity ids that approved a recovery, in order.
    pub async fn recovery_approvers(
        &mut self,
        recovery_id: &str,
    ) -> Result<Vec<String>, StoreError> {
        self.db()?.query_all("SELECT approver_id FROM recovery_approvals WHERE recovery_id = $1 ORDER BY approved_ms, approver_id", params![recovery_id], |r| r.text("approver_id")).await
    }
}

impl WriteTx {
    /// Records a recovery request.
    pub async fn insert_recovery(&mut self, r: &Recovery) -> Result<(), StoreError> {
        self
            .write()
            .await?
            .execute(
                "INSERT INTO recoveries (id, identity_id, requested_ms, expires_ms, ready_ms, status,
                 revoke_old)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
                params![&r.id, &r.identity_id, r.requested_ms, r.expires_ms, r.ready_ms, &r.status, r.revoke_old],
            )
            .await?;
        Ok(())
    }

    /// Updates a recovery's status, readiness and choice about old
    /// credentials.
    pub async fn update_recovery(&mut self, r: &Recovery) -> Result<bool, StoreError> {
        let done = self
            .write()
            .await?
            .execute(
                "UPDATE recoveries SET status = $1, ready_ms = $2, revoke_old = $3 WHERE id = $4",
                params![&r.status, r.ready_ms, r.revoke_old, &r.id],
            )
            .await?;
        Ok(done == 1)
    }

    /// Voids every pending recovery of an identity (offboarding).
    pub async fn void_recoveries_of(&mut self, identity_id: &str) -> Result<u64, StoreError> {
        let done = self
            .write()
            .await?
            .execute(
                "UPDATE recoveries SET status = 'voided' WHERE identity_id = $1 AND status = 'pending'",
                params![identity_id],
            )
            .await?;
        Ok(done)
    }

    /// Records an approval; [`StoreError::Conflict`] when this approver
    /// already approved.
    pub async fn approve_recovery(
        &mut self,
        recovery_id: &str,
        approver_id: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let done = self
            .write()
            .await?
            .execute(
                "INSERT INTO recovery_approvals (recovery_id, approver_id, approved_ms) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
                params![recovery_id, approver_id, now_ms],
            )
            .await?;
        inserted(done)
    }

    /// Remembers which grant a recovery issued.
    pub async fn set_recovery_grant(
        &mut self,
        recovery_id: &str,
        grant_hash: &[u8],
    ) -> Result<bool, StoreError> {
        let done = self
            .write()
            .await?
            .execute(
                "UPDATE recoveries SET grant_hash = $1 WHERE id = $2",
                params![grant_hash, recovery_id],
            )
            .await?;
        Ok(done == 1)
    }
}
