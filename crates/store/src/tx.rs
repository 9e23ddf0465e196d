//! One caller's transaction: every query keybound makes, written once in
//! SQL both backends accept (`$n` parameters, `ON CONFLICT`, `RETURNING`).

use keybound_audit::{AuditEvent, NewEvent};
use sqlx::{AnyConnection, Row};

use crate::model::{Challenge, Credential, Grant, Identity, IdentityStatus, Recovery, Session};
use crate::rows::{
    audit_from_row, credential_from_row, flag, grant_from_row, identity_from_row, outcome_str,
    recovery_from_row, severity_str,
};
use std::sync::Arc;

use crate::writer::{Lease, Writer};
use crate::StoreError;

/// One transaction: a savepoint in the node's current write batch. Dropped
/// without [`Tx::commit`], it rolls back: a refused ceremony leaves nothing
/// behind.
pub struct Tx {
    lease: Lease,
    abandon: Abandon,
}

/// Tells the writer when a transaction is dropped uncommitted.
struct Abandon {
    writer: Arc<Writer>,
    armed: bool,
}

impl Drop for Abandon {
    fn drop(&mut self) {
        if self.armed {
            self.writer.abandoned();
        }
    }
}

impl Tx {
    pub(crate) fn new(lease: Lease, writer: Arc<Writer>) -> Tx {
        Tx {
            lease,
            abandon: Abandon {
                writer,
                armed: true,
            },
        }
    }

    fn conn(&mut self) -> &mut AnyConnection {
        &mut self.lease.conn
    }

    /// Makes every write of this transaction durable, together; returns
    /// once the batch holding it has committed.
    pub async fn commit(self) -> Result<(), StoreError> {
        let Tx { lease, mut abandon } = self;
        abandon.armed = false;
        abandon.writer.commit(lease).await
    }

    /// The secret called `name`, stored from `fresh` if it does not exist.
    pub(crate) async fn secret(&mut self, name: &str, fresh: &[u8]) -> Result<Vec<u8>, StoreError> {
        sqlx::query("INSERT INTO secrets (name, value) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(name)
            .bind(fresh)
            .execute(self.conn())
            .await?;
        let row = sqlx::query("SELECT value FROM secrets WHERE name = $1")
            .bind(name)
            .fetch_one(self.conn())
            .await?;
        Ok(row.try_get("value")?)
    }

    /// One round trip to the database.
    pub(crate) async fn ping(&mut self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(self.conn()).await?;
        Ok(())
    }

    /// The whole audit chain in sequence order.
    pub(crate) async fn audit_events(&mut self) -> Result<Vec<AuditEvent>, StoreError> {
        let rows = sqlx::query("SELECT * FROM audit_events ORDER BY seq")
            .fetch_all(self.conn())
            .await?;
        rows.iter().map(audit_from_row).collect()
    }

    /// Adds an identity. [`StoreError::Conflict`] when the name or user
    /// handle is taken.
    pub async fn insert_identity(&mut self, identity: &Identity) -> Result<(), StoreError> {
        let done = sqlx::query(
            "INSERT INTO identities (id, name, status, is_admin, user_handle, created_ms)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT DO NOTHING",
        )
        .bind(&identity.id)
        .bind(&identity.name)
        .bind(identity.status.as_str())
        .bind(identity.is_admin)
        .bind(&identity.user_handle)
        .bind(identity.created_ms)
        .execute(self.conn())
        .await?;
        inserted(done.rows_affected())
    }

    /// The identity with this name.
    pub async fn identity_by_name(&mut self, name: &str) -> Result<Option<Identity>, StoreError> {
        let row = sqlx::query("SELECT * FROM identities WHERE name = $1")
            .bind(name)
            .fetch_optional(self.conn())
            .await?;
        row.as_ref().map(identity_from_row).transpose()
    }

    /// Every identity, by name.
    pub async fn identities(&mut self) -> Result<Vec<Identity>, StoreError> {
        let rows = sqlx::query("SELECT * FROM identities ORDER BY name")
            .fetch_all(self.conn())
            .await?;
        rows.iter().map(identity_from_row).collect()
    }

    /// The identity with this id.
    pub async fn identity_by_id(&mut self, id: &str) -> Result<Option<Identity>, StoreError> {
        let row = sqlx::query("SELECT * FROM identities WHERE id = $1")
            .bind(id)
            .fetch_optional(self.conn())
            .await?;
        row.as_ref().map(identity_from_row).transpose()
    }

    /// The identity owning this WebAuthn user handle.
    pub async fn identity_by_user_handle(
        &mut self,
        handle: &[u8],
    ) -> Result<Option<Identity>, StoreError> {
        let row = sqlx::query("SELECT * FROM identities WHERE user_handle = $1")
            .bind(handle)
            .fetch_optional(self.conn())
            .await?;
        row.as_ref().map(identity_from_row).transpose()
    }

    /// Sets an identity's status.
    pub async fn set_identity_status(
        &mut self,
        id: &str,
        status: IdentityStatus,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE identities SET status = $1 WHERE id = $2")
            .bind(status.as_str())
            .bind(id)
            .execute(self.conn())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Adds a credential. [`StoreError::Conflict`] when its id is already
    /// registered to anyone (§7.1 step 27).
    pub async fn insert_credential(&mut self, c: &Credential) -> Result<(), StoreError> {
        let done = sqlx::query(
            "INSERT INTO credentials (id, identity_id, public_key, alg, sign_count, aaguid,
                 attestation_format, attestation_type, attestation_trust, transports,
                 backup_eligible, backup_state, user_verified, nickname, created_ms,
                 last_used_ms, status, tier, tier_reasons, attestation_chain)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, 'active', $17, $18, $19)
             ON CONFLICT DO NOTHING",
        )
        .bind(&c.id)
        .bind(&c.identity_id)
        .bind(&c.public_key)
        .bind(c.alg)
        .bind(i64::from(c.sign_count))
        .bind(&c.aaguid)
        .bind(&c.attestation_format)
        .bind(&c.attestation_type)
        .bind(&c.attestation_trust)
        .bind(serde_json::to_string(&c.transports).unwrap_or_else(|_| "[]".into()))
        .bind(c.backup_eligible)
        .bind(c.backup_state)
        .bind(c.user_verified)
        .bind(&c.nickname)
        .bind(c.created_ms)
        .bind(c.last_used_ms)
        .bind(c.tier)
        .bind(&c.tier_reasons)
        .bind(serde_json::to_string(&c.attestation_chain).unwrap_or_else(|_| "[]".into()))
        .execute(self.conn())
        .await?;
        inserted(done.rows_affected())
    }

    /// The credential with this id, active or not.
    pub async fn credential(&mut self, id: &[u8]) -> Result<Option<Credential>, StoreError> {
        let row = sqlx::query("SELECT * FROM credentials WHERE id = $1")
            .bind(id)
            .fetch_optional(self.conn())
            .await?;
        row.as_ref().map(credential_from_row).transpose()
    }

    /// Every credential of an identity, oldest first.
    pub async fn credentials_of(
        &mut self,
        identity_id: &str,
    ) -> Result<Vec<Credential>, StoreError> {
        let rows =
            sqlx::query("SELECT * FROM credentials WHERE identity_id = $1 ORDER BY created_ms, id")
                .bind(identity_id)
                .fetch_all(self.conn())
                .await?;
        rows.iter().map(credential_from_row).collect()
    }

    /// Records a successful sign-in: the new counter and backup state.
    pub async fn record_use(
        &mut self,
        id: &[u8],
        sign_count: u32,
        backup_state: bool,
        time_ms: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE credentials SET sign_count = $1, backup_state = $2, last_used_ms = $3
             WHERE id = $4 AND status = 'active'",
        )
        .bind(i64::from(sign_count))
        .bind(backup_state)
        .bind(time_ms)
        .bind(id)
        .execute(self.conn())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Every credential of an authenticator model (AAGUID), any status.
    pub async fn credentials_of_model(
        &mut self,
        aaguid: &str,
    ) -> Result<Vec<Credential>, StoreError> {
        let rows =
            sqlx::query("SELECT * FROM credentials WHERE aaguid = $1 ORDER BY created_ms, id")
                .bind(aaguid)
                .fetch_all(self.conn())
                .await?;
        rows.iter().map(credential_from_row).collect()
    }

    /// Keeps an accepted metadata BLOB.
    pub async fn insert_metadata(
        &mut self,
        no: u64,
        next_update: &str,
        jwt: &[u8],
        imported_ms: i64,
    ) -> Result<(), StoreError> {
        let done = sqlx::query(
            "INSERT INTO metadata_blobs (no, next_update, jwt, imported_ms) VALUES ($1, $2, $3, $4)
             ON CONFLICT DO NOTHING",
        )
        .bind(i64::try_from(no).map_err(|_| StoreError::Corrupt("metadata no".into()))?)
        .bind(next_update)
        .bind(jwt)
        .bind(imported_ms)
        .execute(self.conn())
        .await?;
        inserted(done.rows_affected())
    }

    /// The serial of the current metadata BLOB (cheap: callers cache the
    /// parsed BLOB and only need to know whether it changed).
    pub async fn latest_metadata_no(&mut self) -> Result<Option<u64>, StoreError> {
        let no: Option<i64> = sqlx::query_scalar("SELECT MAX(no) FROM metadata_blobs")
            .fetch_one(self.conn())
            .await?;
        no.map(|n| u64::try_from(n).map_err(|_| StoreError::Corrupt("metadata no".into())))
            .transpose()
    }

    /// The BLOB with serial `no`: (JWT, import time).
    pub async fn metadata_blob(&mut self, no: u64) -> Result<Option<(Vec<u8>, i64)>, StoreError> {
        let no = i64::try_from(no).map_err(|_| StoreError::Corrupt("metadata no".into()))?;
        let row = sqlx::query("SELECT jwt, imported_ms FROM metadata_blobs WHERE no = $1")
            .bind(no)
            .fetch_optional(self.conn())
            .await?;
        row.map(|r| Ok((r.try_get("jwt")?, r.try_get("imported_ms")?)))
            .transpose()
    }

    /// Records a credential's new tier and why (metadata changed).
    pub async fn set_tier(
        &mut self,
        id: &[u8],
        tier: i64,
        reasons: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE credentials SET tier = $1, tier_reasons = $2 WHERE id = $3")
            .bind(tier)
            .bind(reasons)
            .bind(id)
            .execute(self.conn())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Sets (or with `None` clears) a credential's nickname.
    pub async fn set_nickname(
        &mut self,
        id: &[u8],
        nickname: Option<&str>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE credentials SET nickname = $1 WHERE id = $2")
            .bind(nickname)
            .bind(id)
            .execute(self.conn())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Quarantines an active credential (a suspected clone); false when
    /// it was not active.
    pub async fn quarantine_credential(&mut self, id: &[u8]) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE credentials SET status = 'quarantined' WHERE id = $1 AND status = 'active'",
        )
        .bind(id)
        .execute(self.conn())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Returns a quarantined credential to use. Its counter restarts from
    /// zero: after a regression nobody knows which count is the genuine
    /// one, so the next sign-in sets it again.
    pub async fn clear_quarantine(&mut self, id: &[u8]) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE credentials SET status = 'active', sign_count = 0
             WHERE id = $1 AND status = 'quarantined'",
        )
        .bind(id)
        .execute(self.conn())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Revokes an active or quarantined credential; false when there was
    /// none to revoke.
    pub async fn revoke_credential(&mut self, id: &[u8], reason: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE credentials SET status = 'revoked', revoked_reason = $1
             WHERE id = $2 AND status IN ('active', 'quarantined')",
        )
        .bind(reason)
        .bind(id)
        .execute(self.conn())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Appends an event to the audit chain, linked to the current last
    /// event. The batch holds the database-wide writer lock, so no other
    /// writer, on this node or another, appends between the read of the last
    /// event and this insert.
    pub async fn append_audit(&mut self, event: NewEvent) -> Result<AuditEvent, StoreError> {
        let last = sqlx::query("SELECT * FROM audit_events ORDER BY seq DESC LIMIT 1")
            .fetch_optional(self.conn())
            .await?;
        let last = last.as_ref().map(audit_from_row).transpose()?;
        let sealed = keybound_audit::seal(last.as_ref(), event);
        let e = &sealed.event;
        sqlx::query(
            "INSERT INTO audit_events (seq, time_ms, kind, actor, subject, credential_id, aaguid,
                 attestation, user_verified, sign_count, origin, ip, user_agent, outcome, reason,
                 severity, prev_hash, hash)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
        )
        .bind(i64::try_from(sealed.seq).map_err(|_| StoreError::Corrupt("audit seq".into()))?)
        .bind(e.time_ms)
        .bind(&e.kind)
        .bind(&e.actor)
        .bind(&e.subject)
        .bind(&e.credential_id)
        .bind(&e.aaguid)
        .bind(&e.attestation)
        .bind(e.user_verified)
        .bind(e.sign_count.map(i64::from))
        .bind(&e.origin)
        .bind(&e.ip)
        .bind(&e.user_agent)
        .bind(e.outcome.map(outcome_str))
        .bind(&e.reason)
        .bind(e.severity.map(severity_str))
        .bind(&sealed.prev_hash)
        .bind(&sealed.hash)
        .execute(self.conn())
        .await?;
        Ok(sealed)
    }

    /// Stores an issued ceremony's state.
    pub async fn insert_challenge(&mut self, c: &Challenge) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO challenges (challenge_hash, session_hash, ceremony, payload, expires_ms)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&c.challenge_hash)
        .bind(&c.session_hash)
        .bind(&c.ceremony)
        .bind(&c.payload)
        .bind(c.expires_ms)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Consumes a challenge: only an unused, unexpired one issued to this
    /// session for this ceremony, and only once, even with many nodes racing
    /// (the check and the mark are one statement).
    pub async fn take_challenge(
        &mut self,
        challenge_hash: &[u8],
        session_hash: &[u8],
        ceremony: &str,
        now_ms: i64,
    ) -> Result<Option<Challenge>, StoreError> {
        let row = sqlx::query(
            "UPDATE challenges SET used = TRUE
             WHERE challenge_hash = $1 AND session_hash = $2 AND ceremony = $3
               AND used = FALSE AND expires_ms > $4
             RETURNING challenge_hash, session_hash, ceremony, payload, expires_ms",
        )
        .bind(challenge_hash)
        .bind(session_hash)
        .bind(ceremony)
        .bind(now_ms)
        .fetch_optional(self.conn())
        .await?;
        row.map(|r| {
            Ok(Challenge {
                challenge_hash: r.try_get("challenge_hash")?,
                session_hash: r.try_get("session_hash")?,
                ceremony: r.try_get("ceremony")?,
                payload: r.try_get("payload")?,
                expires_ms: r.try_get("expires_ms")?,
            })
        })
        .transpose()
    }

    /// Stores a grant (by its token's hash).
    pub async fn insert_grant(&mut self, g: &Grant) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO grants (token_hash, kind, identity_id, issued_by, min_tier, created_ms,
                 expires_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&g.token_hash)
        .bind(&g.kind)
        .bind(&g.identity_id)
        .bind(&g.issued_by)
        .bind(g.min_tier)
        .bind(g.created_ms)
        .bind(g.expires_ms)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Looks at a grant without using it (to show an enrolment page or
    /// issue options); [`Tx::take_grant`] is what consumes it.
    pub async fn find_grant(
        &mut self,
        token_hash: &[u8],
        now_ms: i64,
    ) -> Result<Option<Grant>, StoreError> {
        let row = sqlx::query(
            "SELECT * FROM grants WHERE token_hash = $1 AND used_ms IS NULL AND expires_ms > $2",
        )
        .bind(token_hash)
        .bind(now_ms)
        .fetch_optional(self.conn())
        .await?;
        row.as_ref().map(grant_from_row).transpose()
    }

    /// A grant in whatever state it is (used, expired or open), so a page can
    /// tell its holder which.
    pub async fn grant(&mut self, token_hash: &[u8]) -> Result<Option<Grant>, StoreError> {
        let row = sqlx::query("SELECT * FROM grants WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(self.conn())
            .await?;
        row.as_ref().map(grant_from_row).transpose()
    }

    /// Uses a grant: once, before it expires.
    pub async fn take_grant(
        &mut self,
        token_hash: &[u8],
        now_ms: i64,
    ) -> Result<Option<Grant>, StoreError> {
        let row = sqlx::query(
            "UPDATE grants SET used_ms = $1
             WHERE token_hash = $2 AND used_ms IS NULL AND expires_ms > $3
             RETURNING *",
        )
        .bind(now_ms)
        .bind(token_hash)
        .bind(now_ms)
        .fetch_optional(self.conn())
        .await?;
        row.as_ref().map(grant_from_row).transpose()
    }

    /// Starts a session.
    pub async fn insert_session(&mut self, s: &Session) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sessions (id_hash, identity_id, credential_id, user_verified, tier,
                 created_ms, expires_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&s.id_hash)
        .bind(&s.identity_id)
        .bind(&s.credential_id)
        .bind(s.user_verified)
        .bind(s.tier)
        .bind(s.created_ms)
        .bind(s.expires_ms)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// The live session with this cookie hash: not ended, not expired, and
    /// its credential still active.
    pub async fn live_session(
        &mut self,
        id_hash: &[u8],
        now_ms: i64,
    ) -> Result<Option<Session>, StoreError> {
        let row = sqlx::query(
            "SELECT s.* FROM sessions s JOIN credentials c ON c.id = s.credential_id
             WHERE s.id_hash = $1 AND s.ended_ms IS NULL AND s.expires_ms > $2
               AND c.status = 'active'",
        )
        .bind(id_hash)
        .bind(now_ms)
        .fetch_optional(self.conn())
        .await?;
        row.map(|r| {
            Ok(Session {
                id_hash: r.try_get("id_hash")?,
                identity_id: r.try_get("identity_id")?,
                credential_id: r.try_get("credential_id")?,
                user_verified: flag(&r, "user_verified")?,
                tier: r.try_get("tier")?,
                created_ms: r.try_get("created_ms")?,
                expires_ms: r.try_get("expires_ms")?,
            })
        })
        .transpose()
    }

    /// Ends one session (sign-out); false when it was not live.
    pub async fn end_session(&mut self, id_hash: &[u8], now_ms: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE sessions SET ended_ms = $1 WHERE id_hash = $2 AND ended_ms IS NULL",
        )
        .bind(now_ms)
        .bind(id_hash)
        .execute(self.conn())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Ends every live session of an identity; the sessions ended (their
    /// credential ids, for the audit record).
    pub async fn end_sessions_of(
        &mut self,
        identity_id: &str,
        now_ms: i64,
    ) -> Result<Vec<Vec<u8>>, StoreError> {
        let rows = sqlx::query(
            "UPDATE sessions SET ended_ms = $1
             WHERE identity_id = $2 AND ended_ms IS NULL AND expires_ms > $3
             RETURNING credential_id",
        )
        .bind(now_ms)
        .bind(identity_id)
        .bind(now_ms)
        .fetch_all(self.conn())
        .await?;
        rows.iter()
            .map(|r| r.try_get("credential_id").map_err(StoreError::from))
            .collect()
    }

    /// Voids every open grant of an identity (they read as unknown from
    /// then on); the voided grants.
    pub async fn void_grants_of(
        &mut self,
        identity_id: &str,
        now_ms: i64,
    ) -> Result<Vec<Grant>, StoreError> {
        let rows = sqlx::query(
            "UPDATE grants SET used_ms = $1, kind = 'voided'
             WHERE identity_id = $2 AND used_ms IS NULL
             RETURNING *",
        )
        .bind(now_ms)
        .bind(identity_id)
        .fetch_all(self.conn())
        .await?;
        rows.iter().map(grant_from_row).collect()
    }

    /// Records a recovery request.
    pub async fn insert_recovery(&mut self, r: &Recovery) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO recoveries (id, identity_id, requested_ms, expires_ms, ready_ms, status,
                 revoke_old)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&r.id)
        .bind(&r.identity_id)
        .bind(r.requested_ms)
        .bind(r.expires_ms)
        .bind(r.ready_ms)
        .bind(&r.status)
        .bind(r.revoke_old)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// A recovery by id.
    pub async fn recovery(&mut self, id: &str) -> Result<Option<Recovery>, StoreError> {
        let row = sqlx::query("SELECT * FROM recoveries WHERE id = $1")
            .bind(id)
            .fetch_optional(self.conn())
            .await?;
        row.as_ref().map(recovery_from_row).transpose()
    }

    /// Recoveries still pending and not expired at `now_ms`, oldest first.
    pub async fn pending_recoveries(&mut self, now_ms: i64) -> Result<Vec<Recovery>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM recoveries WHERE status = 'pending' AND expires_ms > $1
             ORDER BY requested_ms, id",
        )
        .bind(now_ms)
        .fetch_all(self.conn())
        .await?;
        rows.iter().map(recovery_from_row).collect()
    }

    /// Updates a recovery's status, readiness and choice about old
    /// credentials.
    pub async fn update_recovery(&mut self, r: &Recovery) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE recoveries SET status = $1, ready_ms = $2, revoke_old = $3 WHERE id = $4",
        )
        .bind(&r.status)
        .bind(r.ready_ms)
        .bind(r.revoke_old)
        .bind(&r.id)
        .execute(self.conn())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Voids every pending recovery of an identity (offboarding).
    pub async fn void_recoveries_of(&mut self, identity_id: &str) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE recoveries SET status = 'voided' WHERE identity_id = $1 AND status = 'pending'",
        )
        .bind(identity_id)
        .execute(self.conn())
        .await?;
        Ok(done.rows_affected())
    }

    /// Records an approval; [`StoreError::Conflict`] when this approver
    /// already approved.
    pub async fn approve_recovery(
        &mut self,
        recovery_id: &str,
        approver_id: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let done = sqlx::query(
            "INSERT INTO recovery_approvals (recovery_id, approver_id, approved_ms) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
        )
        .bind(recovery_id)
        .bind(approver_id)
        .bind(now_ms)
        .execute(self.conn())
        .await?;
        inserted(done.rows_affected())
    }

    /// The identity ids that approved a recovery, in order.
    pub async fn recovery_approvers(
        &mut self,
        recovery_id: &str,
    ) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT approver_id FROM recovery_approvals WHERE recovery_id = $1 ORDER BY approved_ms, approver_id",
        )
        .bind(recovery_id)
        .fetch_all(self.conn())
        .await?;
        rows.iter()
            .map(|r| r.try_get("approver_id").map_err(StoreError::from))
            .collect()
    }
}

/// An `INSERT … ON CONFLICT DO NOTHING` that inserted nothing hit a unique
/// key. Checking the count instead of catching the error keeps the
/// transaction usable on PostgreSQL, where a failed statement would abort it.
fn inserted(rows: u64) -> Result<(), StoreError> {
    if rows == 1 {
        Ok(())
    } else {
        Err(StoreError::Conflict)
    }
}
