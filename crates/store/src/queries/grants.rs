//! Grants: single-use enrolment tokens (invitations, additional
//! credentials, recoveries), kept by their hash.

use crate::conn::params;
use crate::model::Grant;
use crate::rows::grant_from_row;
use crate::{ReadTx, StoreError, WriteTx};

impl ReadTx {
    /// Looks at a grant without using it (to show an enrolment page or
    /// issue options); [`WriteTx::take_grant`] is what consumes it.
    pub async fn find_grant(
        &mut self,
        token_hash: &[u8],
        now_ms: i64,
    ) -> Result<Option<Grant>, StoreError> {
        self.db()?.query_opt("SELECT * FROM grants WHERE token_hash = $1 AND used_ms IS NULL AND expires_ms > $2", params![token_hash, now_ms], grant_from_row).await
    }

    /// A grant in whatever state it is (used, expired or open), so a page can
    /// tell its holder which.
    pub async fn grant(&mut self, token_hash: &[u8]) -> Result<Option<Grant>, StoreError> {
        self.db()?
            .query_opt(
                "SELECT * FROM grants WHERE token_hash = $1",
                params![token_hash],
                grant_from_row,
            )
            .await
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

    /// Open invitations (unused, unexpired), oldest first: what the
    /// console's and CLI's invitation lists show.
    pub async fn open_invitations(&mut self, now_ms: i64) -> Result<Vec<Grant>, StoreError> {
        self.db()?
            .query_all(
                "SELECT * FROM grants
             WHERE kind = 'invitation' AND used_ms IS NULL AND expires_ms > $1
             ORDER BY created_ms, token_hash",
                params![now_ms],
                grant_from_row,
            )
            .await
    }
}

impl WriteTx {
    /// Voids the open (unused, unexpired) invitations of an identity, and
    /// only those: its recovery or additional-key grants stay. The voided
    /// grants.
    pub async fn void_invitations_of(
        &mut self,
        identity_id: &str,
        now_ms: i64,
    ) -> Result<Vec<Grant>, StoreError> {
        self.write()
            .await?
            .query_all(
                "UPDATE grants SET used_ms = $1, kind = 'voided'
             WHERE identity_id = $2 AND kind = 'invitation' AND used_ms IS NULL
               AND expires_ms > $3
             RETURNING *",
                params![now_ms, identity_id, now_ms],
                grant_from_row,
            )
            .await
    }

    /// Stores a grant (by its token's hash).
    pub async fn insert_grant(&mut self, g: &Grant) -> Result<(), StoreError> {
        self
            .write()
            .await?
            .execute(
                "INSERT INTO grants (token_hash, kind, identity_id, issued_by, min_tier, created_ms,
                 expires_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
                params![&g.token_hash, &g.kind, &g.identity_id, &g.issued_by, g.min_tier, g.created_ms, g.expires_ms],
            )
            .await?;
        Ok(())
    }

    /// Uses a grant: once, before it expires.
    pub async fn take_grant(
        &mut self,
        token_hash: &[u8],
        now_ms: i64,
    ) -> Result<Option<Grant>, StoreError> {
        self.write()
            .await?
            .query_opt(
                "UPDATE grants SET used_ms = $1
             WHERE token_hash = $2 AND used_ms IS NULL AND expires_ms > $3
             RETURNING *",
                params![now_ms, token_hash, now_ms],
                grant_from_row,
            )
            .await
    }

    /// Voids every open grant of an identity (they read as unknown from
    /// then on); the voided grants.
    pub async fn void_grants_of(
        &mut self,
        identity_id: &str,
        now_ms: i64,
    ) -> Result<Vec<Grant>, StoreError> {
        self.write()
            .await?
            .query_all(
                "UPDATE grants SET used_ms = $1, kind = 'voided'
             WHERE identity_id = $2 AND used_ms IS NULL
             RETURNING *",
                params![now_ms, identity_id],
                grant_from_row,
            )
            .await
    }

    /// Voids every open grant an administrator issued (they read as unknown
    /// from then on): offboarding someone ends the links they handed out.
    pub async fn void_grants_issued_by(
        &mut self,
        issuer: &str,
        now_ms: i64,
    ) -> Result<Vec<Grant>, StoreError> {
        self.write()
            .await?
            .query_all(
                "UPDATE grants SET used_ms = $1, kind = 'voided'
             WHERE issued_by = $2 AND used_ms IS NULL
             RETURNING *",
                params![now_ms, issuer],
                grant_from_row,
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
