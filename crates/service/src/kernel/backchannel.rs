//! Back-channel logout delivery (OpenID Connect Back-Channel Logout 1.0):
//! when a session ends, a credential is revoked or a person is offboarded,
//! every client with a `backchannel_logout_uri` that the session signed
//! into is sent a signed logout token. The token is built, signed and
//! queued in the use case's own transaction (so it is sent exactly when
//! the change commits), then delivered from the outbox by the jobs
//! runner's sender, which POSTs it and reports back here: a success
//! removes the delivery, a failure is retried with backoff
//! ([`LOGOUT_BACKOFF_MS`], doubling) up to [`MAX_LOGOUT_ATTEMPTS`]
//! attempts and then given up and audited.

use keybound_jose::{Algorithm, LogoutToken, LOGOUT_TOKEN_TYP};
use keybound_store::{LogoutDelivery, WriteTx};
use keybound_webauthn::b64;

use crate::keys::KeyPurpose;
use crate::record::Record;
use crate::{ClientContext, EventKind, ServiceError};

/// Attempts before a delivery is given up.
pub const MAX_LOGOUT_ATTEMPTS: i64 = 5;

/// The wait after the first failed attempt, ms; it doubles after each
/// (30 s, 1, 2, 4 min: the fifth attempt comes 7.5 minutes after the
/// first).
pub const LOGOUT_BACKOFF_MS: i64 = 30_000;

/// How long a claimed delivery is left to its sender before another may
/// take it (a node that died mid-send), ms.
const CLAIM_LEASE_MS: i64 = 60_000;

/// How long a logout token is valid, seconds (§2.4 asks for a short one).
pub(crate) const LOGOUT_TOKEN_LIFETIME_S: i64 = 120;

/// The longest error text kept and audited.
const MAX_ERROR_LEN: usize = 200;

/// A delivery claimed for sending: where, and the form body
/// (`logout_token=...`). The body holds a signed token: never log it.
pub struct OutgoingLogout {
    /// The delivery's id, to report the result with.
    pub id: String,
    /// The client it is for.
    pub client_id: String,
    /// The client's `backchannel_logout_uri`.
    pub url: String,
    /// `application/x-www-form-urlencoded` body.
    pub body: String,
    /// This attempt's number, from 1.
    pub attempt: i64,
}

impl std::fmt::Debug for OutgoingLogout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutgoingLogout")
            .field("id", &self.id)
            .field("client_id", &self.client_id)
            .field("url", &self.url)
            .field("attempt", &self.attempt)
            .finish_non_exhaustive()
    }
}

/// What became of a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogoutRetry {
    /// Tried again at this time, ms.
    At(i64),
    /// Given up (and audited).
    GivenUp,
}

fn bounded(text: &str, max: usize) -> String {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.get(..end).unwrap_or_default().to_owned()
}

/// Back-channel logout's use cases.
impl crate::Service {
    /// Builds and signs a logout token for `client_id` (the audience;
    /// `sub` and/or `sid` name what ended) and queues its delivery to
    /// `uri` in the caller's transaction `tx`, so it goes out if and only
    /// if the caller's change commits.
    ///
    /// # Errors
    /// [`ServiceError::Internal`] when neither `sub` nor `sid` is given,
    /// or the store or signing fails.
    pub async fn queue_backchannel_logout(
        &self,
        tx: &mut WriteTx,
        client_id: &str,
        uri: &str,
        sub: Option<&str>,
        sid: Option<&str>,
    ) -> Result<(), ServiceError> {
        let now = self.now_ms();
        let jti = b64::encode(&self.random::<16>());
        let issuer = self.oidc_issuer();
        let claims = LogoutToken {
            issuer: &issuer,
            audience: client_id,
            subject: sub,
            session_id: sid,
            jti: &jti,
            issued_at: now.div_euclid(1000),
            lifetime: LOGOUT_TOKEN_LIFETIME_S,
        }
        .claims()
        .map_err(|e| ServiceError::Internal(format!("logout token: {e}")))?;
        let token = self
            .sign_jwt_in(
                tx,
                KeyPurpose::IdTokens,
                Algorithm::Es256,
                LOGOUT_TOKEN_TYP,
                &claims,
            )
            .await?;
        tx.insert_logout_delivery(&LogoutDelivery {
            id: b64::encode(&self.random::<16>()),
            client_id: client_id.to_owned(),
            url: uri.to_owned(),
            // JWS compact form is base64url and dots: nothing to escape.
            body: format!("logout_token={token}"),
            attempts: 0,
            next_attempt_ms: now,
            last_error: None,
            created_ms: now,
        })
        .await?;
        Ok(())
    }

    /// Claims up to `limit` due deliveries for this node to send now (no
    /// other node sends them until they are reported or the claim lapses).
    pub async fn claim_backchannel_logouts(
        &self,
        limit: i64,
    ) -> Result<Vec<OutgoingLogout>, ServiceError> {
        let now = self.now_ms();
        let due = self
            .store()
            .read()
            .await?
            .due_logout_deliveries(now, limit)
            .await?;
        if due.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.store().begin().await?;
        let mut claimed = Vec::with_capacity(due.len());
        for d in due {
            if tx
                .claim_logout_delivery(&d.id, now, now.saturating_add(CLAIM_LEASE_MS))
                .await?
            {
                claimed.push(OutgoingLogout {
                    id: d.id,
                    client_id: d.client_id,
                    url: d.url,
                    body: d.body,
                    attempt: d.attempts.saturating_add(1),
                });
            }
        }
        tx.commit().await?;
        Ok(claimed)
    }

    /// Reports a delivery the client answered with success: it is removed.
    pub async fn backchannel_logout_sent(&self, sent: &OutgoingLogout) -> Result<(), ServiceError> {
        let mut tx = self.store().begin().await?;
        tx.remove_logout_delivery(&sent.id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Reports a failed attempt (`error` says why, never with the token):
    /// retried later, or after [`MAX_LOGOUT_ATTEMPTS`] given up and
    /// audited as `backchannel_logout.failed` in the same transaction.
    pub async fn backchannel_logout_failed(
        &self,
        failed: &OutgoingLogout,
        error: &str,
    ) -> Result<LogoutRetry, ServiceError> {
        let now = self.now_ms();
        let error = bounded(error, MAX_ERROR_LEN);
        let mut tx = self.store().begin().await?;
        if failed.attempt >= MAX_LOGOUT_ATTEMPTS {
            if tx.remove_logout_delivery(&failed.id).await? {
                let mut event = self.event(
                    EventKind::BackchannelLogoutFailed,
                    &ClientContext::default(),
                );
                event.actor = Some("system".into());
                event.outcome = Some(keybound_audit::Outcome::Failure);
                event.reason = Some(error);
                event
                    .details
                    .insert("client_id".into(), bounded(&failed.client_id, 256));
                event
                    .details
                    .insert("url".into(), bounded(&failed.url, 512));
                event
                    .details
                    .insert("attempts".into(), failed.attempt.to_string());
                tx.record(event).await?;
            }
            tx.commit().await?;
            return Ok(LogoutRetry::GivenUp);
        }
        let shift = u32::try_from(failed.attempt.saturating_sub(1).clamp(0, 16)).unwrap_or(16);
        let wait = LOGOUT_BACKOFF_MS.saturating_mul(1_i64 << shift);
        let at = now.saturating_add(wait);
        tx.reschedule_logout_delivery(&failed.id, at, &error)
            .await?;
        tx.commit().await?;
        Ok(LogoutRetry::At(at))
    }

    /// The OpenID Provider's issuer identifier (`--oidc-issuer`, by
    /// default the first origin): the `iss` of its ID tokens too, so a
    /// relying party checks both against the same value.
    fn oidc_issuer(&self) -> String {
        self.config().oidc.issuer.clone()
    }
}
