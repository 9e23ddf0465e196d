//! Device Bound Session Credentials on the server (W3C DBSC,
//! <https://w3c.github.io/webappsec-dbsc/>; issue 16, item 3): a browser
//! that supports it binds a signed-in session to a key it keeps, and from
//! then on the session cookie admits only together with the short-lived
//! bound cookie (`kb_bound`), which only a refresh proving that key renews.
//! A session cookie copied to another machine stops working when its bound
//! cookie expires (the refresh interval, [`crate::Config::dbsc_refresh_ms`]).
//!
//! - [`Service::dbsc_offer`]: the challenge for the registration header
//!   sent where a session cookie is set;
//! - [`Service::dbsc_register`]: the registration proof (the new key as
//!   `jwk`, `jti` the challenge): the binding, `dbsc.register`, the first
//!   bound cookie;
//! - [`Service::dbsc_refresh_challenge`] then [`Service::dbsc_refresh`]:
//!   a fresh challenge, and the proof with the registered key that renews
//!   the bound cookie (not audited: the row keeps the last time and count);
//! - [`Service::dbsc_gate`]: whether a request's cookies admit its
//!   session, and whether pages should invite a binding (forward-auth
//!   checks the same in its cache).
//!
//! Challenges are stateless (`mac.rs`) and spent through the single-use
//! table, so a proof is answered once across every node. Refusals at the
//! endpoints are audited as `dbsc.refused` with the precise reason. A
//! session never bound (a browser without DBSC) works as before.

mod mac;

use keybound_audit::Outcome;
use keybound_jose::{verify_dbsc_proof, DbscProof, Error as JoseError, Jwk};
use keybound_store::{DbscSessionRow, StoreError};

use crate::record::Record;
use crate::single_use::TokenKind;
use crate::tokens::{hash_token, hex_id};
use crate::{ClientContext, EventKind, Refusal, Service, ServiceError};

/// The bound cookie's name.
pub const BOUND_COOKIE: &str = "kb_bound";

/// How long after a sign-in its session may still be bound, ms. The
/// browser registers within a second or two of the sign-in; a session
/// cookie copied later must not let its thief bind the session to the
/// thief's own key (and lock the owner out of it).
pub const DBSC_BIND_WINDOW_MS: i64 = 120_000;

/// Longest `session_identifier` looked up (minted ones are 32 hex digits).
pub const MAX_DBSC_SESSION_ID: usize = 64;

/// A binding that a proof established or renewed: what the browser is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbscBound {
    /// The `session_identifier`.
    pub id: String,
    /// The bound cookie's value.
    pub bound_cookie: String,
    /// Its lifetime, seconds (the refresh interval).
    pub max_age_s: i64,
}

/// What a session's binding says of one request ([`Service::dbsc_gate`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbscGate {
    /// Bound, and the request carried its live bound cookie.
    Bound,
    /// Bound, without a live bound cookie: the session is as none.
    Refused,
    /// Never bound; `invite`: young enough that pages invite a binding.
    Unbound {
        /// Invite the browser to bind the session.
        invite: bool,
    },
}

impl DbscGate {
    /// Whether the session may act (every case but [`DbscGate::Refused`]).
    pub fn admits(self) -> bool {
        self != DbscGate::Refused
    }
}

fn proof_refusal(e: &JoseError) -> Refusal {
    match e {
        JoseError::AlgorithmNotAllowed => Refusal::DbscProofAlgorithm,
        JoseError::BadSignature | JoseError::KeyMismatch => Refusal::DbscProofSignature,
        _ => Refusal::DbscProofMalformed,
    }
}

fn challenge_refusal(e: mac::ChallengeError) -> Refusal {
    match e {
        mac::ChallengeError::Invalid => Refusal::DbscChallengeInvalid,
        mac::ChallengeError::Expired => Refusal::DbscChallengeExpired,
    }
}

impl Service {
    fn dbsc_key(&self) -> aws_lc_rs::hmac::Key {
        mac::key(&self.config.enumeration_secret)
    }

    /// The registration challenge for the session whose cookie is
    /// `session_cookie`, to send in `Secure-Session-Registration` with the
    /// cookie. Computes, stores nothing.
    pub fn dbsc_offer(&self, session_cookie: &str) -> String {
        mac::challenge(
            &self.dbsc_key(),
            mac::Purpose::Register,
            &hash_token(session_cookie),
            self.now_ms(),
            self.random(),
        )
    }

    /// A fresh refresh challenge for the live binding `id`, for the 403
    /// answer (`Secure-Session-Challenge`). Not a live binding:
    /// [`ServiceError::NotFound`] (the browser then forgets it).
    pub async fn dbsc_refresh_challenge(&self, id: &str) -> Result<String, ServiceError> {
        if id.is_empty() || id.len() > MAX_DBSC_SESSION_ID {
            return Err(ServiceError::NotFound);
        }
        let now = self.now_ms();
        let mut tx = self.kernel.store.read().await?;
        if tx.live_dbsc_session(id, now).await?.is_none() {
            return Err(ServiceError::NotFound);
        }
        Ok(mac::challenge(
            &self.dbsc_key(),
            mac::Purpose::Refresh,
            id.as_bytes(),
            now,
            self.random(),
        ))
    }

    /// Binds the live session of `session_cookie` to the key that signed
    /// `proof` (a `Secure-Session-Response` answering [`Self::dbsc_offer`]'s
    /// challenge): one transaction with its `dbsc.register` event.
    ///
    /// Errors: [`ServiceError::Rejected`] with a `dbsc_*` reason (recorded
    /// as `dbsc.refused`): a malformed proof, another algorithm, a bad
    /// signature, a challenge not made for this session, expired or
    /// already answered, no live session, a session already bound, a
    /// session signed in more than [`DBSC_BIND_WINDOW_MS`] ago.
    pub async fn dbsc_register(
        &self,
        session_cookie: &str,
        proof: &str,
        ctx: &ClientContext,
    ) -> Result<DbscBound, ServiceError> {
        let now = self.now_ms();
        let hash = hash_token(session_cookie);
        let refuse = |reason: Refusal, subject: Option<String>| async move {
            let mut event = self.event(EventKind::DbscRefused, ctx);
            event.subject = subject;
            self.record_refusal(event, reason, Some("registration".to_owned()))
                .await
        };
        let verified: Result<DbscProof, Refusal> =
            verify_dbsc_proof(proof, None).map_err(|e| proof_refusal(&e));
        let proof = match verified {
            Ok(p) => p,
            Err(reason) => return Err(refuse(reason, None).await),
        };
        let expires = match mac::check_challenge(
            &self.dbsc_key(),
            mac::Purpose::Register,
            &hash,
            &proof.jti,
            now,
            self.config.challenge_ttl_ms,
        ) {
            Ok(expires) => expires,
            Err(e) => return Err(refuse(challenge_refusal(e), None).await),
        };
        let mut tx = self.kernel.store.begin().await?;
        let Some(session) = tx.live_session(&hash, now).await? else {
            drop(tx);
            return Err(refuse(Refusal::DbscSessionNotLive, None).await);
        };
        if now.saturating_sub(session.created_ms) > DBSC_BIND_WINDOW_MS {
            drop(tx);
            return Err(refuse(Refusal::DbscBindTooLate, None).await);
        }
        let name = tx
            .identity_by_id(&session.identity_id)
            .await?
            .map(|i| i.name);
        if !self
            .remember_once(
                &mut tx,
                TokenKind::DbscChallenge,
                proof.jti.as_bytes(),
                expires,
            )
            .await?
        {
            drop(tx);
            return Err(refuse(Refusal::DbscChallengeReplayed, name).await);
        }
        let row = DbscSessionRow {
            id: hex_id(self.random::<16>()),
            session_hash: hash.clone(),
            identity_id: session.identity_id.clone(),
            public_key: proof.key.to_json().to_string(),
            thumbprint: proof.key.thumbprint(),
            created_ms: now,
            last_refresh_ms: None,
            refresh_count: 0,
            ended_ms: None,
        };
        match tx.insert_dbsc_session(&row).await {
            Ok(()) => {}
            Err(StoreError::Conflict) => {
                drop(tx);
                return Err(refuse(Refusal::DbscAlreadyBound, name).await);
            }
            Err(e) => return Err(e.into()),
        }
        let mut event = self.event(EventKind::DbscRegister, ctx);
        event.subject = name;
        event.credential_id = Some(keybound_webauthn::b64::encode(&session.credential_id));
        event.outcome = Some(Outcome::Success);
        event.reason = Some(format!("session key {}", row.thumbprint));
        tx.record(event).await?;
        tx.commit().await?;
        Ok(self.bound(&row.id, &hash, now))
    }

    /// Renews the bound cookie of binding `id` for a proof with its
    /// registered key answering [`Self::dbsc_refresh_challenge`]'s
    /// challenge. `session_cookie` must be the session the binding binds.
    /// Not audited when it succeeds (the row keeps the last refresh and
    /// the count).
    ///
    /// Errors: [`ServiceError::Rejected`] with a `dbsc_*` reason (recorded
    /// as `dbsc.refused`): no live binding (ended, its session ended,
    /// unknown), another session's cookie, the proof's faults as for
    /// registration.
    pub async fn dbsc_refresh(
        &self,
        id: &str,
        session_cookie: Option<&str>,
        proof: &str,
        ctx: &ClientContext,
    ) -> Result<DbscBound, ServiceError> {
        let now = self.now_ms();
        let refuse = |reason: Refusal, subject: Option<String>| async move {
            let mut event = self.event(EventKind::DbscRefused, ctx);
            event.subject = subject;
            self.record_refusal(event, reason, Some("refresh".to_owned()))
                .await
        };
        let found = if id.is_empty() || id.len() > MAX_DBSC_SESSION_ID {
            None
        } else {
            let mut tx = self.kernel.store.read().await?;
            match tx.live_dbsc_session(id, now).await? {
                Some(row) => {
                    let name = tx.identity_by_id(&row.identity_id).await?.map(|i| i.name);
                    Some((row, name))
                }
                None => None,
            }
        };
        let Some((row, name)) = found else {
            return Err(refuse(Refusal::DbscSessionNotLive, None).await);
        };
        let cookie_hash = session_cookie.map(hash_token).unwrap_or_default();
        if aws_lc_rs::constant_time::verify_slices_are_equal(&cookie_hash, &row.session_hash)
            .is_err()
        {
            return Err(refuse(Refusal::DbscSessionMismatch, name).await);
        }
        let key = serde_json::from_str(&row.public_key)
            .ok()
            .and_then(|v| Jwk::parse(&v).ok())
            .ok_or_else(|| ServiceError::Internal("a stored DBSC key does not parse".into()))?;
        let proof = match verify_dbsc_proof(proof, Some(&key)) {
            Ok(p) => p,
            Err(e) => return Err(refuse(proof_refusal(&e), name).await),
        };
        let expires = match mac::check_challenge(
            &self.dbsc_key(),
            mac::Purpose::Refresh,
            row.id.as_bytes(),
            &proof.jti,
            now,
            self.config.challenge_ttl_ms,
        ) {
            Ok(expires) => expires,
            Err(e) => return Err(refuse(challenge_refusal(e), name).await),
        };
        let mut tx = self.kernel.store.begin().await?;
        if !self
            .remember_once(
                &mut tx,
                TokenKind::DbscChallenge,
                proof.jti.as_bytes(),
                expires,
            )
            .await?
        {
            drop(tx);
            return Err(refuse(Refusal::DbscChallengeReplayed, name).await);
        }
        if !tx.refresh_dbsc_session(&row.id, now).await? {
            drop(tx);
            return Err(refuse(Refusal::DbscSessionNotLive, name).await);
        }
        tx.commit().await?;
        Ok(self.bound(&row.id, &row.session_hash, now))
    }

    /// What the binding of `session_cookie` says of a request carrying
    /// `bound_cookie`, in one read: [`DbscGate::Refused`] for a bound
    /// session without a live bound cookie that a refresh minted for it;
    /// [`DbscGate::Unbound`] for a session never bound (or no live session
    /// at all: the caller's own check decides that), with `invite` set, when
    /// `ask_invite`, for a live session young enough to bind
    /// ([`DBSC_BIND_WINDOW_MS`]): pages then invite the browser to bind it
    /// again (a registration started by the sign-in's own response can be
    /// cut short when the page navigates away at once).
    ///
    /// Errors: [`ServiceError::Internal`] when the store fails.
    pub async fn dbsc_gate(
        &self,
        session_cookie: &str,
        bound_cookie: Option<&str>,
        ask_invite: bool,
    ) -> Result<DbscGate, ServiceError> {
        let hash = hash_token(session_cookie);
        let mut tx = self.kernel.store.read().await?;
        if let Some(row) = tx.dbsc_session_of(&hash).await? {
            return Ok(if self.bound_cookie_admits(&row.id, &hash, bound_cookie) {
                DbscGate::Bound
            } else {
                DbscGate::Refused
            });
        }
        if !ask_invite {
            return Ok(DbscGate::Unbound { invite: false });
        }
        let now = self.now_ms();
        let invite = tx
            .live_session(&hash, now)
            .await?
            .is_some_and(|s| now.saturating_sub(s.created_ms) <= DBSC_BIND_WINDOW_MS);
        Ok(DbscGate::Unbound { invite })
    }

    /// Whether `bound_cookie` is a live bound cookie of binding `id` over
    /// the session `session_hash`.
    pub(crate) fn bound_cookie_admits(
        &self,
        id: &str,
        session_hash: &[u8],
        bound_cookie: Option<&str>,
    ) -> bool {
        bound_cookie.is_some_and(|c| {
            mac::bound_cookie_admits(&self.dbsc_key(), id, session_hash, c, self.now_ms())
        })
    }

    fn bound(&self, id: &str, session_hash: &[u8], now: i64) -> DbscBound {
        let ttl = self.config.dbsc_refresh_ms.max(1_000);
        DbscBound {
            id: id.to_owned(),
            bound_cookie: mac::bound_cookie(
                &self.dbsc_key(),
                id,
                session_hash,
                now.saturating_add(ttl),
            ),
            max_age_s: ttl / 1000,
        }
    }
}
