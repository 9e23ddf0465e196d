//! JWS compact serialization (RFC 7515 §7.1): signing with a
//! [`SigningKey`], and verification that checks, in order: size, three
//! base64url parts, a JSON object header, `alg` in the caller's allow-list,
//! no `crit`, a key for the `kid`, the key's type matching `alg`, and the
//! signature.

use serde_json::{Map, Value};

use crate::crypto::{self, SecureRandom};
use crate::{b64, unb64, Algorithm, Error, Jwk, SigningKey};

/// The longest token accepted (16 KiB): bounds the base64 and JSON work a
/// client can cause before any signature is checked.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// A token whose signature verified.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    /// The algorithm it was signed with.
    pub algorithm: Algorithm,
    /// The protected header.
    pub header: Map<String, Value>,
    /// The payload bytes (for a JWT, JSON claims: see [`Verified::claims`]).
    pub payload: Vec<u8>,
}

impl Verified {
    /// The payload as a JSON object (JWT claims).
    pub fn claims(&self) -> Result<Map<String, Value>, Error> {
        match serde_json::from_slice(&self.payload) {
            Ok(Value::Object(claims)) => Ok(claims),
            _ => Err(Error::Malformed("claims")),
        }
    }
}

/// Signs `claims` as a compact JWS. `header` holds the other header fields
/// (`kid`, `typ`, a DPoP `jwk`...); its `alg` is always the key's.
pub fn sign(
    header: &Map<String, Value>,
    claims: &Value,
    key: &SigningKey,
    rng: &dyn SecureRandom,
) -> Result<String, Error> {
    let mut header = header.clone();
    header.insert("alg".into(), key.algorithm().as_str().into());
    let header = serde_json::to_vec(&header).map_err(|_| Error::Signing)?;
    let payload = serde_json::to_vec(claims).map_err(|_| Error::Signing)?;
    let input = format!("{}.{}", b64(&header), b64(&payload));
    let sig = key.sign(input.as_bytes(), rng)?;
    Ok(format!("{input}.{}", b64(&sig)))
}

/// Verifies a compact JWS. `allowed` is the caller's allow-list; `lookup`
/// finds the key for the header's `kid` (None when the header has none).
pub fn verify(
    token: &str,
    allowed: &[Algorithm],
    lookup: impl FnOnce(Option<&str>) -> Option<Jwk>,
) -> Result<Verified, Error> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(Error::TooLarge);
    }
    let mut parts = token.split('.');
    let (Some(h64), Some(p64), Some(s64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Error::Malformed("part count"));
    };
    let header = match serde_json::from_slice(&unb64(h64)?) {
        Ok(Value::Object(header)) => header,
        _ => return Err(Error::Malformed("header")),
    };
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .ok_or(Error::Malformed("alg"))?;
    let alg = Algorithm::parse(alg)?;
    if !allowed.contains(&alg) {
        return Err(Error::AlgorithmNotAllowed);
    }
    match header.get("crit") {
        None => {}
        Some(Value::Array(crit)) if crit.is_empty() => {}
        Some(_) => return Err(Error::CriticalHeader),
    }
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(kid)) => Some(kid.as_str()),
        Some(_) => return Err(Error::Malformed("kid")),
    };
    let key = lookup(kid).ok_or(Error::UnknownKey)?;
    // Algorithm confusion: `crypto::verify` pairs each algorithm with its
    // one key type in an exhaustive match and refuses any other pairing
    // (KeyMismatch) before touching the signature, so that check lives in
    // exactly one place.
    let payload = unb64(p64)?;
    let sig = unb64(s64)?;
    // The signing input is the token up to the second dot, as received.
    let input_len = h64.len() + 1 + p64.len();
    let input = token
        .as_bytes()
        .get(..input_len)
        .ok_or(Error::Malformed("token"))?;
    crypto::verify(alg, &key, input, &sig)?;
    Ok(Verified {
        algorithm: alg,
        header,
        payload,
    })
}

#[cfg(test)]
mod tests;
