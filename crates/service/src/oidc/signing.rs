//! Every signature the OpenID Connect provider makes or checks, and the
//! JWKS it publishes, in one module: ID tokens and access tokens are
//! signed with the key custody's `KeyPurpose::IdTokens` key (ES256), and
//! the provider's own tokens (an access token at UserInfo, an
//! `id_token_hint`) are verified against the same keys through
//! `keybound_jose::verify` with an allow-list of one algorithm, so
//! `alg: none` and algorithm confusion are refused there.
//!
//! Key rotation and RS256 arrive by replacing this module: `sign_jwt`,
//! `verify_jwt`, `jwks` and `supports` are all the rest of the provider
//! uses.

use keybound_jose::{Algorithm, Jwk};
use keybound_webauthn::b64;
use serde_json::{json, Map, Value};

use crate::{KeyPurpose, Service, ServiceError, SigningKey};

/// The ID token algorithms this module can sign with today.
pub(crate) const ALGORITHMS: [&str; 1] = ["ES256"];

/// Whether a client may ask for ID tokens signed with `alg`.
pub(crate) fn supports(alg: &str) -> bool {
    ALGORITHMS.contains(&alg)
}

/// The public JWK of a custody key: EC P-256 from its uncompressed point.
fn public_jwk(key: &SigningKey) -> Result<Value, ServiceError> {
    let point = key.public_key();
    let (Some(x), Some(y)) = (point.get(1..33), point.get(33..65)) else {
        return Err(ServiceError::Internal("a signing key is not P-256".into()));
    };
    Ok(json!({
        "kty": "EC",
        "crv": "P-256",
        "x": b64::encode(x),
        "y": b64::encode(y),
        "kid": key.key_id(),
        "use": "sig",
        "alg": "ES256",
    }))
}

/// Signs `claims` as a compact JWS with header `typ` (`JWT` for ID
/// tokens, `at+jwt` for access tokens, RFC 9068 §2.1), using the key for
/// `alg` (`ES256`).
pub(crate) async fn sign_jwt(
    service: &Service,
    alg: &str,
    typ: &str,
    claims: &Value,
) -> Result<String, ServiceError> {
    if !supports(alg) {
        return Err(ServiceError::Internal(format!("cannot sign with {alg}")));
    }
    let key = service.signing_key(KeyPurpose::IdTokens).await?;
    let header = json!({"alg": "ES256", "typ": typ, "kid": key.key_id()});
    let encode = |v: &Value| {
        serde_json::to_vec(v)
            .map(|bytes| b64::encode(&bytes))
            .map_err(|_| ServiceError::Internal("claims do not serialise".into()))
    };
    let input = format!("{}.{}", encode(&header)?, encode(claims)?);
    let signature = key.sign(input.as_bytes())?;
    Ok(format!("{input}.{}", b64::encode(&signature)))
}

/// The claims of a token this provider signed with header `typ`, if its
/// signature verifies against a published key. Nothing else (expiry,
/// issuer, audience) is checked here: the caller knows which apply.
pub(crate) async fn verify_jwt(
    service: &Service,
    token: &str,
    typ: &str,
) -> Result<Option<Map<String, Value>>, ServiceError> {
    let key = service.signing_key(KeyPurpose::IdTokens).await?;
    let jwk = Jwk::parse(&public_jwk(&key)?)
        .map_err(|_| ServiceError::Internal("a signing key has no JWK".into()))?;
    let verified = keybound_jose::verify(token, &[Algorithm::Es256], |kid| {
        (kid == Some(key.key_id())).then(|| jwk.clone())
    });
    let Ok(verified) = verified else {
        return Ok(None);
    };
    if verified.header.get("typ").and_then(Value::as_str) != Some(typ) {
        return Ok(None);
    }
    Ok(verified.claims().ok())
}

/// The JWK Set published at `/oauth2/jwks`.
pub(crate) async fn jwks(service: &Service) -> Result<Value, ServiceError> {
    let key = service.signing_key(KeyPurpose::IdTokens).await?;
    Ok(json!({ "keys": [public_jwk(&key)?] }))
}

impl Service {
    /// The JWK Set of the keys ID tokens and access tokens are signed
    /// with (`/oauth2/jwks`).
    pub async fn oidc_jwks(&self) -> Result<Value, ServiceError> {
        jwks(self).await
    }
}
