//! The SQLite backend.

use std::str::FromStr;
use std::time::Duration;

use keybound_audit::{AuditEvent, NewEvent, Outcome, Severity};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Row, Sqlite, SqlitePool};

use crate::model::{
    Challenge, Credential, CredentialStatus, Grant, Identity, IdentityStatus, Recovery, Session,
};
use crate::StoreError;

/// A SQLite database holding all of keybound's state.
#[derive(Debug, Clone)]
pub struct Store {
    pool: SqlitePool,
}

/// One write transaction (`BEGIN IMMEDIATE`). Dropped without
/// [`Tx::commit`], it rolls back: a refused ceremony leaves nothing behind.
pub struct Tx {
    tx: sqlx::Transaction<'static, Sqlite>,
}

impl Store {
    /// Opens (creating if needed) the database at `url` (`sqlite://path` or
    /// `sqlite::memory:`), in WAL mode with foreign keys on, and brings its
    /// schema up to date.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        // An in-memory database exists once per connection: keep one.
        let max = if url.contains(":memory:") { 1 } else { 8 };
        let pool = SqlitePoolOptions::new()
            .max_connections(max)
            .connect_with(options)
            .await?;
        sqlx::migrate!("migrations/sqlite").run(&pool).await?;
        Ok(Store { pool })
    }

    /// Starts a write transaction.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        Ok(Tx {
            tx: self.pool.begin_with("BEGIN IMMEDIATE").await?,
        })
    }

    /// The secret called `name`, created from `fresh` on first use and the
    /// same on every later start and on every node.
    pub async fn secret(&self, name: &str, fresh: &[u8]) -> Result<Vec<u8>, StoreError> {
        sqlx::query("INSERT OR IGNORE INTO secrets (name, value) VALUES (?, ?)")
            .bind(name)
            .bind(fresh)
            .execute(&self.pool)
            .await?;
        let row = sqlx::query("SELECT value FROM secrets WHERE name = ?")
            .bind(name)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("value")?)
    }

    /// True when the database answers (for `/readyz`).
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }

    /// The whole audit chain in sequence order (for verify and export).
    pub async fn audit_events(&self) -> Result<Vec<AuditEvent>, StoreError> {
        let rows = sqlx::query("SELECT * FROM audit_events ORDER BY seq")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(audit_from_row).collect()
    }
}

fn outcome_str(o: Outcome) -> &'static str {
    match o {
        Outcome::Success => "success",
        Outcome::Failure => "failure",
        Outcome::Alert => "alert",
    }
}

fn outcome_parse(s: &str) -> Result<Outcome, StoreError> {
    Ok(match s {
        "success" => Outcome::Success,
        "failure" => Outcome::Failure,
        "alert" => Outcome::Alert,
        other => return Err(StoreError::Corrupt(format!("outcome {other:?}"))),
    })
}

fn severity_str(s: Severity) -> &'static str {
    match s {
        Severity::Info => "info",
        Severity::Warning => "warning",
        Severity::High => "high",
    }
}

fn severity_parse(s: &str) -> Result<Severity, StoreError> {
    Ok(match s {
        "info" => Severity::Info,
        "warning" => Severity::Warning,
        "high" => Severity::High,
        other => return Err(StoreError::Corrupt(format!("severity {other:?}"))),
    })
}

fn audit_from_row(row: &SqliteRow) -> Result<AuditEvent, StoreError> {
    let seq: i64 = row.try_get("seq")?;
    let sign_count: Option<i64> = row.try_get("sign_count")?;
    let outcome: Option<String> = row.try_get("outcome")?;
    let severity: Option<String> = row.try_get("severity")?;
    Ok(AuditEvent {
        seq: u64::try_from(seq).map_err(|_| StoreError::Corrupt("audit seq".into()))?,
        event: NewEvent {
            time_ms: row.try_get("time_ms")?,
            kind: row.try_get("kind")?,
            actor: row.try_get("actor")?,
            subject: row.try_get("subject")?,
            credential_id: row.try_get("credential_id")?,
            aaguid: row.try_get("aaguid")?,
            attestation: row.try_get("attestation")?,
            user_verified: row.try_get("user_verified")?,
            sign_count: sign_count
                .map(u32::try_from)
                .transpose()
                .map_err(|_| StoreError::Corrupt("audit sign_count".into()))?,
            origin: row.try_get("origin")?,
            ip: row.try_get("ip")?,
            user_agent: row.try_get("user_agent")?,
            outcome: outcome.as_deref().map(outcome_parse).transpose()?,
            reason: row.try_get("reason")?,
            severity: severity.as_deref().map(severity_parse).transpose()?,
        },
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
    })
}

fn identity_from_row(row: &SqliteRow) -> Result<Identity, StoreError> {
    let status: String = row.try_get("status")?;
    Ok(Identity {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        status: IdentityStatus::parse(&status)?,
        is_admin: row.try_get("is_admin")?,
        user_handle: row.try_get("user_handle")?,
        created_ms: row.try_get("created_ms")?,
    })
}

fn credential_from_row(row: &SqliteRow) -> Result<Credential, StoreError> {
    let sign_count: i64 = row.try_get("sign_count")?;
    let transports: String = row.try_get("transports")?;
    let status: String = row.try_get("status")?;
    let status = match status.as_str() {
        "active" => CredentialStatus::Active,
        "quarantined" => CredentialStatus::Quarantined,
        "revoked" => CredentialStatus::Revoked(
            row.try_get::<Option<String>, _>("revoked_reason")?
                .unwrap_or_default(),
        ),
        other => return Err(StoreError::Corrupt(format!("credential status {other:?}"))),
    };
    Ok(Credential {
        id: row.try_get("id")?,
        identity_id: row.try_get("identity_id")?,
        public_key: row.try_get("public_key")?,
        alg: row.try_get("alg")?,
        sign_count: u32::try_from(sign_count)
            .map_err(|_| StoreError::Corrupt("sign_count".into()))?,
        aaguid: row.try_get("aaguid")?,
        attestation_format: row.try_get("attestation_format")?,
        attestation_type: row.try_get("attestation_type")?,
        attestation_trust: row.try_get("attestation_trust")?,
        transports: serde_json::from_str(&transports)
            .map_err(|_| StoreError::Corrupt("transports".into()))?,
        backup_eligible: row.try_get("backup_eligible")?,
        backup_state: row.try_get("backup_state")?,
        user_verified: row.try_get("user_verified")?,
        nickname: row.try_get("nickname")?,
        created_ms: row.try_get("created_ms")?,
        last_used_ms: row.try_get("last_used_ms")?,
        status,
        tier: row.try_get("tier")?,
        tier_reasons: row.try_get("tier_reasons")?,
        attestation_chain: serde_json::from_str(&row.try_get::<String, _>("attestation_chain")?)
            .map_err(|_| StoreError::Corrupt("attestation chain".into()))?,
    })
}

fn grant_from_row(r: &SqliteRow) -> Result<Grant, StoreError> {
    Ok(Grant {
        token_hash: r.try_get("token_hash")?,
        kind: r.try_get("kind")?,
        identity_id: r.try_get("identity_id")?,
        issued_by: r.try_get("issued_by")?,
        min_tier: r.try_get("min_tier")?,
        created_ms: r.try_get("created_ms")?,
        expires_ms: r.try_get("expires_ms")?,
        used_ms: r.try_get("used_ms")?,
    })
}

impl Tx {
    /// Makes every write of this transaction durable, together.
    pub async fn commit(self) -> Result<(), StoreError> {
        Ok(self.tx.commit().await?)
    }

    /// Adds an identity. [`StoreError::Conflict`] when the name or user
    /// handle is taken.
    pub async fn insert_identity(&mut self, identity: &Identity) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO identities (id, name, status, is_admin, user_handle, created_ms)
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&identity.id)
        .bind(&identity.name)
        .bind(identity.status.as_str())
        .bind(identity.is_admin)
        .bind(&identity.user_handle)
        .bind(identity.created_ms)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// The identity with this name.
    pub async fn identity_by_name(&mut self, name: &str) -> Result<Option<Identity>, StoreError> {
        let row = sqlx::query("SELECT * FROM identities WHERE name = ?")
            .bind(name)
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref().map(identity_from_row).transpose()
    }

    /// Every identity, by name.
    pub async fn identities(&mut self) -> Result<Vec<Identity>, StoreError> {
        let rows = sqlx::query("SELECT * FROM identities ORDER BY name")
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter().map(identity_from_row).collect()
    }

    /// The identity with this id.
    pub async fn identity_by_id(&mut self, id: &str) -> Result<Option<Identity>, StoreError> {
        let row = sqlx::query("SELECT * FROM identities WHERE id = ?")
            .bind(id)
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref().map(identity_from_row).transpose()
    }

    /// The identity owning this WebAuthn user handle.
    pub async fn identity_by_user_handle(
        &mut self,
        handle: &[u8],
    ) -> Result<Option<Identity>, StoreError> {
        let row = sqlx::query("SELECT * FROM identities WHERE user_handle = ?")
            .bind(handle)
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref().map(identity_from_row).transpose()
    }

    /// Sets an identity's status.
    pub async fn set_identity_status(
        &mut self,
        id: &str,
        status: IdentityStatus,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE identities SET status = ? WHERE id = ?")
            .bind(status.as_str())
            .bind(id)
            .execute(&mut *self.tx)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Adds a credential. [`StoreError::Conflict`] when its id is already
    /// registered to anyone (§7.1 step 27).
    pub async fn insert_credential(&mut self, c: &Credential) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO credentials (id, identity_id, public_key, alg, sign_count, aaguid,
                 attestation_format, attestation_type, attestation_trust, transports,
                 backup_eligible, backup_state, user_verified, nickname, created_ms,
                 last_used_ms, status, tier, tier_reasons, attestation_chain)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'active', ?, ?, ?)",
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
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// The credential with this id, active or not.
    pub async fn credential(&mut self, id: &[u8]) -> Result<Option<Credential>, StoreError> {
        let row = sqlx::query("SELECT * FROM credentials WHERE id = ?")
            .bind(id)
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref().map(credential_from_row).transpose()
    }

    /// Every credential of an identity, oldest first.
    pub async fn credentials_of(
        &mut self,
        identity_id: &str,
    ) -> Result<Vec<Credential>, StoreError> {
        let rows =
            sqlx::query("SELECT * FROM credentials WHERE identity_id = ? ORDER BY created_ms, id")
                .bind(identity_id)
                .fetch_all(&mut *self.tx)
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
            "UPDATE credentials SET sign_count = ?, backup_state = ?, last_used_ms = ?
             WHERE id = ? AND status = 'active'",
        )
        .bind(i64::from(sign_count))
        .bind(backup_state)
        .bind(time_ms)
        .bind(id)
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Every credential of an authenticator model (AAGUID), any status.
    pub async fn credentials_of_model(
        &mut self,
        aaguid: &str,
    ) -> Result<Vec<Credential>, StoreError> {
        let rows =
            sqlx::query("SELECT * FROM credentials WHERE aaguid = ? ORDER BY created_ms, id")
                .bind(aaguid)
                .fetch_all(&mut *self.tx)
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
        sqlx::query(
            "INSERT INTO metadata_blobs (no, next_update, jwt, imported_ms) VALUES (?, ?, ?, ?)",
        )
        .bind(i64::try_from(no).map_err(|_| StoreError::Corrupt("metadata no".into()))?)
        .bind(next_update)
        .bind(jwt)
        .bind(imported_ms)
        .execute(&mut *self.tx)
        .await
        .map_err(|e| match e {
            sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict,
            e => e.into(),
        })?;
        Ok(())
    }

    /// The serial of the current metadata BLOB (cheap: callers cache the
    /// parsed BLOB and only need to know whether it changed).
    pub async fn latest_metadata_no(&mut self) -> Result<Option<u64>, StoreError> {
        let no: Option<i64> = sqlx::query_scalar("SELECT MAX(no) FROM metadata_blobs")
            .fetch_one(&mut *self.tx)
            .await?;
        no.map(|n| u64::try_from(n).map_err(|_| StoreError::Corrupt("metadata no".into())))
            .transpose()
    }

    /// The BLOB with serial `no`: (JWT, import time).
    pub async fn metadata_blob(&mut self, no: u64) -> Result<Option<(Vec<u8>, i64)>, StoreError> {
        let no = i64::try_from(no).map_err(|_| StoreError::Corrupt("metadata no".into()))?;
        let row = sqlx::query("SELECT jwt, imported_ms FROM metadata_blobs WHERE no = ?")
            .bind(no)
            .fetch_optional(&mut *self.tx)
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
        let done = sqlx::query("UPDATE credentials SET tier = ?, tier_reasons = ? WHERE id = ?")
            .bind(tier)
            .bind(reasons)
            .bind(id)
            .execute(&mut *self.tx)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Sets (or with `None` clears) a credential's nickname.
    pub async fn set_nickname(
        &mut self,
        id: &[u8],
        nickname: Option<&str>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE credentials SET nickname = ? WHERE id = ?")
            .bind(nickname)
            .bind(id)
            .execute(&mut *self.tx)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Quarantines an active credential (a suspected clone); false when
    /// it was not active.
    pub async fn quarantine_credential(&mut self, id: &[u8]) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE credentials SET status = 'quarantined' WHERE id = ? AND status = 'active'",
        )
        .bind(id)
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Returns a quarantined credential to use. Its counter restarts from
    /// zero: after a regression nobody knows which count is the genuine
    /// one, so the next sign-in sets it again.
    pub async fn clear_quarantine(&mut self, id: &[u8]) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE credentials SET status = 'active', sign_count = 0
             WHERE id = ? AND status = 'quarantined'",
        )
        .bind(id)
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Revokes an active or quarantined credential; false when there was
    /// none to revoke.
    pub async fn revoke_credential(&mut self, id: &[u8], reason: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE credentials SET status = 'revoked', revoked_reason = ?
             WHERE id = ? AND status IN ('active', 'quarantined')",
        )
        .bind(reason)
        .bind(id)
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Appends an event to the audit chain, linked to the current last
    /// event. Under `BEGIN IMMEDIATE` no other writer can append between the
    /// read of the last event and this insert.
    pub async fn append_audit(&mut self, event: NewEvent) -> Result<AuditEvent, StoreError> {
        let last = sqlx::query("SELECT * FROM audit_events ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut *self.tx)
            .await?;
        let last = last.as_ref().map(audit_from_row).transpose()?;
        let sealed = keybound_audit::seal(last.as_ref(), event);
        let e = &sealed.event;
        sqlx::query(
            "INSERT INTO audit_events (seq, time_ms, kind, actor, subject, credential_id, aaguid,
                 attestation, user_verified, sign_count, origin, ip, user_agent, outcome, reason,
                 severity, prev_hash, hash)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
        .execute(&mut *self.tx)
        .await?;
        Ok(sealed)
    }

    /// Stores an issued ceremony's state.
    pub async fn insert_challenge(&mut self, c: &Challenge) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO challenges (challenge_hash, session_hash, ceremony, payload, expires_ms)
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&c.challenge_hash)
        .bind(&c.session_hash)
        .bind(&c.ceremony)
        .bind(&c.payload)
        .bind(c.expires_ms)
        .execute(&mut *self.tx)
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
            "UPDATE challenges SET used = 1
             WHERE challenge_hash = ? AND session_hash = ? AND ceremony = ?
               AND used = 0 AND expires_ms > ?
             RETURNING challenge_hash, session_hash, ceremony, payload, expires_ms",
        )
        .bind(challenge_hash)
        .bind(session_hash)
        .bind(ceremony)
        .bind(now_ms)
        .fetch_optional(&mut *self.tx)
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
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&g.token_hash)
        .bind(&g.kind)
        .bind(&g.identity_id)
        .bind(&g.issued_by)
        .bind(g.min_tier)
        .bind(g.created_ms)
        .bind(g.expires_ms)
        .execute(&mut *self.tx)
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
            "SELECT * FROM grants WHERE token_hash = ? AND used_ms IS NULL AND expires_ms > ?",
        )
        .bind(token_hash)
        .bind(now_ms)
        .fetch_optional(&mut *self.tx)
        .await?;
        row.as_ref().map(grant_from_row).transpose()
    }

    /// A grant in whatever state it is (used, expired or open), so a page can
    /// tell its holder which.
    pub async fn grant(&mut self, token_hash: &[u8]) -> Result<Option<Grant>, StoreError> {
        let row = sqlx::query("SELECT * FROM grants WHERE token_hash = ?")
            .bind(token_hash)
            .fetch_optional(&mut *self.tx)
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
            "UPDATE grants SET used_ms = ?
             WHERE token_hash = ? AND used_ms IS NULL AND expires_ms > ?
             RETURNING *",
        )
        .bind(now_ms)
        .bind(token_hash)
        .bind(now_ms)
        .fetch_optional(&mut *self.tx)
        .await?;
        row.as_ref().map(grant_from_row).transpose()
    }

    /// Starts a session.
    pub async fn insert_session(&mut self, s: &Session) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sessions (id_hash, identity_id, credential_id, user_verified, tier,
                 created_ms, expires_ms)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&s.id_hash)
        .bind(&s.identity_id)
        .bind(&s.credential_id)
        .bind(s.user_verified)
        .bind(s.tier)
        .bind(s.created_ms)
        .bind(s.expires_ms)
        .execute(&mut *self.tx)
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
             WHERE s.id_hash = ? AND s.ended_ms IS NULL AND s.expires_ms > ?
               AND c.status = 'active'",
        )
        .bind(id_hash)
        .bind(now_ms)
        .fetch_optional(&mut *self.tx)
        .await?;
        row.map(|r| {
            Ok(Session {
                id_hash: r.try_get("id_hash")?,
                identity_id: r.try_get("identity_id")?,
                credential_id: r.try_get("credential_id")?,
                user_verified: r.try_get("user_verified")?,
                tier: r.try_get("tier")?,
                created_ms: r.try_get("created_ms")?,
                expires_ms: r.try_get("expires_ms")?,
            })
        })
        .transpose()
    }

    /// Ends one session (sign-out); false when it was not live.
    pub async fn end_session(&mut self, id_hash: &[u8], now_ms: i64) -> Result<bool, StoreError> {
        let done =
            sqlx::query("UPDATE sessions SET ended_ms = ? WHERE id_hash = ? AND ended_ms IS NULL")
                .bind(now_ms)
                .bind(id_hash)
                .execute(&mut *self.tx)
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
            "UPDATE sessions SET ended_ms = ?
             WHERE identity_id = ? AND ended_ms IS NULL AND expires_ms > ?
             RETURNING credential_id",
        )
        .bind(now_ms)
        .bind(identity_id)
        .bind(now_ms)
        .fetch_all(&mut *self.tx)
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
            "UPDATE grants SET used_ms = ?, kind = 'voided'
             WHERE identity_id = ? AND used_ms IS NULL
             RETURNING *",
        )
        .bind(now_ms)
        .bind(identity_id)
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter().map(grant_from_row).collect()
    }

    /// Records a recovery request.
    pub async fn insert_recovery(&mut self, r: &Recovery) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO recoveries (id, identity_id, requested_ms, expires_ms, ready_ms, status,
                 revoke_old)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&r.id)
        .bind(&r.identity_id)
        .bind(r.requested_ms)
        .bind(r.expires_ms)
        .bind(r.ready_ms)
        .bind(&r.status)
        .bind(r.revoke_old)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// A recovery by id.
    pub async fn recovery(&mut self, id: &str) -> Result<Option<Recovery>, StoreError> {
        let row = sqlx::query("SELECT * FROM recoveries WHERE id = ?")
            .bind(id)
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref().map(recovery_from_row).transpose()
    }

    /// Recoveries still pending and not expired at `now_ms`, oldest first.
    pub async fn pending_recoveries(&mut self, now_ms: i64) -> Result<Vec<Recovery>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM recoveries WHERE status = 'pending' AND expires_ms > ?
             ORDER BY requested_ms, id",
        )
        .bind(now_ms)
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter().map(recovery_from_row).collect()
    }

    /// Updates a recovery's status, readiness and choice about old
    /// credentials.
    pub async fn update_recovery(&mut self, r: &Recovery) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE recoveries SET status = ?, ready_ms = ?, revoke_old = ? WHERE id = ?",
        )
        .bind(&r.status)
        .bind(r.ready_ms)
        .bind(r.revoke_old)
        .bind(&r.id)
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Voids every pending recovery of an identity (offboarding).
    pub async fn void_recoveries_of(&mut self, identity_id: &str) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE recoveries SET status = 'voided' WHERE identity_id = ? AND status = 'pending'",
        )
        .bind(identity_id)
        .execute(&mut *self.tx)
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
        sqlx::query(
            "INSERT INTO recovery_approvals (recovery_id, approver_id, approved_ms) VALUES (?, ?, ?)",
        )
        .bind(recovery_id)
        .bind(approver_id)
        .bind(now_ms)
        .execute(&mut *self.tx)
        .await
        .map_err(|e| match e {
            sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict,
            e => e.into(),
        })?;
        Ok(())
    }

    /// The identity ids that approved a recovery, in order.
    pub async fn recovery_approvers(
        &mut self,
        recovery_id: &str,
    ) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT approver_id FROM recovery_approvals WHERE recovery_id = ? ORDER BY approved_ms, approver_id",
        )
        .bind(recovery_id)
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter()
            .map(|r| r.try_get("approver_id").map_err(StoreError::from))
            .collect()
    }
}

fn recovery_from_row(r: &SqliteRow) -> Result<Recovery, StoreError> {
    Ok(Recovery {
        id: r.try_get("id")?,
        identity_id: r.try_get("identity_id")?,
        requested_ms: r.try_get("requested_ms")?,
        expires_ms: r.try_get("expires_ms")?,
        ready_ms: r.try_get("ready_ms")?,
        status: r.try_get("status")?,
        revoke_old: r.try_get("revoke_old")?,
    })
}
