//! `private_key_jwt` client authentication (OIDC Core §9, RFC 7523 §2.2)
//! at the token, revocation and introspection endpoints: the client signs
//! a short-lived JWT with a key it registered (`--jwks-file`), verified
//! by `keybound_jose::verify_client_assertion` (allow-listed algorithms,
//! the key by `kid`, `iss` = `sub` = `client_id`, `aud` the token endpoint
//! or the issuer, a bounded lifetime) and its `jti` taken once through
//! the single-use table until the assertion expires, so a captured
//! assertion cannot be replayed. Each way it fails has its own refusal.

use keybound_jose::{Algorithm, ClientAssertionChecks, Error, Jwk};
use keybound_store::OidcClient;
use serde_json::Value;

use crate::oidc::params::{bound, ClientCredentials, OidcParams};
use crate::oidc::{OAuthError, OidcError};
use crate::single_use::TokenKind;
use crate::{Refusal, Service};

/// The one `client_assertion_type` there is (RFC 7523 §2.2).
pub(crate) const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The algorithms a client may sign its assertion with.
pub(crate) const ALGORITHMS: [Algorithm; 3] =
    [Algorithm::Es256, Algorithm::Rs256, Algorithm::EdDsa];

type Refused = (Refusal, OidcError);

fn told(reason: Refusal, error: OAuthError) -> Refused {
    (reason, OidcError::OAuth(error))
}

fn invalid_client(reason: Refusal) -> Refused {
    told(reason, OAuthError::InvalidClient)
}

/// The assertion a request presents, if it presents one: with a secret
/// beside it, or of another type, `invalid_request`.
pub(crate) fn presented<'a>(
    params: &'a OidcParams,
    credentials: &ClientCredentials,
) -> Result<Option<&'a str>, Refused> {
    let malformed = |r| told(r, OAuthError::InvalidRequest);
    let kind = params.get("client_assertion_type").map_err(malformed)?;
    let assertion = params.get("client_assertion").map_err(malformed)?;
    if kind.is_none() && assertion.is_none() {
        return Ok(None);
    }
    let secret = params.get("client_secret").map_err(malformed)?;
    if kind != Some(JWT_BEARER) || credentials.basic.is_some() || secret.is_some() {
        return Err(malformed(Refusal::OidcMalformedRequest));
    }
    assertion
        .map(Some)
        .ok_or(malformed(Refusal::OidcMalformedRequest))
}

/// The `iss` an assertion claims, unverified: only to find the client
/// when the form names none (RFC 7521 §4.2 makes `client_id` optional).
fn claimed_issuer(assertion: &str) -> Option<String> {
    unverified_claims(assertion)?
        .get("iss")?
        .as_str()
        .map(str::to_owned)
}

/// The claims of a compact JWS, unverified: only to choose how (and with
/// which key) to verify it, never to trust. An agent's proof is read the
/// same way to tell a JWT-SVID from a key-signed assertion.
pub(crate) fn unverified_claims(token: &str) -> Option<serde_json::Map<String, Value>> {
    let payload = token.split('.').nth(1)?;
    let bytes = keybound_webauthn::b64::decode(payload).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(claims) => Some(claims),
        _ => None,
    }
}

/// The refusal a failed verification is audited with.
fn reason(error: &Error) -> Refusal {
    match error {
        Error::AlgorithmNotAllowed | Error::KeyMismatch | Error::CriticalHeader => {
            Refusal::OidcClientAssertionAlgorithm
        }
        Error::UnknownKey => Refusal::OidcClientAssertionUnknownKey,
        Error::BadSignature => Refusal::OidcClientAssertionSignature,
        Error::Expired | Error::NotYetValid | Error::IssuedInFuture | Error::LifetimeTooLong => {
            Refusal::OidcClientAssertionExpired
        }
        _ => Refusal::OidcClientAssertionClaims,
    }
}

impl Service {
    /// Authenticates a client by its `client_assertion`: the client, or
    /// `invalid_client` with the precise reason.
    pub(crate) async fn authenticate_by_assertion(
        &self,
        params: &OidcParams,
        assertion: &str,
    ) -> Result<OidcClient, Refused> {
        let malformed = |r| told(r, OAuthError::InvalidRequest);
        let client_id = match params.get("client_id").map_err(malformed)? {
            Some(id) => id.to_owned(),
            None => claimed_issuer(assertion)
                .ok_or(invalid_client(Refusal::OidcClientAssertionClaims))?,
        };
        if client_id.len() > bound("client_id") {
            return Err(invalid_client(Refusal::OidcUnknownClient));
        }
        let found = async {
            let mut tx = self.kernel.store.read().await?;
            tx.oidc_client(&client_id).await
        };
        let client = found
            .await
            .map_err(|e| (Refusal::OidcUnknownClient, OidcError::from(e)))?
            .ok_or(invalid_client(Refusal::OidcUnknownClient))?;
        if client.auth_method != "private_key_jwt" {
            return Err(invalid_client(Refusal::OidcClientAuthFailed));
        }
        let keys: Vec<Jwk> = client
            .jwks
            .as_deref()
            .and_then(|text| serde_json::from_str::<Value>(text).ok())
            .and_then(|v| v.get("keys")?.as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|k| Jwk::parse(k).ok())
            .collect();
        let issuer = self.config.oidc.issuer.as_str();
        let token_endpoint = format!("{issuer}/oauth2/token");
        let audiences = [token_endpoint.as_str(), issuer];
        let checks = ClientAssertionChecks {
            client_id: &client.client_id,
            audiences: &audiences,
            keys: &keys,
            algorithms: &ALGORITHMS,
            now: self.now_ms() / 1000,
        };
        let verified = keybound_jose::verify_client_assertion(assertion, &checks)
            .map_err(|e| invalid_client(reason(&e)))?;
        // Kept until it could no longer pass the expiry check anyway.
        let until_s = verified
            .exp
            .saturating_add(keybound_jose::CLIENT_ASSERTION_LEEWAY);
        let once = format!("{}\0{}", client.client_id, verified.jti);
        let internal = |e| (Refusal::OidcClientAssertionReplayed, OidcError::from(e));
        let mut tx = self.kernel.store.begin().await.map_err(internal)?;
        let first = self
            .remember_once(
                &mut tx,
                TokenKind::ClientAssertion,
                once.as_bytes(),
                until_s.saturating_mul(1000),
            )
            .await
            .map_err(OidcError::from)
            .map_err(|e| (Refusal::OidcClientAssertionReplayed, e))?;
        if !first {
            return Err(invalid_client(Refusal::OidcClientAssertionReplayed));
        }
        tx.commit().await.map_err(internal)?;
        Ok(client)
    }
}
