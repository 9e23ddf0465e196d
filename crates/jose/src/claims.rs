//! JWT claim checks (RFC 7519 §4.1): `exp`, `nbf`, `iat` against a `now`
//! the caller passes (no clock here), with a leeway for clock skew; `iss`
//! and `aud` by exact equality.

use serde_json::{Map, Value};

use crate::Error;

/// What [`check_claims`] requires.
#[derive(Debug, Clone, Default)]
pub struct ClaimChecks<'a> {
    /// The current time, unix seconds.
    pub now: i64,
    /// Allowed clock skew, seconds.
    pub leeway: i64,
    /// Whether `exp` must be present (ID and access tokens: yes; DPoP
    /// proofs carry only `iat`).
    pub require_exp: bool,
    /// The expected `iss`, when checked.
    pub issuer: Option<&'a str>,
    /// An audience `aud` must be or contain, when checked.
    pub audience: Option<&'a str>,
}

/// A NumericDate claim: absent, or a number (fractions rounded down).
pub(crate) fn date(claims: &Map<String, Value>, name: &'static str) -> Result<Option<i64>, Error> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Ok(Some(i)),
            // `as` saturates: an absurd float becomes i64::MIN/MAX.
            (None, Some(f)) if f.is_finite() => Ok(Some(f.floor() as i64)),
            _ => Err(Error::Malformed(name)),
        },
        Some(_) => Err(Error::Malformed(name)),
    }
}

/// Checks `claims` against `checks`.
pub fn check_claims(claims: &Map<String, Value>, checks: &ClaimChecks<'_>) -> Result<(), Error> {
    let now = checks.now;
    let leeway = checks.leeway.max(0);
    match date(claims, "exp")? {
        Some(exp) if now >= exp.saturating_add(leeway) => return Err(Error::Expired),
        None if checks.require_exp => return Err(Error::Expired),
        _ => {}
    }
    if let Some(nbf) = date(claims, "nbf")? {
        if now.saturating_add(leeway) < nbf {
            return Err(Error::NotYetValid);
        }
    }
    if let Some(iat) = date(claims, "iat")? {
        if iat > now.saturating_add(leeway) {
            return Err(Error::IssuedInFuture);
        }
    }
    if let Some(issuer) = checks.issuer {
        if claims.get("iss").and_then(Value::as_str) != Some(issuer) {
            return Err(Error::WrongIssuer);
        }
    }
    if let Some(audience) = checks.audience {
        let ok = match claims.get("aud") {
            Some(Value::String(aud)) => aud == audience,
            Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(audience)),
            _ => false,
        };
        if !ok {
            return Err(Error::WrongAudience);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
