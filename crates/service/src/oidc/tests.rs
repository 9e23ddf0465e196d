use super::claims::{acr, amr, granted_scope, tier_for_acr_values};
use super::clients::valid_redirect_uri;
use super::params::{bound, OidcParams};
use super::*;

/// docs/manual/oidc.md promises exactly this mapping.
#[test]
fn acr_and_amr_follow_the_tier_and_user_verification() {
    assert_eq!(acr(1), "phr");
    assert_eq!(acr(2), "phr");
    assert_eq!(acr(3), "phrh");
    assert_eq!(amr(1, false), ["pop", "swk", "user"]);
    assert_eq!(amr(1, true), ["pop", "swk", "user", "mfa"]);
    assert_eq!(amr(2, false), ["pop", "hwk", "user"]);
    assert_eq!(amr(3, true), ["pop", "hwk", "user", "mfa"]);
    assert_eq!(tier_for_acr_values("phrh"), Some(3));
    assert_eq!(tier_for_acr_values("phrh phr"), Some(1));
    assert_eq!(tier_for_acr_values("urn:other phrh"), Some(3));
    assert_eq!(tier_for_acr_values("urn:other"), None);
    assert_eq!(tier_for_acr_values(""), None);
}

#[test]
fn only_known_scopes_are_granted_once_each() {
    assert_eq!(
        granted_scope("openid email profile openid"),
        "openid profile"
    );
    assert_eq!(
        granted_scope("groups  offline_access"),
        "groups offline_access"
    );
    assert_eq!(granted_scope("email"), "");
}

/// RFC 7636 Appendix B.
#[test]
fn pkce_s256_matches_the_rfc_vector() {
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    assert_eq!(
        s256(verifier),
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    );
    assert!(pkce_syntax(verifier, 43));
    assert!(!pkce_syntax("short", 43));
    assert!(!pkce_syntax(&"a".repeat(129), 43));
    assert!(!pkce_syntax(&format!("{verifier}+"), 43));
}

#[test]
fn redirect_uris_are_absolute_https_or_loopback_http_without_fragment() {
    for good in [
        "https://app.test/cb",
        "https://app.test:8443/cb?x=1",
        "http://127.0.0.1:9/cb",
        "http://[::1]/cb",
        "http://localhost:3000/cb",
    ] {
        assert!(valid_redirect_uri(good), "{good}");
    }
    for bad in [
        "http://app.test/cb",
        "https://app.test/cb#frag",
        "https://app.test/cb#",
        "/cb",
        "app.test/cb",
        "javascript:alert(1)",
        "https://user:pw@app.test/cb",
        "ftp://app.test/cb",
        "",
    ] {
        assert!(!valid_redirect_uri(bad), "{bad}");
    }
    assert!(!valid_redirect_uri(&format!(
        "https://app.test/{}",
        "a".repeat(bound("redirect_uri"))
    )));
}

#[test]
fn parameters_sent_twice_or_past_their_bound_are_refused() {
    let params = OidcParams::parse(b"a=1&b=&c=x&c=y&state=ok");
    assert_eq!(params.get("a"), Ok(Some("1")));
    assert_eq!(params.get("b"), Ok(None), "empty is absent");
    assert_eq!(params.get("missing"), Ok(None));
    assert_eq!(params.get("c"), Err(Refusal::OidcMalformedRequest));
    assert_eq!(params.require("b"), Err(Refusal::OidcMalformedRequest));
    assert!(!params.any_oversized());
    let long = format!("state={}", "s".repeat(bound("state") + 1));
    let params = OidcParams::parse(long.as_bytes());
    assert_eq!(params.get("state"), Err(Refusal::OidcOversizedParameter));
    assert!(params.any_oversized());
    let many: String = (0..65).map(|i| format!("p{i}=1&")).collect();
    assert!(OidcParams::parse(many.as_bytes()).any_oversized());
    // Control characters (a NUL fails PostgreSQL's insert) are malformed.
    for bad in ["nonce=a%00b", "state=%0d%0aSet-Cookie", "nonce=%7f"] {
        let params = OidcParams::parse(bad.as_bytes());
        let name = bad.split('=').next().unwrap();
        assert_eq!(
            params.get(name),
            Err(Refusal::OidcMalformedRequest),
            "{bad}"
        );
    }
    assert_eq!(
        OidcParams::parse(b"nonce=a%20b").get("nonce"),
        Ok(Some("a b"))
    );
}

#[test]
fn every_error_code_is_the_rfcs_spelling() {
    assert_eq!(OAuthError::InvalidGrant.code(), "invalid_grant");
    assert_eq!(OAuthError::InvalidClient.code(), "invalid_client");
    assert_eq!(OAuthError::LoginRequired.code(), "login_required");
}

#[test]
fn refusals_are_audited_up_to_a_limit_per_address_and_minute() {
    let mut window = super::RefusalWindow::default();
    let limit = super::AUDITED_REFUSALS_PER_MINUTE;
    for _ in 0..limit {
        assert!(window.admit(Some("192.0.2.1"), 60_000));
    }
    assert!(!window.admit(Some("192.0.2.1"), 60_001), "past the limit");
    assert!(
        window.admit(Some("192.0.2.2"), 60_002),
        "another address has its own"
    );
    assert!(
        window.admit(Some("192.0.2.1"), 120_000),
        "a new minute starts again"
    );
}
