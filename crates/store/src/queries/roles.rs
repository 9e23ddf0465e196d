//! Role proposals: granting the admin role takes a proposal and enough
//! administrators' approvals ([`WriteTx::set_admin`] applies it).

use super::{inserted, storable};
use crate::conn::params;
use crate::model::RoleProposal;
use crate::rows::role_proposal_from_row;
use crate::{ReadTx, StoreError, WriteTx};

impl ReadTx {
    /// A role proposal by id.
    pub async fn role_proposal(&mut self, id: &str) -> Result<Option<RoleProposal>, StoreError> {
        if !storable(id) {
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

impl WriteTx {
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

    /// Withdraws what an administrator put into pending role proposals: the
    /// proposals they made are voided and their approvals of others removed
    /// (suspending them); how many of each.
    pub async fn void_role_actions_by(
        &mut self,
        identity_id: &str,
    ) -> Result<(u64, u64), StoreError> {
        let write = self.write().await?;
        let proposals = write
            .execute(
                "UPDATE role_proposals SET status = 'voided'
             WHERE proposed_by = $1 AND status = 'pending'",
                params![identity_id],
            )
            .await?;
        let approvals = write
            .execute(
                "DELETE FROM role_approvals WHERE approver_id = $1 AND proposal_id IN
             (SELECT id FROM role_proposals WHERE status = 'pending')",
                params![identity_id],
            )
            .await?;
        Ok((proposals, approvals))
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
}
