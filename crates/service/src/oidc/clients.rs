//! Registered clients: added, listed and removed by the operator (CLI) or
//! an administrator (console), each change audited; and client
//! authentication at the token, revocation and introspection endpoints.
//!
//! A confidential client's secret is 32 random bytes shown once; only its
//! SHA-256 is kept and compared in constant time.

use keybound_audit::Outcome;
use keybound_store::{OidcClient, StoreError};

use crate::oidc::params::{ClientCredentials, OidcParams};
use crate::oidc::{signing, OAuthError, OidcError};
use crate::record::Record;
use crate::tokens::{hash_token, hex_id};
use crate::{Actor, ClientContext, EventKind, Refusal, Service, ServiceError};

/// The registration methods a client may name.
pub const AUTH_METHODS: [&str; 4] = [
    "client_secret_basic",
    "client_secret_post",
    "private_key_jwt",
    "none",
];

/// The most keys a client may register for `private_key_jwt`.
const MAX_CLIENT_KEYS: usize = 8;

/// What an operator registers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRegistration {
    /// The client's name (unique among registered clients).
    pub name: String,
    /// Its exact redirect URIs (at least one).
    pub redirect_uris: Vec<String>,
    /// A public client: no secret, `none` at the token endpoint.
    pub public: bool,
    /// `client_secret_basic` (default) or `client_secret_post` for a
    /// confidential client.
    pub auth_method: Option<String>,
    /// Where back-channel logout tokens go.
    pub backchannel_logout_uri: Option<String>,
    /// Where RP-initiated logout may return.
    pub post_logout_redirect_uris: Vec<String>,
    /// Pairwise `sub` for this client.
    pub pairwise: bool,
    /// `ES256` (default) or `RS256`.
    pub id_token_alg: Option<String>,
    /// The client's JWK Set (public keys only) for `private_key_jwt`.
    pub jwks: Option<String>,
}

/// A client as the operator sees it; `secret` only right after adding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredClient {
    /// The stored client.
    pub client: OidcClient,
    /// The secret, shown once (confidential clients, on add only).
    pub secret: Option<String>,
}

/// The longest client name.
/// Redirect URIs (and post-logout ones) a client may register: every one
/// is compared at each authorization, and the console shows them all.
pub(crate) const MAX_REDIRECT_URIS: usize = 16;
const MAX_NAME: usize = 64;

/// Whether `uri` may be a redirect target: absolute, no fragment, https,
/// or http to a loopback host (RFC 8252 §7.3 for native apps).
pub fn valid_redirect_uri(uri: &str) -> bool {
    let Ok(url) = url::Url::parse(uri) else {
        return false;
    };
    if uri.len() > crate::oidc::params::bound("redirect_uri") || url.fragment().is_some() {
        return false;
    }
    if uri.contains('#') || url.username() != "" || url.password().is_some() {
        return false;
    }
    match url.scheme() {
        "https" => url.host().is_some(),
        "http" => match url.host() {
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        },
        _ => false,
    }
}

impl Service {
    /// Registers a client; its `oidc.client_add` event in the same
    /// transaction. Refused: a name the naming rule or the bound refuses
    /// ([`Refusal::InvalidName`]), a taken name ([`Refusal::NameTaken`]), a
    /// redirect URI that is not absolute https or loopback http or has a
    /// fragment ([`Refusal::OidcInvalidRedirectUri`]), an unknown auth
    /// method or algorithm.
    pub async fn add_oidc_client(
        &self,
        actor: Actor<'_>,
        registration: ClientRegistration,
        ctx: &ClientContext,
    ) -> Result<RegisteredClient, ServiceError> {
        let mut event = self.event(EventKind::OidcClientAdd, ctx);
        event.actor = Some(actor.name().to_owned());
        event.subject = Some(registration.name.clone());
        event.subject_kind = Some("oidc_client".to_owned());
        let r = registration;
        let name = r.name.trim();
        if name.is_empty()
            || name.len() > MAX_NAME
            || name.chars().any(|c| c.is_control() || c.is_whitespace())
        {
            return Err(self.record_refusal(event, Refusal::InvalidName, None).await);
        }
        let uris = r.redirect_uris.iter().chain(&r.post_logout_redirect_uris);
        let bad_uri = r.redirect_uris.is_empty()
            || r.redirect_uris.len() > MAX_REDIRECT_URIS
            || r.post_logout_redirect_uris.len() > MAX_REDIRECT_URIS
            || uris
                .chain(r.backchannel_logout_uri.as_ref())
                .any(|u| !valid_redirect_uri(u));
        if bad_uri {
            return Err(self
                .record_refusal(event, Refusal::OidcInvalidRedirectUri, None)
                .await);
        }
        let auth_method = match (r.public, r.auth_method.as_deref()) {
            (true, None | Some("none")) => "none",
            (false, None) => "client_secret_basic",
            (false, Some(m @ ("client_secret_basic" | "client_secret_post"))) => m,
            (false, Some(m @ "private_key_jwt")) if r.jwks.is_some() => m,
            _ => {
                return Err(self
                    .record_refusal(event, Refusal::OidcClientAuthFailed, Some("method".into()))
                    .await)
            }
        };
        let alg = r.id_token_alg.as_deref().unwrap_or("ES256");
        if !signing::supports(alg) {
            return Err(self
                .record_refusal(event, Refusal::OidcUnsupportedAlgorithm, None)
                .await);
        }
        let jwks = match (auth_method, &r.jwks) {
            ("private_key_jwt", Some(jwks)) => match client_jwks(jwks) {
                Some(normal) => Some(normal),
                None => {
                    return Err(self
                        .record_refusal(event, Refusal::OidcInvalidClientJwks, None)
                        .await)
                }
            },
            (_, None) => None,
            (_, Some(_)) => {
                return Err(self
                    .record_refusal(event, Refusal::OidcClientAuthFailed, Some("jwks".into()))
                    .await)
            }
        };
        signing::ready(self, alg).await?;
        let secret = (!r.public && jwks.is_none()).then(|| self.mint().value);
        let client = OidcClient {
            client_id: hex_id(self.random()),
            name: name.to_owned(),
            secret_hash: secret.as_deref().map(hash_token),
            public: r.public,
            redirect_uris: r.redirect_uris,
            auth_method: auth_method.to_owned(),
            jwks,
            backchannel_logout_uri: r.backchannel_logout_uri,
            post_logout_redirect_uris: r.post_logout_redirect_uris,
            pairwise: r.pairwise,
            id_token_alg: alg.to_owned(),
            created_ms: self.now_ms(),
            removed_ms: None,
        };
        let mut tx = self.kernel.store.begin().await?;
        match tx.insert_oidc_client(&client).await {
            Ok(()) => {}
            Err(StoreError::Conflict) => {
                drop(tx);
                return Err(self.record_refusal(event, Refusal::NameTaken, None).await);
            }
            Err(e) => return Err(e.into()),
        }
        event.outcome = Some(Outcome::Success);
        event
            .details
            .insert("client_id".into(), client.client_id.clone());
        event
            .details
            .insert("redirect_uris".into(), client.redirect_uris.join(" "));
        event
            .details
            .insert("auth_method".into(), client.auth_method.clone());
        tx.record(event).await?;
        tx.commit().await?;
        Ok(RegisteredClient { client, secret })
    }

    /// The registered clients, by name (no secrets: only their hashes are
    /// kept).
    pub async fn oidc_clients(&self, _viewer: Actor<'_>) -> Result<Vec<OidcClient>, ServiceError> {
        let mut tx = self.kernel.store.read().await?;
        Ok(tx.oidc_clients().await?)
    }

    /// Removes the client called `name`: its codes and tokens stop
    /// working at once (every check looks the client up). One
    /// transaction with its `oidc.client_remove` event; no such client:
    /// [`ServiceError::NotFound`].
    pub async fn remove_oidc_client(
        &self,
        actor: Actor<'_>,
        name: &str,
        ctx: &ClientContext,
    ) -> Result<OidcClient, ServiceError> {
        let mut tx = self.kernel.store.begin().await?;
        let removed = tx
            .remove_oidc_client(name, self.now_ms())
            .await?
            .ok_or(ServiceError::NotFound)?;
        let mut event = self.event(EventKind::OidcClientRemove, ctx);
        event.actor = Some(actor.name().to_owned());
        event.subject = Some(removed.name.clone());
        event.subject_kind = Some("oidc_client".to_owned());
        event.outcome = Some(Outcome::Success);
        event
            .details
            .insert("client_id".into(), removed.client_id.clone());
        tx.record(event).await?;
        tx.commit().await?;
        Ok(removed)
    }

    /// Authenticates the client of a token, revocation or introspection
    /// request as it registered to: `client_secret_basic`,
    /// `client_secret_post`, or `none` (public clients: `client_id` only,
    /// and a secret presented is refused). The client, or the refusal and
    /// whether to tell it `invalid_request` (two methods at once) or
    /// `invalid_client`; a store failure is [`OidcError::Internal`].
    pub(crate) async fn authenticate_client(
        &self,
        params: &OidcParams,
        credentials: &ClientCredentials,
    ) -> Result<OidcClient, (Refusal, OidcError)> {
        if let Some(assertion) = crate::oidc::assertion::presented(params, credentials)? {
            return self.authenticate_by_assertion(params, assertion).await;
        }
        let told = |(reason, error): (Refusal, OAuthError)| (reason, OidcError::OAuth(error));
        let (client_id, secret, method) = presented(params, credentials).map_err(told)?;
        let unknown = (Refusal::OidcUnknownClient, OAuthError::InvalidClient);
        if client_id.len() > crate::oidc::params::bound("client_id") {
            return Err(told(unknown));
        }
        let found = async {
            let mut tx = self.kernel.store.read().await?;
            tx.oidc_client(client_id).await
        };
        let client = found
            .await
            .map_err(|e| (Refusal::OidcUnknownClient, OidcError::from(e)))?
            .ok_or(told(unknown))?;
        let failed = (Refusal::OidcClientAuthFailed, OAuthError::InvalidClient);
        if client.auth_method != method {
            return Err(told(failed));
        }
        match (&client.secret_hash, secret) {
            (None, None) if client.public => Ok(client),
            (Some(kept), Some(secret))
                if secret.len() <= crate::oidc::params::bound("client_secret")
                    && aws_lc_rs::constant_time::verify_slices_are_equal(
                        kept,
                        &hash_token(secret),
                    )
                    .is_ok() =>
            {
                Ok(client)
            }
            _ => Err(told(failed)),
        }
    }
}

/// A client's JWK Set, checked and kept as only the public members
/// keybound_jose reads: `{"keys": [...]}` with 1 to [`MAX_CLIENT_KEYS`]
/// keys, none private, each usable for verification. `None` if not.
fn client_jwks(text: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    let keys = value.get("keys")?.as_array()?;
    if keys.is_empty() || keys.len() > MAX_CLIENT_KEYS {
        return None;
    }
    let parsed: Option<Vec<serde_json::Value>> = keys
        .iter()
        .map(|k| keybound_jose::Jwk::parse(k).ok().map(|j| j.to_json()))
        .collect();
    Some(serde_json::json!({ "keys": parsed? }).to_string())
}

/// The `client_id`, secret and method a request presents: `Authorization:
/// Basic`, `client_secret` in the form, or `client_id` alone (`none`).
/// Two methods at once, or a form `client_id` that differs from the
/// header's: `invalid_request`.
fn presented<'a>(
    params: &'a OidcParams,
    credentials: &'a ClientCredentials,
) -> Result<(&'a str, Option<&'a str>, &'static str), (Refusal, OAuthError)> {
    let malformed = |r| (r, OAuthError::InvalidRequest);
    let form_id = params.get("client_id").map_err(malformed)?;
    let form_secret = params.get("client_secret").map_err(malformed)?;
    match (&credentials.basic, form_secret) {
        (Some(_), Some(_)) => Err(malformed(Refusal::OidcMalformedRequest)),
        (Some((id, secret)), None) => {
            if form_id.is_some_and(|f| f != id) {
                return Err(malformed(Refusal::OidcMalformedRequest));
            }
            Ok((id.as_str(), Some(secret.as_str()), "client_secret_basic"))
        }
        (None, Some(secret)) => Ok((
            form_id.ok_or(malformed(Refusal::OidcMalformedRequest))?,
            Some(secret),
            "client_secret_post",
        )),
        (None, None) => Ok((
            form_id.ok_or((Refusal::OidcUnknownClient, OAuthError::InvalidClient))?,
            None,
            "none",
        )),
    }
}
