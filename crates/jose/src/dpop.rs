//! DPoP proofs (RFC 9449): the `DPoP` header a client sends with a token
//! request or with a DPoP-bound access token, a JWS with `typ: dpop+jwt`
//! signed by the key its header's `jwk` carries, binding the request's
//! method and URI (and the access token, via `ath`) to that key.
//!
//! [`verify_dpop_proof`] makes every check of RFC 9449 §4.3 that needs no
//! state, in the RFC's order: one compact JWS of bounded size, `typ`, `alg`
//! in [`DPOP_ALGORITHMS`] (never `none`, never HMAC), a public `jwk` (a
//! private member is refused), the key's type fitting `alg`, the
//! signature, then the claims: `jti`, `htm`, `htu`, `iat` in the window,
//! and `ath` when an access token is presented. What needs state stays
//! with the caller, which gets what it needs back in [`DpopProof`]: taking
//! the `jti` once (replay, step 12 of §11.1), checking the `nonce` it
//! handed out (step 10), and comparing the `jkt` with the access token's
//! `cnf.jkt` (§7.1).

use serde_json::Value;

use crate::claims::date;
use crate::{b64, crypto, unb64, Algorithm, Error, Jwk, MAX_JTI_LEN};

mod uri;

pub use uri::MAX_HTU_LEN;

/// The `typ` of a DPoP proof (RFC 9449 §4.2).
pub const DPOP_TYP: &str = "dpop+jwt";

/// The algorithms a DPoP key may use: asymmetric only (RFC 9449 §4.2), and
/// RSA only at 2048 bits or more (the JWK parser's floor).
pub const DPOP_ALGORITHMS: [Algorithm; 3] = [Algorithm::Es256, Algorithm::Rs256, Algorithm::EdDsa];

/// The longest proof accepted (8 KiB: an RSA-4096 `jwk` and signature fit
/// with room to spare), checked before any decoding.
pub const MAX_DPOP_PROOF_LEN: usize = 8 * 1024;

/// The longest `htm` or `nonce` accepted, bytes.
pub const MAX_DPOP_CLAIM_LEN: usize = 512;

/// What a proof is checked against: the request it came with.
#[derive(Debug, Clone, Copy)]
pub struct DpopChecks<'a> {
    /// The request's HTTP method, as received (`htm` must equal it exactly:
    /// methods are case-sensitive, RFC 9110 §9.1).
    pub method: &'a str,
    /// The request's absolute URI (its query and fragment, if any, are
    /// ignored on both sides).
    pub url: &'a str,
    /// The current time, unix seconds.
    pub now_s: i64,
    /// How old a proof may be: `iat` no earlier than `now_s - max_age_s`.
    pub max_age_s: i64,
    /// How far ahead a client's clock may run: `iat` no later than
    /// `now_s + max_future_s`.
    pub max_future_s: i64,
    /// The access token presented with the proof, if any: then `ath` must
    /// be its hash. Without one an `ath` is ignored (a token request may
    /// come from a client that always sends it).
    pub access_token: Option<&'a str>,
}

/// A proof that passed every stateless check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpopProof {
    /// The public key the proof was signed with (its header's `jwk`).
    pub key: Jwk,
    /// That key's RFC 7638 thumbprint: what `cnf.jkt` binds a token to.
    pub jkt: String,
    /// The proof's id, to be taken once by the caller.
    pub jti: String,
    /// When the client made it, unix seconds.
    pub iat: i64,
    /// The server-provided nonce it carries, for the caller to check.
    pub nonce: Option<String>,
}

/// `ath` for `access_token`: base64url(SHA-256(ASCII token)), RFC 9449 §4.2.
pub fn dpop_ath(access_token: &str) -> String {
    b64(&crypto::sha256(access_token.as_bytes()))
}

/// A string claim of at most `max` bytes: absent is `MissingClaim`, any
/// other type or an empty or overlong string `Malformed`.
fn text<'a>(
    claims: &'a serde_json::Map<String, Value>,
    name: &'static str,
    max: usize,
) -> Result<&'a str, Error> {
    match claims.get(name) {
        None => Err(Error::MissingClaim(name)),
        Some(Value::String(s)) if !s.is_empty() && s.len() <= max => Ok(s),
        Some(_) => Err(Error::Malformed(name)),
    }
}

/// Verifies a DPoP proof against the request it came with (RFC 9449 §4.3).
///
/// # Errors
/// The [`Error`] naming the first check that failed: `TooLarge`,
/// `Malformed` (shape, `typ`, a claim of the wrong type or size),
/// `AlgorithmNotAllowed`, `UnknownKey` (no `jwk`), `PrivateKey` /
/// `InvalidKey` (the `jwk`), `CriticalHeader`, `KeyMismatch`,
/// `BadSignature`, `MissingClaim`, `WrongMethod`, `WrongUri`, `Stale`,
/// `IssuedInFuture`, `WrongAccessToken`.
pub fn verify_dpop_proof(proof: &str, checks: &DpopChecks<'_>) -> Result<DpopProof, Error> {
    if proof.len() > MAX_DPOP_PROOF_LEN {
        return Err(Error::TooLarge);
    }
    // One compact JWS: exactly three parts (a JWS JSON serialisation, or
    // two header values joined by a comma, fail here or at base64url).
    if proof.split('.').count() != 3 {
        return Err(Error::Malformed("part count"));
    }
    let h64 = proof.split('.').next().ok_or(Error::Malformed("token"))?;
    let header = match serde_json::from_slice(&unb64(h64)?) {
        Ok(Value::Object(header)) => header,
        _ => return Err(Error::Malformed("header")),
    };
    if header.get("typ").and_then(Value::as_str) != Some(DPOP_TYP) {
        return Err(Error::Malformed("typ"));
    }
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .ok_or(Error::Malformed("alg"))?;
    if !DPOP_ALGORITHMS.contains(&Algorithm::parse(alg)?) {
        return Err(Error::AlgorithmNotAllowed);
    }
    let key = Jwk::parse(header.get("jwk").ok_or(Error::UnknownKey)?)?;
    // `jws::verify` checks `crit`, pairs `alg` with the key's type
    // (KeyMismatch) and verifies the signature over the bytes received.
    let verified = crate::verify(proof, &DPOP_ALGORITHMS, |_| Some(key.clone()))?;
    let claims = verified.claims()?;

    let jti = text(&claims, "jti", MAX_JTI_LEN)?.to_owned();
    if text(&claims, "htm", MAX_DPOP_CLAIM_LEN)? != checks.method {
        return Err(Error::WrongMethod);
    }
    let htu = text(&claims, "htu", MAX_HTU_LEN)?;
    match (uri::normalize(htu), uri::normalize(checks.url)) {
        (Some(claimed), Some(actual)) if claimed == actual => {}
        _ => return Err(Error::WrongUri),
    }
    let iat = date(&claims, "iat")?.ok_or(Error::MissingClaim("iat"))?;
    if iat < checks.now_s.saturating_sub(checks.max_age_s.max(0)) {
        return Err(Error::Stale);
    }
    if iat > checks.now_s.saturating_add(checks.max_future_s.max(0)) {
        return Err(Error::IssuedInFuture);
    }
    if let Some(token) = checks.access_token {
        // A hash of a token the client itself sent: not a secret, so a
        // plain comparison leaks nothing.
        if text(&claims, "ath", MAX_DPOP_CLAIM_LEN)? != dpop_ath(token) {
            return Err(Error::WrongAccessToken);
        }
    }
    let nonce = match claims.get("nonce") {
        None => None,
        Some(Value::String(n)) if !n.is_empty() && n.len() <= MAX_DPOP_CLAIM_LEN => Some(n.clone()),
        Some(_) => return Err(Error::Malformed("nonce")),
    };
    Ok(DpopProof {
        jkt: key.thumbprint(),
        key,
        jti,
        iat,
        nonce,
    })
}

#[cfg(test)]
mod tests;
