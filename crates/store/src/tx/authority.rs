//! Queries behind the rules on who may change an account: tier caps, role
//! proposals and their approvals, ending the sessions one credential opened.

use super::{inserted, Tx};
use crate::conn::params;
use crate::model::RoleProposal;
use crate::rows::role_proposal_from_row;
use crate::StoreError;

impl Tx {
    /// Sets or clears (`None`) a credential's tier cap, with the tier and
    /// reasons that follow from it.
    pub async fn set_tier_cap(
        &mut self,
        id: &[u8],
        cap: Option<i64>,
        tier: i64,
        reasons: &str,
    ) -> Result<bool, StoreError> {
        let done = self
            .write()
            .await?
            .execute(
                "UPDATE credentials SET tier_cap = $1, tier = $2, tier_reasons = $3 WHERE id = $4",
                params![cap, tier, reasons, id],
            )
            .await?;
        Ok(done == 1)
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

    /// Grants or withdraws the admin role.
    pub async fn set_admin(&mut self, identity_id: &str, admin: bool) -> Result<bool, StoreError> {
        let done = self
            .write()
            .await?
            .execute(
                "UPDATE identities SET is_admin = $1 WHERE id = $2",
                params![admin, identity_id],
            )
            .await?;
        Ok(done == 1)
    }

    /// The highest minimum tier among the invitations `identity_id` enrolled
    /// with: what a recovery of that identity must keep requiring.
    pub async fn enrolled_min_tier(&mut self, identity_id: &str) -> Result<i64, StoreError> {
        let tiers = self
            .db()?
            .query_all(
                "SELECT min_tier FROM grants
             WHERE identity_id = $1 AND kind = 'invitation' AND used_ms IS NOT NULL",
                params![identity_id],
                |r| r.int("min_tier"),
            )
            .await?;
        Ok(tiers.into_iter().max().unwrap_or(1))
    }

    /// Records a role proposal.
    pub async fn insert_role_proposal(&mut self, p: &RoleProposal) -> Result<(), StoreError> {
        self.write()
            .await?
            .execute(
                "INSERT INTO role_proposals (id, identity_id, proposed_by, created_ms, expires_ms,
                 status)
             VALUES ($1, $2, $3, $4, $5, $6)",
                params![
                    &p.id,
                    &p.identity_id,
                    &p.proposed_by,
                    p.created_ms,
                    p.expires_ms,
                    &p.status
                ],
            )
            .await?;
        Ok(())
    }

    /// A role proposal by id.
    pub async fn role_proposal(&mut self, id: &str) -> Result<Option<RoleProposal>, StoreError> {
        if !super::storable(id) {
            return Ok(None);
        }
        self.db()?
            .query_opt(
                "SELECT * FROM role_proposals WHERE id = $1",
                params![id],
                role_proposal_from_row,
            )
            .await
    }

    /// Role proposals still pending and not expired at `now_ms`, oldest
    /// first.
    pub async fn pending_role_proposals(
        &mut self,
        now_ms: i64,
    ) -> Result<Vec<RoleProposal>, StoreError> {
        self.db()?
            .query_all(
                "SELECT * FROM role_proposals WHERE status = 'pending' AND expires_ms > $1
             ORDER BY created_ms, id",
                params![now_ms],
                role_proposal_from_row,
            )
            .await
    }

    /// Sets a role proposal's status.
    pub async fn set_role_proposal_status(
        &mut self,
        id: &str,
        status: &str,
    ) -> Result<bool, StoreError> {
        let done = self
            .write()
            .await?
            .execute(
                "UPDATE role_proposals SET status = $1 WHERE id = $2",
                params![status, id],
            )
            .await?;
        Ok(done == 1)
    }

    /// Voids every pending role proposal for an identity (offboarding, a new
    /// invitation); how many.
    pub async fn void_role_proposals_of(&mut self, identity_id: &str) -> Result<u64, StoreError> {
        self.write()
            .await?
            .execute(
                "UPDATE role_proposals SET status = 'voided'
             WHERE identity_id = $1 AND status = 'pending'",
                params![identity_id],
            )
            .await
    }

    /// Records an approval; [`StoreError::Conflict`] when this approver
    /// already approved.
    pub async fn approve_role_proposal(
        &mut self,
        proposal_id: &str,
        approver_id: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let done = self
            .write()
            .await?
            .execute(
                "INSERT INTO role_approvals (proposal_id, approver_id, approved_ms)
             VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                params![proposal_id, approver_id, now_ms],
            )
            .await?;
        inserted(done)
    }

    /// The identity ids that approved a role proposal, in order.
    pub async fn role_approvers(&mut self, proposal_id: &str) -> Result<Vec<String>, StoreError> {
        self.db()?
            .query_all(
                "SELECT approver_id FROM role_approvals WHERE proposal_id = $1
             ORDER BY approved_ms, approver_id",
                params![proposal_id],
                |r| r.text("approver_id"),
            )
            .await
    }
}

impl Tx {
    /// Voids every open grant an administrator issued (they read as unknown
    /// from then on): offboarding someone ends the links they handed out.
    pub async fn void_grants_issued_by(
        &mut self,
        issuer: &str,
        now_ms: i64,
    ) -> Result<Vec<crate::model::Grant>, StoreError> {
        self.write()
            .await?
            .query_all(
                "UPDATE grants SET used_ms = $1, kind = 'voided'
             WHERE issued_by = $2 AND used_ms IS NULL
             RETURNING *",
                params![now_ms, issuer],
                crate::rows::grant_from_row,
            )
            .await
    }
}

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

impl Tx {
    /// The pending, unexpired recovery of `identity_id`, if any (one at a
    /// time per identity), without reading everyone else's.
    pub async fn pending_recovery_of(
        &mut self,
        identity_id: &str,
        now_ms: i64,
    ) -> Result<Option<crate::model::Recovery>, StoreError> {
        self.db()?
            .query_opt(
                "SELECT * FROM recoveries
             WHERE identity_id = $1 AND status = 'pending' AND expires_ms > $2
             ORDER BY requested_ms DESC",
                params![identity_id, now_ms],
                crate::rows::recovery_from_row,
            )
            .await
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

    /// Voids one open grant; false when it was used or gone.
    pub async fn void_grant(&mut self, token_hash: &[u8], now_ms: i64) -> Result<bool, StoreError> {
        let done = self
            .write()
            .await?
            .execute(
                "UPDATE grants SET used_ms = $1, kind = 'voided'
             WHERE token_hash = $2 AND used_ms IS NULL",
                params![now_ms, token_hash],
            )
            .await?;
        Ok(done == 1)
    }
}
