//! JWT-SVID validation for `ValidateJWTSVID` (SPIFFE JWT-SVID standard §4,
//! "JWT-SVID Validation"), with no IO: the bundles and the time come in as
//! arguments.
//!
//! Checks, in order: size; the JWS (alg allow-list ES256/RS256, `kid`
//! naming a key in one of the given bundles, signature; see
//! [`keybound_jose::verify`]); `typ`, when present, `JWT` or `JOSE` (§3.2);
//! `exp` present and not past, `nbf`/`iat` not in the future (leeway
//! [`LEEWAY_S`]); `aud` containing the validator's audience; `sub` a SPIFFE
//! ID of the trust domain whose bundle holds the signing key, so a key of a
//! federated domain cannot vouch for this one.
//!
//! When `keybound-ca` publishes `validate_jwt_svid`, this module gives way
//! to it.

use keybound_jose::{check_claims, verify, Algorithm, ClaimChecks, Jwk};
use serde_json::{Map, Value};

/// Allowed clock skew between the keybound server that minted a token and
/// the node validating it, seconds.
pub const LEEWAY_S: i64 = 5;

/// The longest SPIFFE ID accepted (the SPIFFE ID standard's 2048 bytes).
pub const MAX_SPIFFE_ID_LEN: usize = 2048;

/// JWT-SVID signature algorithms keybound accepts (EdDSA is not in the
/// JWT-SVID standard's list).
const ALGORITHMS: [Algorithm; 2] = [Algorithm::Es256, Algorithm::Rs256];

/// One trust domain's JWT authorities.
#[derive(Debug, Clone, Copy)]
pub struct JwtAuthorities<'a> {
    /// `example.org`.
    pub trust_domain: &'a str,
    /// Public JWKs, each with its `kid`.
    pub keys: &'a [Value],
}

/// A JWT-SVID that validated.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidJwtSvid {
    /// `sub`.
    pub spiffe_id: String,
    /// All claims.
    pub claims: Map<String, Value>,
}

/// Why a JWT-SVID was refused (the precise reason, for the log; the
/// workload gets one generic answer).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub enum JwtSvidError {
    /// The JWS or a claim check failed.
    Jose(keybound_jose::Error),
    /// `typ` is present and neither `JWT` nor `JOSE`.
    Type,
    /// `sub` is missing or not a SPIFFE ID.
    Subject,
    /// `sub` belongs to another trust domain than the signing key.
    TrustDomain,
}

impl std::fmt::Display for JwtSvidError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JwtSvidError::Jose(e) => write!(f, "jws: {e}"),
            JwtSvidError::Type => f.write_str("typ is not JWT or JOSE"),
            JwtSvidError::Subject => f.write_str("sub is not a SPIFFE ID"),
            JwtSvidError::TrustDomain => {
                f.write_str("sub is not in the signing key's trust domain")
            }
        }
    }
}

impl std::error::Error for JwtSvidError {}

/// The trust domain of a SPIFFE ID (`spiffe://td/path` → `td`), if it is
/// one: scheme `spiffe`, a non-empty lower-case authority of the allowed
/// characters, a path.
pub fn trust_domain_of(spiffe_id: &str) -> Option<&str> {
    if spiffe_id.len() > MAX_SPIFFE_ID_LEN {
        return None;
    }
    let rest = spiffe_id.strip_prefix("spiffe://")?;
    let (td, path) = match rest.split_once('/') {
        None => (rest, None),
        Some((td, path)) => (td, Some(path)),
    };
    let td_ok = !td.is_empty()
        && td
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-._".contains(&b));
    // Each segment non-empty, not `.`/`..`, of the allowed characters; a
    // trailing slash makes an empty last segment and fails.
    let path_ok = path.is_none_or(|path| {
        path.split('/').all(|seg| {
            !seg.is_empty()
                && seg != "."
                && seg != ".."
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
        })
    });
    (td_ok && path_ok).then_some(td)
}

/// Validates `token` for `audience` at `now` (unix seconds) against
/// `bundles`.
pub fn validate_jwt_svid(
    token: &str,
    audience: &str,
    bundles: &[JwtAuthorities<'_>],
    now: i64,
) -> Result<ValidJwtSvid, JwtSvidError> {
    let mut signer_td: Option<&str> = None;
    let verified = verify(token, &ALGORITHMS, |kid| {
        let kid = kid?;
        bundles.iter().find_map(|b| {
            b.keys.iter().find_map(|k| {
                let jwk = Jwk::parse(k).ok()?;
                (jwk.kid() == Some(kid)).then(|| {
                    signer_td = Some(b.trust_domain);
                    jwk
                })
            })
        })
    })
    .map_err(JwtSvidError::Jose)?;
    match verified.header.get("typ") {
        None => {}
        Some(Value::String(t)) if t == "JWT" || t == "JOSE" => {}
        Some(_) => return Err(JwtSvidError::Type),
    }
    let claims = verified.claims().map_err(JwtSvidError::Jose)?;
    check_claims(
        &claims,
        &ClaimChecks {
            now,
            leeway: LEEWAY_S,
            require_exp: true,
            issuer: None,
            audience: Some(audience),
        },
    )
    .map_err(JwtSvidError::Jose)?;
    let sub = claims
        .get("sub")
        .and_then(Value::as_str)
        .ok_or(JwtSvidError::Subject)?;
    let td = trust_domain_of(sub).ok_or(JwtSvidError::Subject)?;
    if signer_td != Some(td) {
        return Err(JwtSvidError::TrustDomain);
    }
    Ok(ValidJwtSvid {
        spiffe_id: sub.to_owned(),
        claims,
    })
}

/// JSON claims as a `google.protobuf.Struct` (`ValidateJWTSVIDResponse.claims`).
pub fn claims_struct(claims: &Map<String, Value>) -> prost_types::Struct {
    prost_types::Struct {
        fields: claims
            .iter()
            .map(|(k, v)| (k.clone(), proto_value(v)))
            .collect(),
    }
}

/// serde_json's own recursion limit (128) bounds the depth here.
fn proto_value(v: &Value) -> prost_types::Value {
    use prost_types::value::Kind;
    let kind = match v {
        Value::Null => Kind::NullValue(0),
        Value::Bool(b) => Kind::BoolValue(*b),
        Value::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or(0.0)),
        Value::String(s) => Kind::StringValue(s.clone()),
        Value::Array(a) => Kind::ListValue(prost_types::ListValue {
            values: a.iter().map(proto_value).collect(),
        }),
        Value::Object(o) => Kind::StructValue(claims_struct(o)),
    };
    prost_types::Value { kind: Some(kind) }
}

#[cfg(test)]
mod tests;
