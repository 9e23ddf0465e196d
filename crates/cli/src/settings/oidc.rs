//! The OpenID Connect provider: its issuer, token lifetimes and whether it
//! hands out refresh tokens. `serve` applies them (discovery, the tokens).

use clap::{ArgAction, Args};
use keybound_service::Config;
use serde::{Deserialize, Serialize};

use super::values::Bounded;

/// Seconds an access token lives: at least one, at most a day.
type AccessLifetime = Bounded<1, 86_400>;
/// Seconds a refresh token lives: at least a minute, at most a year.
type RefreshLifetime = Bounded<60, 31_536_000>;

/// OpenID Connect provider settings.
#[derive(Args, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
#[command(next_help_heading = "OpenID Connect")]
pub(crate) struct OidcSettings {
    /// The issuer (`iss`) of ID and access tokens, and the base URL of the
    /// OIDC endpoints; default: the first origin.
    #[arg(long, env = "KEYBOUND_OIDC_ISSUER", value_name = "URL")]
    oidc_issuer: Option<String>,
    /// Seconds an access token is good for.
    #[arg(
        long,
        env = "KEYBOUND_OIDC_ACCESS_TOKEN_LIFETIME",
        value_name = "SECONDS",
        default_value = "300"
    )]
    oidc_access_token_lifetime: Option<AccessLifetime>,
    /// Hand out refresh tokens (rotated on every use; a reused one revokes
    /// its whole family).
    #[arg(long, env = "KEYBOUND_OIDC_REFRESH_TOKENS", action = ArgAction::SetTrue)]
    oidc_refresh_tokens: Option<bool>,
    /// Seconds a refresh token is good for (each exchange starts anew).
    #[arg(
        long,
        env = "KEYBOUND_OIDC_REFRESH_TOKEN_LIFETIME",
        value_name = "SECONDS",
        default_value = "86400"
    )]
    oidc_refresh_token_lifetime: Option<RefreshLifetime>,
}

/// Whether `issuer` can be one: an absolute https URL (http only on a
/// loopback host), without query or fragment (OIDC Discovery §3).
fn valid_issuer(issuer: &str) -> bool {
    let Ok(url) = url::Url::parse(issuer) else {
        return false;
    };
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    url.query().is_none()
        && url.fragment().is_none()
        && !issuer.contains(['?', '#'])
        && (url.scheme() == "https" || (url.scheme() == "http" && loopback))
}

impl OidcSettings {
    /// Sets what is set; the rest keeps the service's defaults (the
    /// issuer is then the first origin).
    pub(crate) fn apply(&self, config: &mut Config) -> Result<(), String> {
        let oidc = &mut config.oidc;
        if let Some(issuer) = &self.oidc_issuer {
            if !valid_issuer(issuer) {
                return Err(format!(
                    "--oidc-issuer {issuer:?}: expected an https URL (http only on loopback) \
                     without query or fragment"
                ));
            }
            oidc.issuer = issuer.trim_end_matches('/').to_owned();
        }
        if let Some(s) = self.oidc_access_token_lifetime {
            oidc.access_token_ttl_s = i64::try_from(s.get()).unwrap_or(300);
        }
        if let Some(on) = self.oidc_refresh_tokens {
            oidc.refresh_tokens = on;
        }
        if let Some(s) = self.oidc_refresh_token_lifetime {
            oidc.refresh_token_ttl_s = i64::try_from(s.get()).unwrap_or(86_400);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::valid_issuer;

    #[test]
    fn issuers_are_https_or_loopback_http_without_query() {
        for good in [
            "https://id.example",
            "https://id.example/kb",
            "http://127.0.0.1:8080",
        ] {
            assert!(valid_issuer(good), "{good}");
        }
        for bad in [
            "http://id.example",
            "https://id.example/?x=1",
            "https://id.example/#f",
            "id.example",
            "",
        ] {
            assert!(!valid_issuer(bad), "{bad}");
        }
    }
}
