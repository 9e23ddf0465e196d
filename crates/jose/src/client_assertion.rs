//! `private_key_jwt` client authentication: verifying the `client_assertion`
//! a confidential client sends to the token endpoint (RFC 7523 §3, OpenID
//! Connect Core §9). The caller passes the client's registered public keys,
//! the audiences it accepts and `now`; on success it gets the `jti` and
//! `exp` back so it can take the `jti` once (replay) until `exp`.

use serde_json::{Map, Value};

use crate::claims::date;
use crate::{check_claims, jws, Algorithm, ClaimChecks, Error, Jwk};

/// Allowed clock skew between the client and us, seconds.
pub const CLIENT_ASSERTION_LEEWAY: i64 = 30;

/// The longest an assertion may live (`exp` minus `iat`, or minus `now`
/// without `iat`), seconds: a short lifetime bounds how long the server
/// must remember a `jti` and how long a leaked assertion is worth anything.
pub const MAX_CLIENT_ASSERTION_LIFETIME: i64 = 300;

/// The longest `jti` accepted, bytes (it is stored until `exp`).
pub const MAX_JTI_LEN: usize = 256;

/// What [`verify_client_assertion`] checks the assertion against.
#[derive(Debug, Clone)]
pub struct ClientAssertionChecks<'a> {
    /// The `client_id` the request names: `iss` and `sub` must both be it.
    pub client_id: &'a str,
    /// Audiences accepted in `aud`: the token endpoint URL and the issuer.
    pub audiences: &'a [&'a str],
    /// The client's registered public keys (its JWKS).
    pub keys: &'a [Jwk],
    /// Algorithms accepted (a subset of ES256, RS256, EdDSA; `none` and
    /// HMAC cannot be named at all).
    pub algorithms: &'a [Algorithm],
    /// The current time, unix seconds.
    pub now: i64,
}

/// A verified assertion: what the caller needs to refuse its replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientAssertion {
    /// The assertion's unique id, to be taken once.
    pub jti: String,
    /// When it expires (unix seconds): the `jti` need not be kept longer.
    pub exp: i64,
}

/// The key the header's `kid` names; without a `kid` (or when the client
/// registered a single key without one) the only key.
fn select(keys: &[Jwk], kid: Option<&str>) -> Option<Jwk> {
    let by_kid = kid.and_then(|kid| keys.iter().find(|k| k.kid() == Some(kid)));
    let only = match keys {
        [only] if kid.is_none() || only.kid().is_none() => Some(only),
        _ => None,
    };
    by_kid.or(only).cloned()
}

/// Verifies a `client_assertion` (RFC 7523 §3), in order: the JWS (size,
/// `alg` in `checks.algorithms`, the key by `kid`, the key's type fixing the
/// algorithm, the signature), then `iss` == `sub` == `client_id`, `aud`
/// naming an accepted audience (and a `typ`, if any, that names a JWT or
/// a client assertion), `exp` present and not past, `nbf`/`iat`
/// not in the future, a lifetime of at most
/// [`MAX_CLIENT_ASSERTION_LIFETIME`], and a `jti`.
///
/// # Errors
/// The [`Error`] naming the first check that failed: `AlgorithmNotAllowed`,
/// `UnknownKey`, `KeyMismatch`, `BadSignature`, `WrongIssuer`,
/// `WrongSubject`, `WrongAudience`, `MissingClaim`, `Expired`,
/// `NotYetValid`, `IssuedInFuture`, `LifetimeTooLong`, `Malformed`.
pub fn verify_client_assertion(
    token: &str,
    checks: &ClientAssertionChecks<'_>,
) -> Result<ClientAssertion, Error> {
    let verified = jws::verify(token, checks.algorithms, |kid| select(checks.keys, kid))?;
    if !assertion_typ(verified.header.get("typ")) {
        return Err(Error::Malformed("typ"));
    }
    let claims = verified.claims()?;
    if claims.get("iss").and_then(Value::as_str) != Some(checks.client_id) {
        return Err(Error::WrongIssuer);
    }
    if claims.get("sub").and_then(Value::as_str) != Some(checks.client_id) {
        return Err(Error::WrongSubject);
    }
    if !audience_accepted(&claims, checks.audiences) {
        return Err(Error::WrongAudience);
    }
    let exp = date(&claims, "exp")?.ok_or(Error::MissingClaim("exp"))?;
    check_claims(
        &claims,
        &ClaimChecks {
            now: checks.now,
            leeway: CLIENT_ASSERTION_LEEWAY,
            require_exp: true,
            issuer: None,
            audience: None,
        },
    )?;
    let start = date(&claims, "iat")?.unwrap_or(checks.now);
    if exp.saturating_sub(start) > MAX_CLIENT_ASSERTION_LIFETIME {
        return Err(Error::LifetimeTooLong);
    }
    let jti = match claims.get("jti") {
        None => return Err(Error::MissingClaim("jti")),
        Some(Value::String(jti)) if !jti.is_empty() && jti.len() <= MAX_JTI_LEN => jti.clone(),
        Some(_) => return Err(Error::Malformed("jti")),
    };
    Ok(ClientAssertion { jti, exp })
}

/// Whether the header's `typ` fits a client assertion: absent, `JWT`, or
/// `client-authentication+jwt` (draft-ietf-oauth-rfc7523bis), with or
/// without `application/`, any case. Any other explicit type (a logout
/// token, an access token, a DPoP proof signed by the same key) is not an
/// assertion (RFC 8725 §3.11).
fn assertion_typ(typ: Option<&Value>) -> bool {
    let Some(typ) = typ else { return true };
    let Some(typ) = typ.as_str() else {
        return false;
    };
    let typ = typ.to_ascii_lowercase();
    let typ = typ.strip_prefix("application/").unwrap_or(&typ);
    matches!(typ, "jwt" | "client-authentication+jwt")
}

/// Whether `aud` (a string or an array of strings) names one of `accepted`.
fn audience_accepted(claims: &Map<String, Value>, accepted: &[&str]) -> bool {
    let named = |aud: &Value| aud.as_str().is_some_and(|a| accepted.contains(&a));
    match claims.get("aud") {
        Some(aud @ Value::String(_)) => named(aud),
        Some(Value::Array(auds)) => auds.iter().any(named),
        _ => false,
    }
}

#[cfg(test)]
mod tests;
