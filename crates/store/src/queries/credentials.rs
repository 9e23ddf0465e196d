//! Credentials: the public keys identities sign in with, their counters,
//! tiers and status (active, quarantined, revoked).

use super::inserted;
use crate::conn::params;
use crate::model::Credential;
use crate::rows::credential_from_row;
use crate::{ReadTx, StoreError, WriteTx};

impl ReadTx {
    /// The credential with this id, active or not.
    pub async fn credential(&mut self, id: &[u8]) -> Result<Option<Credential>, StoreError> {
        self.db()?
            .query_opt(
                "SELECT * FROM credentials WHERE id = $1",
                params![id],
                credential_from_row,
            )
            .await
    }

    /// The shape of every account that can sign in by name: for each
    /// active identity, its active credentials oldest first, as (identity
    /// id, credential id length, transports). What the decoys offered for
    /// names without usable credentials are drawn from.
    pub async fn sign_in_shapes(
        &mut self,
    ) -> Result<Vec<(String, usize, Vec<String>)>, StoreError> {
        self.db()?
            .query_all(
                "SELECT c.identity_id AS identity_id, CAST(length(c.id) AS BIGINT) AS id_len,
                        c.transports AS transports
                 FROM credentials c JOIN identities i ON i.id = c.identity_id
                 WHERE c.status = 'active' AND i.status = 'active'
                 ORDER BY c.identity_id, c.created_ms, c.id",
                params![],
                |r| {
                    let transports = r.text("transports")?;
                    Ok((
                        r.text("identity_id")?,
                        usize::try_from(r.int("id_len")?).unwrap_or_default(),
                        serde_json::from_str(&transports).unwrap_or_default(),
                    ))
                },
            )
            .await
    }

    /// Every credential of an identity, oldest first.
    pub async fn credentials_of(
        &mut self,
        identity_id: &str,
    ) -> Result<Vec<Credential>, StoreError> {
        self.db()?
            .query_all(
                "SELECT * FROM credentials WHERE identity_id = $1 ORDER BY created_ms, id",
                params![identity_id],
                credential_from_row,
            )
            .await
    }

    /// Every credential of an authenticator model (AAGUID), any status.
    pub async fn credentials_of_model(
        &mut self,
        aaguid: &str,
    ) -> Result<Vec<Credential>, StoreError> {
        self.db()?
            .query_all(
                "SELECT * FROM credentials WHERE aaguid = $1 ORDER BY created_ms, id",
                params![aaguid],
                credential_from_row,
            )
            .await
    }
}

impl WriteTx {
    /// Adds a credential. [`StoreError::Conflict`] when its id is already
    /// registered to anyone (§7.1 step 27).
    pub async fn insert_credential(&mut self, c: &Credential) -> Result<(), StoreError> {
        let done = self
            .write()
            .await?
            .execute(
                "INSERT INTO credentials (id, identity_id, public_key, alg, sign_count, aaguid,
                 attestation_format, attestation_type, attestation_trust, transports,
                 backup_eligible, backup_state, user_verified, nickname, created_ms,
                 last_used_ms, status, tier, tier_reasons, attestation_chain, tier_cap)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, 'active', $17, $18, $19, $20)
             ON CONFLICT DO NOTHING",
                params![&c.id, &c.identity_id, &c.public_key, c.alg, i64::from(c.sign_count), &c.aaguid, &c.attestation_format, &c.attestation_type, &c.attestation_trust, serde_json::to_string(&c.transports).unwrap_or_else(|_| "[]".into()), c.backup_eligible, c.backup_state, c.user_verified, &c.nickname, c.created_ms, c.last_used_ms, c.tier, &c.tier_reasons, serde_json::to_string(&c.attestation_chain).unwrap_or_else(|_| "[]".into()), c.tier_cap],
            )
            .await?;
        inserted(done)
    }

    /// Records a successful sign-in: the new counter and backup state.
    pub async fn record_use(
        &mut self,
        id: &[u8],
        sign_count: u32,
        backup_state: bool,
        time_ms: i64,
    ) -> Result<bool, StoreError> {
        let done = self
            .write()
            .await?
            .execute(
                "UPDATE credentials SET sign_count = $1, backup_state = $2, last_used_ms = $3
             WHERE id = $4 AND status = 'active'",
                params![i64::from(sign_count), backup_state, time_ms, id],
            )
            .await?;
        Ok(done == 1)
    }

    /// [`WriteTx::record_use`] only if the credential is still active with
    /// the counter `seen_count` (what the assertion was judged against);
    /// false when it moved or was revoked meanwhile, and nothing was
    /// changed.
    pub async fn record_use_if_unchanged(
        &mut self,
        id: &[u8],
        seen_count: u32,
        sign_count: u32,
        backup_state: bool,
        time_ms: i64,
    ) -> Result<bool, StoreError> {
        let done = self
            .write()
            .await?
            .execute(
                "UPDATE credentials SET sign_count = $1, backup_state = $2, last_used_ms = $3
                 WHERE id = $4 AND status = 'active' AND sign_count = $5",
                params![
                    i64::from(sign_count),
                    backup_state,
                    time_ms,
                    id,
                    i64::from(seen_count)
                ],
            )
            .await?;
        Ok(done == 1)
    }

    /// Records a credential's new tier and why (metadata changed).
    pub async fn set_tier(
        &mut self,
        id: &[u8],
        tier: i64,
        reasons: &str,
    ) -> Result<bool, StoreError> {
        let done = self
            .write()
            .await?
            .execute(
                "UPDATE credentials SET tier = $1, tier_reasons = $2 WHERE id = $3",
                params![tier, reasons, id],
            )
            .await?;
        Ok(done == 1)
    }

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

    /// Sets (or with `None` clears) a credential's nickname.
    pub async fn set_nickname(
        &mut self,
        id: &[u8],
        nickname: Option<&str>,
    ) -> Result<bool, StoreError> {
        let done = self
            .write()
            .await?
            .execute(
                "UPDATE credentials SET nickname = $1 WHERE id = $2",
                params![nickname, id],
            )
            .await?;
        Ok(done == 1)
    }

    /// Quarantines an active credential (a suspected clone); false when
    /// it was not active.
    pub async fn quarantine_credential(&mut self, id: &[u8]) -> Result<bool, StoreError> {
        let done = self
            .write()
            .await?
            .execute(
                "UPDATE credentials SET status = 'quarantined' WHERE id = $1 AND status = 'active'",
                params![id],
            )
            .await?;
        Ok(done == 1)
    }

    /// Returns a quarantined credential to use. Its counter restarts from
    /// zero: after a regression nobody knows which count is the genuine
    /// one, so the next sign-in sets it again.
    pub async fn clear_quarantine(&mut self, id: &[u8]) -> Result<bool, StoreError> {
        let done = self
            .write()
            .await?
            .execute(
                "UPDATE credentials SET status = 'active', sign_count = 0
             WHERE id = $1 AND status = 'quarantined'",
                params![id],
            )
            .await?;
        Ok(done == 1)
    }

    /// Revokes an active or quarantined credential; false when there was
    /// none to revoke.
    pub async fn revoke_credential(&mut self, id: &[u8], reason: &str) -> Result<bool, StoreError> {
        let done = self
            .write()
            .await?
            .execute(
                "UPDATE credentials SET status = 'revoked', revoked_reason = $1
             WHERE id = $2 AND status IN ('active', 'quarantined')",
                params![reason, id],
            )
            .await?;
        Ok(done == 1)
    }
}
