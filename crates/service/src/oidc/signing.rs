//! Every signature the OpenID Connect provider makes or checks, and the
//! JWKS it publishes, in one module, all on the key custody
//! (`kernel/keys.rs`) with `KeyPurpose::IdTokens`: ID tokens are signed
//! with the active key of the client's algorithm (ES256 by default, RS256
//! for clients that ask for it), access tokens with the ES256 key, and the
//! JWKS is every published key of both algorithms, so a token signed
//! before a rotation still verifies until it expires. The provider's own
//! tokens (an access token at UserInfo or introspection, an
//! `id_token_hint`) are verified against the published keys by `kid`
//! through `keybound_jose::verify`, whose allow-list refuses `alg: none`
//! and whose key-type check refuses algorithm confusion.

use keybound_jose::{Algorithm, Jwk};
use keybound_store::WriteTx;
use serde_json::{Map, Value};

use crate::{KeyPurpose, Service, ServiceError};

/// The ID token algorithms a client may register.
pub(crate) const ALGORITHMS: [&str; 2] = ["ES256", "RS256"];

/// The algorithms the provider's own tokens may carry.
const VERIFY_ALGORITHMS: [Algorithm; 2] = [Algorithm::Es256, Algorithm::Rs256];

/// Whether a client may ask for ID tokens signed with `alg`.
pub(crate) fn supports(alg: &str) -> bool {
    ALGORITHMS.contains(&alg)
}

fn algorithm(alg: &str) -> Result<Algorithm, ServiceError> {
    match Algorithm::parse(alg) {
        Ok(parsed) if supports(alg) => Ok(parsed),
        _ => Err(ServiceError::Internal(format!("cannot sign with {alg}"))),
    }
}

/// Makes sure the active `IdTokens` key of `alg` exists (and so is in the
/// JWKS) before a client that asks for it is registered: a relying party
/// that fetches the JWKS once, at discovery, then finds the key of its
/// first ID token. Its own transaction: call it holding none.
pub(crate) async fn ready(service: &Service, alg: &str) -> Result<(), ServiceError> {
    let alg = algorithm(alg)?;
    service.active_key(KeyPurpose::IdTokens, alg).await?;
    Ok(())
}

/// Signs `claims` as a compact JWS with header `typ` (`JWT` for ID
/// tokens, `at+jwt` for access tokens, RFC 9068 §2.1), using the active
/// `IdTokens` key for `alg`, inside the use case's transaction `tx`: the
/// writer is one per node, so making a key outside `tx` would wait for it.
pub(crate) async fn sign_jwt(
    service: &Service,
    tx: &mut WriteTx,
    alg: &str,
    typ: &str,
    claims: &Map<String, Value>,
) -> Result<String, ServiceError> {
    let alg = algorithm(alg)?;
    service
        .sign_jwt_in(tx, KeyPurpose::IdTokens, alg, typ, claims)
        .await
}

/// The claims of a token this provider signed with header `typ`, if its
/// signature verifies against a published key named by its `kid`.
/// Nothing else (expiry, issuer, audience) is checked here: the caller
/// knows which apply. Reads only, so a use case may call it anywhere.
pub(crate) async fn verify_jwt(
    service: &Service,
    token: &str,
    typ: &str,
) -> Result<Option<Map<String, Value>>, ServiceError> {
    let keys = published_keys(service).await?;
    let verified = keybound_jose::verify(token, &VERIFY_ALGORITHMS, |kid| {
        let kid = kid?;
        keys.iter().find(|k| k.kid() == Some(kid)).cloned()
    });
    let Ok(verified) = verified else {
        return Ok(None);
    };
    if verified.header.get("typ").and_then(Value::as_str) != Some(typ) {
        return Ok(None);
    }
    Ok(verified.claims().ok())
}

/// The published `IdTokens` keys, parsed.
async fn published_keys(service: &Service) -> Result<Vec<Jwk>, ServiceError> {
    let jwks = service.published_keys(KeyPurpose::IdTokens).await?;
    let unreadable = || ServiceError::Internal("a published key is unreadable".into());
    let keys = jwks
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(unreadable)?;
    keys.iter()
        .map(|k| Jwk::parse(k).map_err(|_| unreadable()))
        .collect()
}

impl Service {
    /// The JWK Set of the keys ID tokens and access tokens are signed
    /// with (`/oauth2/jwks`): every published key, of both algorithms.
    pub async fn oidc_jwks(&self) -> Result<Value, ServiceError> {
        self.published_jwks(KeyPurpose::IdTokens).await
    }
}
