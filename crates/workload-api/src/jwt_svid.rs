//! `ValidateJWTSVID` over `keybound-ca`'s JWT-SVID validation
//! ([`keybound_ca::validate_jwt_svid`], which checks one trust domain's
//! authorities): the token is tried against each bundle the caller trusts,
//! and it validates when one bundle's key signed it **and** its `sub` is in
//! that bundle's trust domain, so a federated domain's key cannot vouch
//! for this one. No IO: bundles and time come in as arguments.

use keybound_ca::{validate_jwt_svid, Error, TrustDomain};
use keybound_jose::Jwk;
use serde_json::{Map, Value};

/// One trust domain's JWT authorities.
#[derive(Debug, Clone, Copy)]
pub struct JwtAuthorities<'a> {
    /// `example.org`.
    pub trust_domain: &'a str,
    /// Public JWKs, each with its `kid`.
    pub keys: &'a [Value],
}

/// Validates `token` for `audience` at `now` (unix seconds) against the
/// first of `bundles` that accepts it. On refusal, the reason given is the
/// most telling one: a bundle that knew the key beats one that did not.
pub fn validate(
    token: &str,
    audience: &str,
    bundles: &[JwtAuthorities<'_>],
    now: i64,
) -> Result<keybound_ca::JwtSvid, Error> {
    let mut refusal = Error::Jwt(keybound_jose::Error::UnknownKey);
    for b in bundles {
        let Ok(td) = TrustDomain::parse(b.trust_domain) else {
            continue;
        };
        let keys: Vec<Jwk> = b.keys.iter().filter_map(|k| Jwk::parse(k).ok()).collect();
        match validate_jwt_svid(token, audience, &keys, &td, now) {
            Ok(svid) => return Ok(svid),
            Err(Error::Jwt(keybound_jose::Error::UnknownKey)) => {}
            Err(e) => refusal = e,
        }
    }
    Err(refusal)
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
