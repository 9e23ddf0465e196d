//! DPoP at keybound's edges (issue 18): the token endpoint's task-token
//! exchange and forward-auth both take a request's `DPoP` proof through
//! [`Service::check_dpop`]. The stateless checks are keybound-jose's
//! ([`keybound_jose::verify_dpop_proof`]); this adds what needs the
//! deployment: the server-provided nonce (`nonce.rs`, when
//! `Config::dpop_nonce` is on) and single use of the proof across nodes
//! (its key's thumbprint and `jti` in the shared `single_use` table, in the
//! caller's transaction, so a refused request leaves nothing behind).

// The task-token exchange and forward-auth (h-exchange) call this; until
// they land, only the tests do.
#![allow(dead_code)]

use keybound_jose::{verify_dpop_proof, DpopChecks, Error};
use keybound_store::WriteTx;

use super::nonce;
use crate::{Refusal, Service, ServiceError, TokenKind};

/// How old a proof may be, seconds (`iat` no earlier than now minus this):
/// long enough for a slow network, short enough that the `jti` table
/// stays small.
pub(crate) const DPOP_MAX_AGE_S: i64 = 60;

/// How far ahead of ours a client's clock may run, seconds.
pub(crate) const DPOP_MAX_FUTURE_S: i64 = 5;

/// A proof that passed: the key it proves (to bind a token to, or to
/// compare with a token's `cnf.jkt`) and its id (already taken).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DpopVerified {
    /// The RFC 7638 thumbprint of the proof's key.
    pub(crate) jkt: String,
    /// The proof's `jti`.
    pub(crate) jti: String,
}

/// Why a proof did not pass.
#[derive(Debug)]
pub(crate) enum DpopFailure {
    /// No proof came with the request.
    Missing,
    /// A check failed; the stable reason names it (one of
    /// [`DPOP_INVALID_REASONS`]).
    Invalid(&'static str),
    /// A nonce is required and the proof has none, or a stale one: the
    /// client retries with the `DPoP-Nonce` it is sent.
    NonceRequired,
    /// This key's proof with this `jti` was already used, on some node.
    Replayed,
    /// The store failed; not the client's doing.
    Internal(ServiceError),
}

impl DpopFailure {
    /// The refusal to record, or `None` for an internal error.
    pub(crate) fn refusal(&self) -> Option<Refusal> {
        match self {
            DpopFailure::Missing => Some(Refusal::DpopMissing),
            DpopFailure::Invalid(reason) => Some(Refusal::DpopInvalid(reason)),
            DpopFailure::NonceRequired => Some(Refusal::DpopNonceRequired),
            DpopFailure::Replayed => Some(Refusal::DpopReplayed),
            DpopFailure::Internal(_) => None,
        }
    }

    /// The OAuth error code for the client (RFC 9449 §5, §7.1, §8):
    /// `use_dpop_nonce` tells it to retry with the nonce it is sent; any
    /// other failure is `invalid_dpop_proof`.
    pub(crate) fn error_code(&self) -> &'static str {
        match self {
            DpopFailure::NonceRequired => "use_dpop_nonce",
            _ => "invalid_dpop_proof",
        }
    }
}

impl From<ServiceError> for DpopFailure {
    fn from(e: ServiceError) -> Self {
        DpopFailure::Internal(e)
    }
}

/// Every reason [`DpopFailure::Invalid`] may carry: what the audit log
/// records and dashboards match on, so none is renamed once released.
pub(crate) const DPOP_INVALID_REASONS: [&str; 16] = [
    "dpop_too_large",
    "dpop_malformed",
    "dpop_wrong_typ",
    "dpop_algorithm",
    "dpop_no_key",
    "dpop_private_key",
    "dpop_invalid_key",
    "dpop_critical_header",
    "dpop_key_mismatch",
    "dpop_bad_signature",
    "dpop_missing_claim",
    "dpop_wrong_method",
    "dpop_wrong_uri",
    "dpop_stale",
    "dpop_issued_in_future",
    "dpop_wrong_ath",
];

/// The stable reason for a keybound-jose refusal of a proof.
pub(crate) fn reason(e: &Error) -> &'static str {
    match e {
        Error::TooLarge => "dpop_too_large",
        Error::Malformed("typ") => "dpop_wrong_typ",
        Error::Malformed(_) => "dpop_malformed",
        Error::AlgorithmNotAllowed => "dpop_algorithm",
        Error::UnknownKey => "dpop_no_key",
        Error::PrivateKey => "dpop_private_key",
        Error::InvalidKey(_) => "dpop_invalid_key",
        Error::CriticalHeader => "dpop_critical_header",
        Error::KeyMismatch => "dpop_key_mismatch",
        Error::BadSignature => "dpop_bad_signature",
        Error::MissingClaim(_) => "dpop_missing_claim",
        Error::WrongMethod => "dpop_wrong_method",
        Error::WrongUri => "dpop_wrong_uri",
        Error::Stale => "dpop_stale",
        Error::IssuedInFuture => "dpop_issued_in_future",
        Error::WrongAccessToken => "dpop_wrong_ath",
        // Errors the proof checks do not return (signing, `exp`...).
        _ => "dpop_malformed",
    }
}

impl Service {
    /// Checks the request's DPoP proof (RFC 9449 §4.3) inside the caller's
    /// transaction `tx`: the proof itself against `method` and `url` (and
    /// `access_token`'s hash, when one is presented), within
    /// [`DPOP_MAX_AGE_S`] / [`DPOP_MAX_FUTURE_S`]; a current nonce when
    /// the deployment requires one; then the proof's key and `jti` taken
    /// once across every node until the proof would be stale anyway.
    ///
    /// The caller must have called [`Service::dpop_nonce`] (or
    /// `dpop_ready`) before opening `tx` to answer with a `DPoP-Nonce`;
    /// until some node has, no nonce can be valid. Comparing the `jkt`
    /// with a token's `cnf.jkt` is the caller's.
    pub(crate) async fn check_dpop(
        &self,
        tx: &mut WriteTx,
        proof: Option<&str>,
        method: &str,
        url: &str,
        access_token: Option<&str>,
    ) -> Result<DpopVerified, DpopFailure> {
        let proof = proof.ok_or(DpopFailure::Missing)?;
        let now_s = self.now_ms().div_euclid(1000);
        let checks = DpopChecks {
            method,
            url,
            now_s,
            max_age_s: DPOP_MAX_AGE_S,
            max_future_s: DPOP_MAX_FUTURE_S,
            access_token,
        };
        let verified =
            verify_dpop_proof(proof, &checks).map_err(|e| DpopFailure::Invalid(reason(&e)))?;
        if self.config.dpop_nonce {
            let presented = verified
                .nonce
                .as_deref()
                .ok_or(DpopFailure::NonceRequired)?;
            let key = self
                .dpop_nonce_key_in(tx)
                .await?
                .ok_or(DpopFailure::NonceRequired)?;
            if !nonce::check(&key, presented, now_s) {
                return Err(DpopFailure::NonceRequired);
            }
        }
        // The thumbprint is always 43 characters, so `jkt ‖ jti` is
        // unambiguous; keyed by the key, one client's `jti` never blocks
        // another's. Kept until the proof's `iat` leaves the window.
        let seen = format!("{}{}", verified.jkt, verified.jti);
        let expires_ms = verified
            .iat
            .saturating_add(DPOP_MAX_AGE_S + 1)
            .saturating_mul(1000);
        if !self
            .remember_once(tx, TokenKind::DpopProof, seen.as_bytes(), expires_ms)
            .await?
        {
            return Err(DpopFailure::Replayed);
        }
        Ok(DpopVerified {
            jkt: verified.jkt,
            jti: verified.jti,
        })
    }
}

#[cfg(test)]
mod tests;
