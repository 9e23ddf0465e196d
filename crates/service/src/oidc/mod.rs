//! The OpenID Connect provider (issue 15): registered clients, the
//! authorization endpoint's decision, the token endpoint, UserInfo,
//! revocation (RFC 7009), introspection (RFC 7662), RP-initiated logout
//! and discovery. Each use case is one transaction with its audit events;
//! every refusal names its [`Refusal`] in the audit log while the client
//! gets only the RFC 6749 error code ([`OAuthError`]).
//!
//! Signing and the JWKS live in `signing.rs` alone, on the key custody
//! (rotation, ES256 and RS256).

pub(crate) mod assertion;
pub(crate) mod authorize;
pub(crate) mod claims;
pub(crate) mod clients;
pub(crate) mod discovery;
pub(crate) mod ending;
pub(crate) mod introspect;
pub(crate) mod logout;
pub(crate) mod params;
pub(crate) mod signing;
pub(crate) mod token;

use std::sync::OnceLock;

use keybound_audit::{NewEvent, Outcome};
use keybound_store::StoreError;

use crate::{Refusal, Service, ServiceError};

/// An OAuth 2.0 error code (RFC 6749 §4.1.2.1 and §5.2, OIDC Core §3.1.2.6,
/// RFC 6750 §3.1): all a client is told about a refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthError {
    /// `invalid_request`
    InvalidRequest,
    /// `invalid_client` (401)
    InvalidClient,
    /// `invalid_grant`
    InvalidGrant,
    /// `unauthorized_client`
    UnauthorizedClient,
    /// `unsupported_grant_type`
    UnsupportedGrantType,
    /// `unsupported_response_type`
    UnsupportedResponseType,
    /// `invalid_scope`
    InvalidScope,
    /// `access_denied`
    AccessDenied,
    /// `login_required`
    LoginRequired,
    /// `interaction_required`
    InteractionRequired,
    /// `invalid_token` (a bearer token at UserInfo)
    InvalidToken,
    /// `invalid_target` (RFC 8707 §2: a `resource` the grant does not cover)
    InvalidTarget,
    /// `invalid_dpop_proof` (RFC 9449 §5: a DPoP proof that fails a check)
    InvalidDpopProof,
    /// `use_dpop_nonce` (RFC 9449 §8: retry with the `DPoP-Nonce` sent)
    UseDpopNonce,
}

impl OAuthError {
    /// The code as the RFCs spell it.
    pub const fn code(self) -> &'static str {
        match self {
            OAuthError::InvalidRequest => "invalid_request",
            OAuthError::InvalidClient => "invalid_client",
            OAuthError::InvalidGrant => "invalid_grant",
            OAuthError::UnauthorizedClient => "unauthorized_client",
            OAuthError::UnsupportedGrantType => "unsupported_grant_type",
            OAuthError::UnsupportedResponseType => "unsupported_response_type",
            OAuthError::InvalidScope => "invalid_scope",
            OAuthError::AccessDenied => "access_denied",
            OAuthError::LoginRequired => "login_required",
            OAuthError::InteractionRequired => "interaction_required",
            OAuthError::InvalidToken => "invalid_token",
            OAuthError::InvalidTarget => "invalid_target",
            OAuthError::InvalidDpopProof => "invalid_dpop_proof",
            OAuthError::UseDpopNonce => "use_dpop_nonce",
        }
    }
}

/// Why an OIDC use case did not happen: a refusal the client is told as
/// an OAuth error, or our own failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OidcError {
    /// Refused; audited with its precise reason.
    OAuth(OAuthError),
    /// Our fault (the database is down...).
    Internal(ServiceError),
}

impl From<ServiceError> for OidcError {
    fn from(e: ServiceError) -> Self {
        OidcError::Internal(e)
    }
}

impl From<StoreError> for OidcError {
    fn from(e: StoreError) -> Self {
        OidcError::Internal(e.into())
    }
}

impl std::fmt::Display for OidcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OidcError::OAuth(e) => f.write_str(e.code()),
            OidcError::Internal(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for OidcError {}

/// The OIDC context's state on this node.
#[derive(Default)]
pub(crate) struct Oidc {
    /// The deployment secret pairwise subjects and `sid`s are keyed with.
    secret: OnceLock<[u8; 32]>,
    /// How many refusals each client address had audited this minute.
    refusals: std::sync::Mutex<RefusalWindow>,
}

/// Audited OIDC refusals per client address and minute. Every refusal is
/// an append to the audit chain through the one writer; unauthenticated
/// callers (a bad `client_id`, no bearer token) could otherwise fill the
/// chain and queue every sign-in behind their garbage. Past the limit the
/// request is still refused, with the same answer; only its record is
/// skipped (counted in the log at debug).
#[derive(Default)]
pub(crate) struct RefusalWindow {
    minute: i64,
    counts: std::collections::HashMap<String, u32>,
}

/// Refusals audited per client address per minute.
pub(crate) const AUDITED_REFUSALS_PER_MINUTE: u32 = 120;
/// Addresses remembered per minute; past it, new ones share one count.
const MAX_REFUSAL_SOURCES: usize = 10_000;

impl RefusalWindow {
    /// Whether a refusal from `source` at `now_ms` is to be audited.
    pub(crate) fn admit(&mut self, source: Option<&str>, now_ms: i64) -> bool {
        let minute = now_ms.div_euclid(60_000);
        if minute != self.minute {
            self.minute = minute;
            self.counts.clear();
        }
        let key = match source {
            Some(ip) if self.counts.len() < MAX_REFUSAL_SOURCES || self.counts.contains_key(ip) => {
                ip.to_owned()
            }
            _ => String::new(),
        };
        let count = self.counts.entry(key).or_insert(0);
        *count = count.saturating_add(1);
        *count <= AUDITED_REFUSALS_PER_MINUTE
    }
}

impl Service {
    /// The deployment's OIDC secret (made once, the same on every node).
    async fn oidc_secret(&self) -> Result<[u8; 32], ServiceError> {
        if let Some(secret) = self.oidc.secret.get() {
            return Ok(*secret);
        }
        let fresh: [u8; 32] = self.random();
        let kept = self.kernel.store.secret("oidc/subject-key", &fresh).await?;
        let secret: [u8; 32] = kept
            .try_into()
            .map_err(|_| ServiceError::Internal("the OIDC secret is unreadable".into()))?;
        Ok(*self.oidc.secret.get_or_init(|| secret))
    }

    /// The deployment's OIDC secret as `tx` sees it, for a use case that
    /// holds the writer: never made here (`None` when no client was ever
    /// issued anything, so no `sid` or pairwise `sub` exists yet).
    async fn oidc_secret_in(
        &self,
        tx: &mut keybound_store::WriteTx,
    ) -> Result<Option<[u8; 32]>, ServiceError> {
        if let Some(secret) = self.oidc.secret.get() {
            return Ok(Some(*secret));
        }
        let Some(kept) = tx.stored_secret("oidc/subject-key").await? else {
            return Ok(None);
        };
        let secret: [u8; 32] = kept
            .try_into()
            .map_err(|_| ServiceError::Internal("the OIDC secret is unreadable".into()))?;
        Ok(Some(secret))
    }

    /// Loads the deployment secrets the provider signs and keys with (the
    /// first use of each is a write transaction of its own), so a use case
    /// never asks for them while it holds its own transaction: the writer
    /// is one per node, and a nested `begin` would wait for itself.
    pub(crate) async fn oidc_ready(&self) -> Result<(), ServiceError> {
        self.oidc_secret().await?;
        self.signing_key(crate::KeyPurpose::IdTokens).await?;
        Ok(())
    }

    /// Records a request an OIDC endpoint could not read (not a form, a
    /// body past the bound) under `kind`: `invalid_request`, audited.
    pub async fn oidc_malformed(
        &self,
        kind: crate::EventKind,
        ctx: &crate::ClientContext,
    ) -> OidcError {
        let event = self.event(kind, ctx);
        self.refuse_oidc(
            event,
            Refusal::OidcMalformedRequest,
            OAuthError::InvalidRequest,
        )
        .await
    }

    /// Records a refused OIDC request (its own transaction: the request's
    /// was dropped, so nothing it would have issued remains) and returns
    /// the OAuth error the client is told.
    pub(crate) async fn refuse_oidc(
        &self,
        mut event: NewEvent,
        reason: Refusal,
        told: OAuthError,
    ) -> OidcError {
        event.outcome = Some(Outcome::Failure);
        let audited = self
            .oidc
            .refusals
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .admit(event.ip.as_deref(), self.now_ms());
        if !audited {
            tracing::debug!(
                reason = reason.reason(),
                "oidc refusal over the audit limit"
            );
            return OidcError::OAuth(told);
        }
        match self.record_refusal(event, reason, None).await {
            ServiceError::Rejected(_) => OidcError::OAuth(told),
            internal => OidcError::Internal(internal),
        }
    }
}

/// PKCE S256 (RFC 7636 §4.6): BASE64URL(SHA256(verifier)).
pub(crate) fn s256(verifier: &str) -> String {
    keybound_webauthn::b64::encode(&crate::tokens::sha256(verifier.as_bytes()))
}

/// RFC 7636 §4.1: 43-128 characters of `[A-Za-z0-9-._~]` (a challenge
/// made by S256 is 43 base64url characters, which fits the same rule).
pub(crate) fn pkce_syntax(value: &str, min: usize) -> bool {
    (min..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

pub use authorize::Authorized;
pub use clients::{ClientRegistration, RegisteredClient};
pub use logout::LoggedOut;
pub use params::{ClientCredentials, OidcParams};

#[cfg(test)]
mod tests;
