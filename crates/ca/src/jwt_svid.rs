//! JWT-SVIDs per the JWT-SVID specification
//! (<https://github.com/spiffe/spiffe/blob/main/standards/JWT-SVID.md>):
//! signed ES256 with a `kid` naming a JWT authority of the bundle, `typ`
//! `JWT`; `sub` the SPIFFE ID, `aud` required, `exp` required.
//!
//! Validation (§5) checks, in order: size and form, `alg` in the
//! allow-list (ES256, RS256: never `none` or HMAC, §3), `typ` if present
//! is `JWT` or `JOSE` (§2.2), no `crit`, a JWT authority for the `kid`,
//! the key type matching `alg`, the signature, `exp` present and not past
//! (with [`JWT_SVID_LEEWAY_S`]), `nbf`/`iat` not in the future, `aud`
//! containing the audience, and `sub` a SPIFFE ID of the trust domain.

use keybound_jose::{check_claims, Algorithm, ClaimChecks, Jwk, SecureRandom, SigningKey};
use serde_json::{json, Map, Value};

use crate::{Error, SpiffeId, TrustDomain};

/// Clock skew tolerated on `exp`, `nbf` and `iat`, seconds.
pub const JWT_SVID_LEEWAY_S: i64 = 30;
/// Most audiences in a JWT-SVID request.
pub const MAX_AUDIENCES: usize = 16;
/// The longest audience, in bytes.
pub const MAX_AUDIENCE_LEN: usize = 1024;

/// Algorithms a JWT-SVID may be signed with (the spec's list, as far as
/// keybound-jose implements it). ES256 is what keybound signs.
const ALLOWED: [Algorithm; 2] = [Algorithm::Es256, Algorithm::Rs256];

/// A JWT-SVID that validated.
#[derive(Debug, Clone, PartialEq)]
pub struct JwtSvid {
    /// `sub`.
    pub spiffe_id: SpiffeId,
    /// `aud`, as a list (a single string becomes one element).
    pub audience: Vec<String>,
    /// `exp`, unix seconds.
    pub expiry_s: i64,
    /// Every claim, for `ValidateJWTSVIDResponse.claims`.
    pub claims: Map<String, Value>,
}

/// Signs a JWT-SVID for `spiffe_id` with `key` (ES256) under `kid`, for
/// `audience` (at least one, each non-empty), issued at `iat_s` and
/// expiring at `exp_s` (unix seconds). `rng` is passed to aws-lc-rs, which
/// draws the ECDSA nonce itself.
///
/// Errors: [`Error::NoAudience`], [`Error::InvalidValidity`] (`exp_s` not
/// after `iat_s`, or too many/too long audiences), [`Error::Jwt`] (the key
/// is not ES256, or signing failed).
pub fn sign_jwt_svid(
    key: &SigningKey,
    kid: &str,
    spiffe_id: &SpiffeId,
    audience: &[String],
    iat_s: i64,
    exp_s: i64,
    rng: &dyn SecureRandom,
) -> Result<String, Error> {
    if audience.is_empty() || audience.iter().any(String::is_empty) {
        return Err(Error::NoAudience);
    }
    if audience.len() > MAX_AUDIENCES || audience.iter().any(|a| a.len() > MAX_AUDIENCE_LEN) {
        return Err(Error::InvalidValidity);
    }
    if exp_s <= iat_s {
        return Err(Error::InvalidValidity);
    }
    if key.algorithm() != Algorithm::Es256 || kid.is_empty() {
        return Err(Error::Jwt(keybound_jose::Error::Signing));
    }
    let mut header = Map::new();
    header.insert("typ".into(), "JWT".into());
    header.insert("kid".into(), kid.into());
    let claims = json!({
        "sub": spiffe_id.as_str(),
        "aud": audience,
        "iat": iat_s,
        "exp": exp_s,
    });
    Ok(keybound_jose::sign(&header, &claims, key, rng)?)
}

/// Validates a JWT-SVID for `audience` against the JWT authorities of
/// `trust_domain` (each with its `kid`), at `now_s`.
///
/// Errors: [`Error::NoAudience`] (empty `audience`), [`Error::Jwt`] with
/// the JOSE check that failed (`UnknownKey` for a `kid` that names no
/// authority or no `kid`, `AlgorithmNotAllowed`, `BadSignature`, `Expired`
/// also when `exp` is missing, `WrongAudience`, `MissingClaim("sub")`...),
/// [`Error::JwtType`], [`Error::SpiffeId`] (a `sub` that does not parse),
/// [`Error::ForeignTrustDomain`].
pub fn validate_jwt_svid(
    token: &str,
    audience: &str,
    jwt_authorities: &[Jwk],
    trust_domain: &TrustDomain,
    now_s: i64,
) -> Result<JwtSvid, Error> {
    if audience.is_empty() {
        return Err(Error::NoAudience);
    }
    let verified = keybound_jose::verify(token, &ALLOWED, |kid| {
        let kid = kid?;
        jwt_authorities
            .iter()
            .find(|jwk| jwk.kid() == Some(kid))
            .cloned()
    })?;
    match verified.header.get("typ") {
        None => {}
        Some(Value::String(typ)) if typ == "JWT" || typ == "JOSE" => {}
        Some(_) => return Err(Error::JwtType),
    }
    let claims = verified.claims()?;
    check_claims(
        &claims,
        &ClaimChecks {
            now: now_s,
            leeway: JWT_SVID_LEEWAY_S,
            require_exp: true,
            issuer: None,
            audience: Some(audience),
        },
    )?;
    let sub = claims
        .get("sub")
        .and_then(Value::as_str)
        .ok_or(Error::Jwt(keybound_jose::Error::MissingClaim("sub")))?;
    let spiffe_id = SpiffeId::parse(sub)?;
    if !spiffe_id.is_member_of(trust_domain) {
        return Err(Error::ForeignTrustDomain);
    }
    let audience = match claims.get("aud") {
        Some(Value::String(aud)) => vec![aud.clone()],
        Some(Value::Array(auds)) => auds
            .iter()
            .filter_map(|a| a.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    // check_claims made sure `exp` is there and a number.
    let expiry_s = claims
        .get("exp")
        .and_then(|exp| {
            exp.as_i64()
                .or_else(|| exp.as_f64().map(|f| f.floor() as i64))
        })
        .ok_or(Error::Jwt(keybound_jose::Error::Expired))?;
    Ok(JwtSvid {
        spiffe_id,
        audience,
        expiry_s,
        claims,
    })
}
