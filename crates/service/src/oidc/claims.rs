//! What the tokens say about the person and their sign-in, derived from
//! the session alone (docs/manual/oidc.md lists it for relying parties):
//!
//! - `acr` (OpenID Connect EAP ACR values): `phrh` when the session proved
//!   tier 3 (a device-bound key on attested, certified hardware), `phr`
//!   otherwise: every passkey sign-in is phishing-resistant.
//! - `amr` (RFC 8176): `pop` always (proof of possession of a key),
//!   `hwk` for tier 2 and up (a device-bound key) else `swk` (a synced
//!   passkey), `user` (user presence), and `mfa` when the authenticator
//!   verified the user (PIN or biometric on top of the key).
//! - `sub`: the identity's id, or pairwise per client: HMAC-SHA-256 of
//!   the client's sector (the host of its first redirect URI) and the
//!   identity id, keyed with a deployment secret.

use aws_lc_rs::hmac;
use keybound_store::{Identity, OidcClient};
use keybound_webauthn::b64;
use serde_json::{json, Map, Value};

use crate::{Service, ServiceError};

/// The scopes the provider grants; any other is dropped from the grant.
pub(crate) const SCOPES: [&str; 4] = ["openid", "profile", "groups", "offline_access"];

/// The ACR values, weakest first, with the tier each needs.
pub(crate) const ACR_VALUES: [(&str, i64); 2] = [("phr", 1), ("phrh", 3)];

/// The `acr` a session of `tier` earns.
pub(crate) fn acr(tier: i64) -> &'static str {
    if tier >= 3 {
        "phrh"
    } else {
        "phr"
    }
}

/// The `amr` values a session of `tier` earns.
pub(crate) fn amr(tier: i64, user_verified: bool) -> Vec<&'static str> {
    let mut amr = vec!["pop", if tier >= 2 { "hwk" } else { "swk" }, "user"];
    if user_verified {
        amr.push("mfa");
    }
    amr
}

/// The lowest tier that meets the requested `acr_values` (a space
/// separated list in order of preference, OIDC Core §3.1.2.1); `None`
/// when none is one of ours (the request is then served at what the
/// session has, and the `acr` claim says what that is).
pub(crate) fn tier_for_acr_values(acr_values: &str) -> Option<i64> {
    acr_values
        .split(' ')
        .filter_map(|v| ACR_VALUES.iter().find(|(name, _)| *name == v))
        .map(|(_, tier)| *tier)
        .min()
}

/// The scope granted for `requested`: the known scopes asked for, in the
/// order asked, each once.
pub(crate) fn granted_scope(requested: &str) -> String {
    let mut granted: Vec<&str> = Vec::new();
    for scope in requested.split(' ') {
        if SCOPES.contains(&scope) && !granted.contains(&scope) {
            granted.push(scope);
        }
    }
    granted.join(" ")
}

/// The host a pairwise subject is keyed with.
fn sector(client: &OidcClient) -> String {
    client
        .redirect_uris
        .first()
        .and_then(|u| url::Url::parse(u).ok())
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| client.client_id.clone())
}

fn keyed(secret: &[u8; 32], parts: &[&[u8]]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let mut context = hmac::Context::with_key(&key);
    for part in parts {
        context.update(&(part.len() as u64).to_be_bytes());
        context.update(part);
    }
    b64::encode(context.sign().as_ref())
}

/// The `sub` `client` sees for `identity_id` under the deployment's OIDC
/// `secret` (for a caller that holds a transaction and read the secret
/// through it).
pub(crate) fn subject_with(secret: &[u8; 32], client: &OidcClient, identity_id: &str) -> String {
    if !client.pairwise {
        return identity_id.to_owned();
    }
    keyed(
        secret,
        &[
            b"pairwise",
            sector(client).as_bytes(),
            identity_id.as_bytes(),
        ],
    )
}

impl Service {
    /// The `sub` `client` sees for `identity_id`.
    pub(crate) async fn oidc_subject(
        &self,
        client: &OidcClient,
        identity_id: &str,
    ) -> Result<String, ServiceError> {
        if !client.pairwise {
            return Ok(identity_id.to_owned());
        }
        let secret = self.oidc_secret().await?;
        Ok(subject_with(&secret, client, identity_id))
    }

    /// The `sid` (OIDC Back-Channel Logout §2.1) `client_id` sees for the
    /// session with this cookie hash: stable for the pair, unlinkable
    /// across clients.
    pub(crate) async fn oidc_sid(
        &self,
        client_id: &str,
        session_hash: &[u8],
    ) -> Result<String, ServiceError> {
        let secret = self.oidc_secret().await?;
        let mac = keyed(&secret, &[b"sid", client_id.as_bytes(), session_hash]);
        Ok(mac.chars().take(22).collect())
    }
}

/// The profile and group claims `scope` releases about `identity`.
pub(crate) fn person_claims(identity: &Identity, scope: &str, claims: &mut Map<String, Value>) {
    let scopes: Vec<&str> = scope.split(' ').collect();
    if scopes.contains(&"profile") {
        claims.insert("name".into(), json!(identity.name));
        claims.insert("preferred_username".into(), json!(identity.name));
    }
    if scopes.contains(&"groups") {
        let group = if identity.is_admin { "admin" } else { "user" };
        claims.insert("groups".into(), json!([group]));
    }
}
