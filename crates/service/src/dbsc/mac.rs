//! The DBSC values keybound hands out without storing them, each an HMAC
//! under a key derived from the deployment secret (so every node makes
//! and checks the same values):
//!
//! - challenges: `issued_ms ‖ nonce ‖ mac(purpose, subject, issued_ms,
//!   nonce)`, where the subject is the session (registration) or the bound
//!   session (refresh). A challenge for one purpose or subject never
//!   passes for another, and one older than its lifetime is refused; the
//!   caller then spends it through the single-use table so it is answered
//!   once on any node.
//! - the bound cookie `kb_bound`: `expires_ms ‖ mac(binding, session,
//!   expires_ms)`. Only a refresh that proved the session key mints one,
//!   and it is worth nothing past its expiry or with another session.

use aws_lc_rs::hmac;
use keybound_webauthn::b64;

/// Longest challenge or bound cookie looked at (both are 54 or 75
/// base64url characters; anything longer is not ours).
pub(crate) const MAX_VALUE: usize = 128;

const NONCE: usize = 16;
const TAG: usize = 32;

/// What a challenge is for: a challenge for one never answers the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    Register,
    Refresh,
}

impl Purpose {
    fn label(self) -> &'static [u8] {
        match self {
            Purpose::Register => b"keybound dbsc register challenge",
            Purpose::Refresh => b"keybound dbsc refresh challenge",
        }
    }
}

/// Why a challenge did not pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChallengeError {
    /// Not one keybound made for this purpose and subject.
    Invalid,
    /// Made here, but older than its lifetime (or from the future).
    Expired,
}

/// The MAC key for DBSC values, derived from the deployment secret with
/// its own label, so it is never the key of anything else.
pub(crate) fn key(secret: &[u8; 32]) -> hmac::Key {
    let derived = hmac::sign(
        &hmac::Key::new(hmac::HMAC_SHA256, secret),
        b"keybound dbsc key v1",
    );
    hmac::Key::new(hmac::HMAC_SHA256, derived.as_ref())
}

/// The MAC input: label, then each field length-prefixed, so no two
/// different (label, fields) give the same bytes.
fn input(label: &[u8], fields: &[&[u8]]) -> Vec<u8> {
    let mut out = label.to_vec();
    for f in fields {
        out.extend_from_slice(&(f.len() as u64).to_be_bytes());
        out.extend_from_slice(f);
    }
    out
}

/// A fresh challenge for `subject`, issued at `now_ms`.
pub(crate) fn challenge(
    key: &hmac::Key,
    purpose: Purpose,
    subject: &[u8],
    now_ms: i64,
    nonce: [u8; NONCE],
) -> String {
    let issued = now_ms.to_be_bytes();
    let tag = hmac::sign(key, &input(purpose.label(), &[subject, &issued, &nonce]));
    let mut bytes = Vec::with_capacity(8 + NONCE + TAG);
    bytes.extend_from_slice(&issued);
    bytes.extend_from_slice(&nonce);
    bytes.extend_from_slice(tag.as_ref());
    b64::encode(&bytes)
}

/// Checks a challenge a proof answered: made here for `purpose` and
/// `subject` (constant-time), issued no more than `ttl_ms` before `now_ms`.
/// Returns when it stops being usable, for the single-use table.
pub(crate) fn check_challenge(
    key: &hmac::Key,
    purpose: Purpose,
    subject: &[u8],
    challenge: &str,
    now_ms: i64,
    ttl_ms: i64,
) -> Result<i64, ChallengeError> {
    if challenge.len() > MAX_VALUE {
        return Err(ChallengeError::Invalid);
    }
    let bytes = b64::decode(challenge).map_err(|_| ChallengeError::Invalid)?;
    if bytes.len() != 8 + NONCE + TAG {
        return Err(ChallengeError::Invalid);
    }
    let (issued, rest) = bytes.split_at(8);
    let (nonce, tag) = rest.split_at(NONCE);
    hmac::verify(key, &input(purpose.label(), &[subject, issued, nonce]), tag)
        .map_err(|_| ChallengeError::Invalid)?;
    let issued_ms = i64::from_be_bytes(issued.try_into().map_err(|_| ChallengeError::Invalid)?);
    let expires_ms = issued_ms.saturating_add(ttl_ms);
    // A challenge from the future is one another node's skewed clock made:
    // allow it a few seconds, never more.
    if now_ms >= expires_ms || issued_ms > now_ms.saturating_add(5_000) {
        return Err(ChallengeError::Expired);
    }
    Ok(expires_ms)
}

const COOKIE_LABEL: &[u8] = b"keybound dbsc bound cookie";

/// The bound cookie for binding `id` of the session `session_hash`, good
/// until `expires_ms`.
pub(crate) fn bound_cookie(
    key: &hmac::Key,
    id: &str,
    session_hash: &[u8],
    expires_ms: i64,
) -> String {
    let expires = expires_ms.to_be_bytes();
    let tag = hmac::sign(
        key,
        &input(COOKIE_LABEL, &[id.as_bytes(), session_hash, &expires]),
    );
    let mut bytes = expires.to_vec();
    bytes.extend_from_slice(tag.as_ref());
    b64::encode(&bytes)
}

/// Whether `cookie` is a bound cookie for binding `id` of `session_hash`
/// that has not expired at `now_ms` (constant-time MAC comparison).
pub(crate) fn bound_cookie_admits(
    key: &hmac::Key,
    id: &str,
    session_hash: &[u8],
    cookie: &str,
    now_ms: i64,
) -> bool {
    if cookie.len() > MAX_VALUE {
        return false;
    }
    let Ok(bytes) = b64::decode(cookie) else {
        return false;
    };
    if bytes.len() != 8 + TAG {
        return false;
    }
    let (expires, tag) = bytes.split_at(8);
    let Ok(expires_bytes) = <[u8; 8]>::try_from(expires) else {
        return false;
    };
    hmac::verify(
        key,
        &input(COOKIE_LABEL, &[id.as_bytes(), session_hash, expires]),
        tag,
    )
    .is_ok()
        && now_ms < i64::from_be_bytes(expires_bytes)
}

#[cfg(test)]
mod tests;
