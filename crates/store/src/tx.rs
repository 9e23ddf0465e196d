//! One caller's transaction: every query keybound makes, written once in
//! SQL both backends accept (`$n` parameters, `ON CONFLICT`, `RETURNING`).

use crate::conn::{params, Conn};
use keybound_audit::{AuditEvent, NewEvent};
use keybound_names::IndexKeys;

use crate::model::{Challenge, Credential, Grant, Identity, IdentityStatus, Recovery, Session};
use crate::rows::{
    audit_from_row, challenge_from_row, credential_from_row, details_json, grant_from_row,
    identity_from_row, outcome_str, recovery_from_row, severity_str,
};
use std::sync::Arc;

pub(crate) mod authority;

use crate::readers::Readers;
use crate::writer::{Lease, Writer};
use crate::StoreError;

/// One transaction: a savepoint in the node's current write batch, or a
/// read-only look on a reader connection ([`crate::Store::read`]). Dropped
/// without [`Tx::commit`], it rolls back: a refused ceremony leaves nothing
/// behind.
pub struct Tx {
    holder: Holder,
}

enum Holder {
    Write { lease: Lease, abandon: Abandon },
    Read(Reader),
}

/// A reader connection, returned to the pool when the transaction ends.
struct Reader {
    conn: Option<Conn>,
    pool: Arc<Readers>,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl Drop for Reader {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.pool.give_back(conn);
        }
    }
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
            holder: Holder::Write {
                lease,
                abandon: Abandon {
                    writer,
                    armed: true,
                },
            },
        }
    }

    pub(crate) fn reading(
        conn: Conn,
        permit: tokio::sync::OwnedSemaphorePermit,
        pool: Arc<Readers>,
    ) -> Tx {
        Tx {
            holder: Holder::Read(Reader {
                conn: Some(conn),
                pool,
                _permit: permit,
            }),
        }
    }

    /// The connection for a read.
    pub(crate) fn db(&mut self) -> Result<&mut Conn, StoreError> {
        match &mut self.holder {
            Holder::Write { lease, .. } => Ok(&mut lease.conn),
            Holder::Read(reader) => reader
                .conn
                .as_mut()
                .ok_or_else(|| StoreError::Backend("reader connection gone".into())),
        }
    }

    /// The connection for a write: inside this transaction's savepoint.
    async fn write(&mut self) -> Result<&mut Conn, StoreError> {
        match &mut self.holder {
            Holder::Write { lease, .. } => lease.for_writing().await,
            Holder::Read(_) => Err(StoreError::Backend(
                "a write in a read-only transaction".into(),
            )),
        }
    }

    /// Makes every write of this transaction durable, together; returns
    /// once the batch holding it has committed.
    pub async fn commit(self) -> Result<(), StoreError> {
        match self.holder {
            Holder::Write { lease, mut abandon } => {
                abandon.armed = false;
                abandon.writer.commit(lease).await
            }
            Holder::Read(_) => Ok(()),
        }
    }

    /// The secret called `name`, stored from `fresh` if it does not exist.
    pub(crate) async fn secret(&mut self, name: &str, fresh: &[u8]) -> Result<Vec<u8>, StoreError> {
        self.write()
            .await?
            .execute(
                "INSERT INTO secrets (name, value) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                params![name, fresh],
            )
            .await?;
        self.db()?
            .query_opt(
                "SELECT value FROM secrets WHERE name = $1",
                params![name],
                |r| r.blob("value"),
            )
            .await?
            .ok_or_else(|| StoreError::Corrupt("secret vanished".into()))
    }

    /// One round trip to the database.
    pub(crate) async fn ping(&mut self) -> Result<(), StoreError> {
        self.db()?
            .query_opt("SELECT CAST(1 AS BIGINT) AS one", params![], |r| {
                r.int("one")
            })
            .await?;
        Ok(())
    }

    /// The whole audit chain in sequence order.
    pub(crate) async fn audit_events(&mut self) -> Result<Vec<AuditEvent>, StoreError> {
        self.db()?
            .query_all(
                "SELECT * FROM audit_events ORDER BY seq",
                params![],
                audit_from_row,
            )
            .await
    }

    /// Adds an identity, indexed by its name's look-up key and skeleton
    /// (`keybound_names`). [`StoreError::Conflict`] when the name, a
    /// spelling of it, a look-alike (equal skeleton) or the user handle is
    /// taken: the unique indexes decide, so the check holds across nodes.
    pub async fn insert_identity(&mut self, identity: &Identity) -> Result<(), StoreError> {
        let keys = IndexKeys::of(&identity.name);
        let done = self
            .write()
            .await?
            .execute(
                "INSERT INTO identities (id, name, status, is_admin, user_handle, created_ms,
                 name_key, name_skeleton)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT DO NOTHING",
                params![
                    &identity.id,
                    &identity.name,
                    identity.status.as_str(),
                    identity.is_admin,
                    &identity.user_handle,
                    identity.created_ms,
                    &keys.key,
                    &keys.skeleton
                ],
            )
            .await?;
        inserted(done)
    }

    /// The identity a person means by `name`: the one stored with exactly
    /// that name if any (names stored before the naming rule keep working
    /// as typed), else the one whose look-up key is `name`'s (`ADA`, `ａｄａ`
    /// and `ada` find `ada`). Input longer than any name is not looked up.
    pub async fn identity_by_name(&mut self, name: &str) -> Result<Option<Identity>, StoreError> {
        if !storable(name) {
            return Ok(None);
        }
        let Some(key) = keybound_names::lookup_key(name) else {
            return Ok(None);
        };
        self.db()?
            .query_opt(
                "SELECT * FROM identities WHERE name = $1 OR name_key = $2
                 ORDER BY CASE WHEN name = $3 THEN 0 ELSE 1 END LIMIT 1",
                params![name, &key, name],
                identity_from_row,
            )
            .await
    }

    /// An identity that `name` would collide with: [`Tx::identity_by_name`]'s,
    /// or else one whose name looks like it (equal TR39 skeleton). What a
    /// new name must not meet.
    pub async fn identity_resembling(
        &mut self,
        name: &str,
    ) -> Result<Option<Identity>, StoreError> {
        if !storable(name) {
            return Ok(None);
        }
        let Some(key) = keybound_names::lookup_key(name) else {
            return Ok(None);
        };
        let skeleton = keybound_names::skeleton(&key);
        self.db()?
            .query_opt(
                "SELECT * FROM identities WHERE name = $1 OR name_key = $2 OR name_skeleton = $3
                 ORDER BY CASE WHEN name = $4 THEN 0 WHEN name_key = $5 THEN 1 ELSE 2 END
                 LIMIT 1",
                params![name, &key, &skeleton, name, &key],
                identity_from_row,
            )
            .await
    }

    /// Gives every identity stored without a look-up key or skeleton (rows
    /// from before the naming rule) the ones it can have, oldest first: a
    /// key or skeleton an older identity holds stays NULL, and that row is
    /// found by its exact name only. Idempotent; runs when the store opens,
    /// under the writer lock, so nodes starting together agree. Returns how
    /// many rows it keyed.
    pub(crate) async fn key_identity_names(&mut self) -> Result<u64, StoreError> {
        let pending = self
            .db()?
            .query_all(
                "SELECT id, name, name_key, name_skeleton FROM identities
                 WHERE name_key IS NULL OR name_skeleton IS NULL
                 ORDER BY created_ms, id",
                params![],
                |r| {
                    Ok((
                        r.text("id")?,
                        r.text("name")?,
                        r.opt_text("name_key")?,
                        r.opt_text("name_skeleton")?,
                    ))
                },
            )
            .await?;
        let mut keyed = 0;
        for (id, name, had_key, had_skeleton) in pending {
            let keys = IndexKeys::of(&name);
            let key = match (had_key, keys.key) {
                (Some(k), _) => Some(k),
                (None, Some(k)) if !self.name_index_taken("name_key", &k).await? => Some(k),
                _ => None,
            };
            let skeleton = match (had_skeleton, keys.skeleton) {
                (Some(s), _) => Some(s),
                (None, Some(s)) if !self.name_index_taken("name_skeleton", &s).await? => Some(s),
                _ => None,
            };
            if key.is_none() && skeleton.is_none() {
                continue;
            }
            keyed += self
                .write()
                .await?
                .execute(
                    "UPDATE identities SET name_key = $1, name_skeleton = $2 WHERE id = $3",
                    params![&key, &skeleton, &id],
                )
                .await?;
        }
        Ok(keyed)
    }

    async fn name_index_taken(&mut self, column: &str, value: &str) -> Result<bool, StoreError> {
        let sql = match column {
            "name_key" => "SELECT id FROM identities WHERE name_key = $1",
            _ => "SELECT id FROM identities WHERE name_skeleton = $1",
        };
        Ok(self
            .db()?
            .query_opt(sql, params![value], |r| r.text("id"))
            .await?
            .is_some())
    }

    /// Every identity, by name.
    pub async fn identities(&mut self) -> Result<Vec<Identity>, StoreError> {
        self.db()?
            .query_all(
                "SELECT * FROM identities ORDER BY name",
                params![],
                identity_from_row,
            )
            .await
    }

    /// The identity with this id.
    pub async fn identity_by_id(&mut self, id: &str) -> Result<Option<Identity>, StoreError> {
        self.db()?
            .query_opt(
                "SELECT * FROM identities WHERE id = $1",
                params![id],
                identity_from_row,
            )
            .await
    }

    /// The identity owning this WebAuthn user handle.
    pub async fn identity_by_user_handle(
        &mut self,
        handle: &[u8],
    ) -> Result<Option<Identity>, StoreError> {
        self.db()?
            .query_opt(
                "SELECT * FROM identities WHERE user_handle = $1",
                params![handle],
                identity_from_row,
            )
            .await
    }

    /// Sets an identity's status.
    pub async fn set_identity_status(
        &mut self,
        id: &str,
        status: IdentityStatus,
    ) -> Result<bool, StoreError> {
        let done = self
            .write()
            .await?
            .execute(
                "UPDATE identities SET status = $1 WHERE id = $2",
                params![status.as_str(), id],
            )
            .await?;
        Ok(done == 1)
    }

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

    /// [`Tx::record_use`] only if the credential is still active with the
    /// counter `seen_count` (what the assertion was judged against); false
    /// when it moved or was revoked meanwhile, and nothing was changed.
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

    /// Keeps an accepted metadata BLOB.
    pub async fn insert_metadata(
        &mut self,
        no: u64,
        next_update: &str,
        jwt: &[u8],
        imported_ms: i64,
    ) -> Result<(), StoreError> {
        let no = i64::try_from(no).map_err(|_| StoreError::Corrupt("metadata no".into()))?;
        let done = self
            .write()
            .await?
            .execute(
                "INSERT INTO metadata_blobs (no, next_update, jwt, imported_ms)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT DO NOTHING",
                params![no, next_update, jwt, imported_ms],
            )
            .await?;
        inserted(done)
    }

    /// The serial of the current metadata BLOB (cheap: callers cache the
    /// parsed BLOB and only need to know whether it changed).
    pub async fn latest_metadata_no(&mut self) -> Result<Option<u64>, StoreError> {
        let no = self
            .db()?
            .query_opt("SELECT MAX(no) AS no FROM metadata_blobs", params![], |r| {
                r.opt_int("no")
            })
            .await?
            .flatten();
        no.map(|n| u64::try_from(n).map_err(|_| StoreError::Corrupt("metadata no".into())))
            .transpose()
    }

    /// The BLOB with serial `no`: (JWT, import time).
    pub async fn metadata_blob(&mut self, no: u64) -> Result<Option<(Vec<u8>, i64)>, StoreError> {
        let no = i64::try_from(no).map_err(|_| StoreError::Corrupt("metadata no".into()))?;
        self.db()?
            .query_opt(
                "SELECT jwt, imported_ms FROM metadata_blobs WHERE no = $1",
                params![no],
                |r| Ok((r.blob("jwt")?, r.int("imported_ms")?)),
            )
            .await
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

    /// Appends an event to the audit chain, linked to the current last
    /// event. The batch holds the database-wide writer lock, so no other
    /// writer, on this node or another, appends between the read of the last
    /// event and this insert.
    pub async fn append_audit(&mut self, event: NewEvent) -> Result<AuditEvent, StoreError> {
        let cached = match &self.holder {
            Holder::Write { lease, .. } => lease.chain_head(),
            Holder::Read(_) => None,
        };
        let last = match cached {
            Some(head) => head,
            None => {
                self.db()?
                    .query_opt(
                        "SELECT * FROM audit_events ORDER BY seq DESC LIMIT 1",
                        params![],
                        audit_from_row,
                    )
                    .await?
            }
        };
        let sealed = keybound_audit::seal(last.as_ref(), event);
        let e = &sealed.event;
        let seq = i64::try_from(sealed.seq).map_err(|_| StoreError::Corrupt("audit seq".into()))?;
        let details = details_json(&e.details)?;
        self.write()
            .await?
            .execute(
                "INSERT INTO audit_events (seq, time_ms, kind, actor, subject, credential_id, aaguid,
                     attestation, user_verified, sign_count, origin, ip, user_agent, outcome,
                     reason, severity, subject_kind, details, prev_hash, hash)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
                     $17, $18, $19, $20)",
                params![
                    seq,
                    e.time_ms,
                    &e.kind,
                    &e.actor,
                    &e.subject,
                    &e.credential_id,
                    &e.aaguid,
                    &e.attestation,
                    e.user_verified,
                    e.sign_count.map(i64::from),
                    &e.origin,
                    &e.ip,
                    &e.user_agent,
                    e.outcome.map(outcome_str),
                    &e.reason,
                    e.severity.map(severity_str),
                    &e.subject_kind,
                    &details,
                    &sealed.prev_hash,
                    &sealed.hash,
                ],
            )
            .await?;
        if let Holder::Write { lease, .. } = &mut self.holder {
            lease.set_chain_head(&sealed);
        }
        Ok(sealed)
    }

    /// Stores an issued ceremony's state.
    pub async fn insert_challenge(&mut self, c: &Challenge) -> Result<(), StoreError> {
        self
            .write()
            .await?
            .execute(
                "INSERT INTO challenges (challenge_hash, session_hash, ceremony, payload, expires_ms)
             VALUES ($1, $2, $3, $4, $5)",
                params![&c.challenge_hash, &c.session_hash, &c.ceremony, &c.payload, c.expires_ms],
            )
            .await?;
        Ok(())
    }

    /// Consumes a challenge: only an unused, unexpired one issued to this
    /// session for this ceremony, and only once, even with many nodes racing
    /// (the check and the removal are one statement; a taken challenge is
    /// gone, so the table holds only the ones still outstanding).
    pub async fn take_challenge(
        &mut self,
        challenge_hash: &[u8],
        session_hash: &[u8],
        ceremony: &str,
        now_ms: i64,
    ) -> Result<Option<Challenge>, StoreError> {
        self.write()
            .await?
            .query_opt(
                "DELETE FROM challenges
                 WHERE challenge_hash = $1 AND session_hash = $2 AND ceremony = $3
               AND used = FALSE AND expires_ms > $4
             RETURNING challenge_hash, session_hash, ceremony, payload, expires_ms",
                params![challenge_hash, session_hash, ceremony, now_ms],
                challenge_from_row,
            )
            .await
    }

    /// The unused, unexpired challenge `challenge_hash` issued to this
    /// session for `ceremony`, without consuming it (a sign-in verifies the
    /// signature before it takes the challenge, outside the writer).
    pub async fn peek_challenge(
        &mut self,
        challenge_hash: &[u8],
        session_hash: &[u8],
        ceremony: &str,
        now_ms: i64,
    ) -> Result<Option<Challenge>, StoreError> {
        self.db()?
            .query_opt(
                "SELECT challenge_hash, session_hash, ceremony, payload, expires_ms
                 FROM challenges
                 WHERE challenge_hash = $1 AND session_hash = $2 AND ceremony = $3
                   AND used = FALSE AND expires_ms > $4",
                params![challenge_hash, session_hash, ceremony, now_ms],
                challenge_from_row,
            )
            .await
    }

    /// How many challenges are outstanding (issued, unanswered, unexpired)
    /// on every node: what the total bound on pending challenges counts.
    pub async fn count_live_challenges(&mut self, now_ms: i64) -> Result<u64, StoreError> {
        let n = self
            .db()?
            .query_opt(
                "SELECT COUNT(*) AS n FROM challenges WHERE expires_ms > $1",
                params![now_ms],
                |r| r.int("n"),
            )
            .await?
            .unwrap_or(0);
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Which of `challenge_hashes` are still outstanding (not taken, not
    /// expired), on whichever node they were answered. Asked in fixed-size
    /// rounds so every round is the same prepared statement.
    pub async fn live_challenges_among(
        &mut self,
        challenge_hashes: &[Vec<u8>],
        now_ms: i64,
    ) -> Result<Vec<Vec<u8>>, StoreError> {
        const ROUND: usize = 64;
        let placeholders: Vec<String> = (2..ROUND + 2).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT challenge_hash FROM challenges WHERE expires_ms > $1 AND challenge_hash IN ({})",
            placeholders.join(", ")
        );
        let mut live = Vec::new();
        for round in challenge_hashes.chunks(ROUND) {
            let Some(last) = round.last() else { continue };
            let mut params = vec![crate::conn::Param::from(now_ms)];
            // A short round repeats its last hash: the same statement.
            params.extend(
                round
                    .iter()
                    .chain(std::iter::repeat(last))
                    .take(ROUND)
                    .map(crate::conn::Param::from),
            );
            live.extend(
                self.db()?
                    .query_all(&sql, &params, |r| r.blob("challenge_hash"))
                    .await?,
            );
        }
        Ok(live)
    }

    /// Removes challenges that expired unanswered and sessions that ended
    /// or expired: nothing reads them again (the audit chain keeps the
    /// record). Returns how many rows went.
    pub async fn purge_expired(&mut self, now_ms: i64) -> Result<u64, StoreError> {
        let challenges = self
            .write()
            .await?
            .execute(
                "DELETE FROM challenges WHERE expires_ms <= $1",
                params![now_ms],
            )
            .await?;
        let sessions = self
            .write()
            .await?
            .execute(
                "DELETE FROM sessions WHERE expires_ms <= $1 OR ended_ms IS NOT NULL",
                params![now_ms],
            )
            .await?;
        Ok(challenges + sessions)
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

    /// Looks at a grant without using it (to show an enrolment page or
    /// issue options); [`Tx::take_grant`] is what consumes it.
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
                |r| {
                    Ok(Session {
                        id_hash: r.blob("id_hash")?,
                        identity_id: r.text("identity_id")?,
                        credential_id: r.blob("credential_id")?,
                        user_verified: r.flag("user_verified")?,
                        tier: r.int("tier")?,
                        created_ms: r.int("created_ms")?,
                        expires_ms: r.int("expires_ms")?,
                    })
                },
            )
            .await
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

    /// The identity ids that approved a recovery, in order.
    pub async fn recovery_approvers(
        &mut self,
        recovery_id: &str,
    ) -> Result<Vec<String>, StoreError> {
        self.db()?.query_all("SELECT approver_id FROM recovery_approvals WHERE recovery_id = $1 ORDER BY approved_ms, approver_id", params![recovery_id], |r| r.text("approver_id")).await
    }
}

/// Text no stored row can hold: PostgreSQL refuses a NUL in a text
/// parameter outright (an error, not "no row"), so a look-up of client text
/// with one must answer "none" before it reaches the database.
pub(crate) fn storable(text: &str) -> bool {
    !text.contains('\0')
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
