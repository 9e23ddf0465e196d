//! The discovery document (OpenID Connect Discovery 1.0 §3): where every
//! endpoint is and what the provider supports, so a relying party library
//! configures itself from the issuer alone.

use serde_json::{json, Value};

use crate::oidc::claims::{ACR_VALUES, SCOPES};
use crate::oidc::clients::AUTH_METHODS;
use crate::oidc::signing;
use crate::Service;

impl Service {
    /// `/.well-known/openid-configuration`.
    pub fn oidc_discovery(&self) -> Value {
        let issuer = &self.config.oidc.issuer;
        let at = |path: &str| format!("{issuer}{path}");
        let mut grants = vec!["authorization_code"];
        if self.config.oidc.refresh_tokens {
            grants.push("refresh_token");
        }
        // Agents trade their proof for a task token (RFC 8693, issue 18).
        grants.push(crate::agents::TOKEN_EXCHANGE);
        let assertion_algs: Vec<&str> = crate::oidc::assertion::ALGORITHMS
            .iter()
            .map(|a| a.as_str())
            .collect();
        let dpop_algs: Vec<&str> = keybound_jose::DPOP_ALGORITHMS
            .iter()
            .map(|a| a.as_str())
            .collect();
        let acr: Vec<&str> = ACR_VALUES.iter().map(|(name, _)| *name).collect();
        json!({
            "issuer": issuer,
            "authorization_endpoint": at("/oauth2/authorize"),
            "token_endpoint": at("/oauth2/token"),
            "userinfo_endpoint": at("/oauth2/userinfo"),
            "jwks_uri": at("/oauth2/jwks"),
            "revocation_endpoint": at("/oauth2/revoke"),
            "introspection_endpoint": at("/oauth2/introspect"),
            "end_session_endpoint": at("/oauth2/logout"),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": grants,
            "subject_types_supported": ["public", "pairwise"],
            "id_token_signing_alg_values_supported": signing::ALGORITHMS,
            "scopes_supported": SCOPES,
            "claims_supported": [
                "iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr",
                "azp", "sid", "name", "preferred_username", "groups"
            ],
            "token_endpoint_auth_methods_supported": AUTH_METHODS,
            "revocation_endpoint_auth_methods_supported": AUTH_METHODS,
            "introspection_endpoint_auth_methods_supported":
                ["client_secret_basic", "client_secret_post", "private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": assertion_algs,
            "revocation_endpoint_auth_signing_alg_values_supported": assertion_algs,
            "introspection_endpoint_auth_signing_alg_values_supported": assertion_algs,
            "code_challenge_methods_supported": ["S256"],
            "acr_values_supported": acr,
            "prompt_values_supported": ["none", "login", "consent"],
            "claims_parameter_supported": false,
            "request_parameter_supported": false,
            "request_uri_parameter_supported": false,
            "authorization_response_iss_parameter_supported": true,
            "backchannel_logout_supported": true,
            "backchannel_logout_session_supported": true,
            "dpop_signing_alg_values_supported": dpop_algs,
        })
    }
}
