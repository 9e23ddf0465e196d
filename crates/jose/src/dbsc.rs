//! Device Bound Session Credentials proofs (W3C DBSC, §"DBSC proof JWT";
//! <https://w3c.github.io/webappsec-dbsc/>): the `Secure-Session-Response`
//! a browser sends to the registration and refresh endpoints, a JWS with
//! `typ: dbsc+jwt`, signed by the session key, whose `jti` is the server's
//! challenge.
//!
//! At registration the header carries the new session's public key as
//! `jwk` and the proof is verified with it (proof of possession); at
//! refresh the proof is verified with the key stored at registration, and
//! a `jwk` in the header is ignored, never trusted. Checks, in order:
//! size, the JWS shape, `typ`, `alg` in {ES256, RS256} (never `none`, never
//! HMAC), a public `jwk` (private members refused), the key's type matching
//! `alg`, the signature, then a `jti` of bounded length. Chromium sends
//! `jti` (and `authorization` when the server asked for one) and little
//! else, so `aud`/`iat` are not required: the challenge in `jti` is the
//! freshness proof, checked by the caller (single use, short-lived).

use serde_json::Value;

use crate::{unb64, Algorithm, Error, Jwk};

/// The `typ` of a DBSC proof.
pub const DBSC_TYP: &str = "dbsc+jwt";

/// The algorithms a DBSC session key may use (what the registration header
/// offers): ES256 first, as browsers prefer it.
pub const DBSC_ALGORITHMS: [Algorithm; 2] = [Algorithm::Es256, Algorithm::Rs256];

/// The longest proof accepted (8 KiB: an RSA-4096 `jwk` and signature fit
/// with room to spare).
pub const MAX_DBSC_PROOF_LEN: usize = 8 * 1024;

/// The longest `jti` (a challenge) or `authorization` accepted.
pub const MAX_DBSC_CLAIM_LEN: usize = 512;

/// A DBSC proof whose signature verified.
#[derive(Debug, Clone, PartialEq)]
pub struct DbscProof {
    /// The key that signed it: the header's `jwk` at registration, the
    /// registered key at refresh.
    pub key: Jwk,
    /// The challenge it answers.
    pub jti: String,
    /// The `authorization` claim, when present.
    pub authorization: Option<String>,
}

/// Verifies a DBSC proof. `registered` is the session's key at refresh, or
/// `None` at registration (the key comes from the header's `jwk`).
///
/// Errors: [`Error::TooLarge`], [`Error::Malformed`] (shape, `typ`, `jti`),
/// [`Error::AlgorithmNotAllowed`] (`none`, HMAC, EdDSA...),
/// [`Error::PrivateKey`] / [`Error::InvalidKey`] for the `jwk`,
/// [`Error::UnknownKey`] (no `jwk` at registration), [`Error::KeyMismatch`],
/// [`Error::BadSignature`], [`Error::MissingClaim`] (`jti`).
pub fn verify_dbsc_proof(token: &str, registered: Option<&Jwk>) -> Result<DbscProof, Error> {
    if token.len() > MAX_DBSC_PROOF_LEN {
        return Err(Error::TooLarge);
    }
    let h64 = token.split('.').next().ok_or(Error::Malformed("token"))?;
    let header = match serde_json::from_slice(&unb64(h64)?) {
        Ok(Value::Object(header)) => header,
        _ => return Err(Error::Malformed("header")),
    };
    if header.get("typ").and_then(Value::as_str) != Some(DBSC_TYP) {
        return Err(Error::Malformed("typ"));
    }
    let key = match registered {
        Some(key) => key.clone(),
        None => Jwk::parse(header.get("jwk").ok_or(Error::UnknownKey)?)?,
    };
    let verified = crate::verify(token, &DBSC_ALGORITHMS, |_| Some(key.clone()))?;
    let claims = verified.claims()?;
    let jti = match claims.get("jti") {
        Some(Value::String(jti)) if !jti.is_empty() && jti.len() <= MAX_DBSC_CLAIM_LEN => {
            jti.clone()
        }
        Some(_) => return Err(Error::Malformed("jti")),
        None => return Err(Error::MissingClaim("jti")),
    };
    let authorization = match claims.get("authorization") {
        None | Some(Value::Null) => None,
        Some(Value::String(a)) if a.len() <= MAX_DBSC_CLAIM_LEN => Some(a.clone()),
        Some(_) => return Err(Error::Malformed("authorization")),
    };
    Ok(DbscProof {
        key,
        jti,
        authorization,
    })
}

#[cfg(test)]
mod tests;
