//! Security headers on every response: the pages load script and style only
//! from this origin, cannot be framed, and never leak their address (an
//! invitation link carries its token) in a Referer.

use axum::extract::Request;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY,
    STRICT_TRANSPORT_SECURITY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

/// No inline script or style anywhere: everything comes from `/assets/`.
pub(crate) const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; \
     base-uri 'none'";

const FIXED: [(HeaderName, &str); 5] = [
    (CONTENT_SECURITY_POLICY, CSP),
    (X_FRAME_OPTIONS, "DENY"),
    (X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (REFERRER_POLICY, "no-referrer"),
    (
        HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    ),
];

/// Adds the fixed headers, and `Cache-Control: no-store` unless the handler
/// chose caching (static assets): pages show personal data and tokens.
pub(crate) async fn secure(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in FIXED {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if !headers.contains_key(CACHE_CONTROL) {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    // A page asks for the high-entropy client hints, so the sign-in the
    // page makes next (a device proof) carries the platform version and
    // the full browser version (issue 16 posture). No Critical-CH: the
    // page itself does not depend on them, and a retry costs a round trip.
    let html = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/html"));
    if html {
        headers.insert(
            HeaderName::from_static("accept-ch"),
            HeaderValue::from_static(crate::client::ACCEPT_CH),
        );
    }
    response
}

/// Two years, without `includeSubDomains` or `preload`: those commit every
/// other host of the domain to https, which is the domain owner's choice,
/// not this server's.
pub(crate) const HSTS: &str = "max-age=63072000";

/// Whether a node for `config` is reached on this machine only: its RP ID
/// is `localhost` (or under it), or an origin's host is a loopback name
/// or address. Such a node gets no HSTS: browsers that honour it for
/// `localhost` would then force https on every other local port (a
/// developer's other servers) for two years.
pub(crate) fn is_local(config: &keybound_service::Config) -> bool {
    local_host(&config.rp_id)
        || config
            .origins
            .origins()
            .iter()
            .any(|origin| local_host(origin_host(origin)))
}

/// The host of `scheme://host[:port][/…]`, IPv6 brackets removed.
fn origin_host(origin: &str) -> &str {
    let rest = origin.split_once("://").map_or(origin, |(_, rest)| rest);
    let authority = rest.split('/').next().unwrap_or(rest);
    match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(v6),
        None => authority.split(':').next().unwrap_or(authority),
    }
}

fn local_host(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == "localhost"
        || host.ends_with(".localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// `Strict-Transport-Security` on every response, when this process serves
/// https itself (behind a proxy, the proxy that terminates TLS sets it) and
/// is not [local](is_local).
pub(crate) async fn strict_transport(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    response
        .headers_mut()
        .insert(STRICT_TRANSPORT_SECURITY, HeaderValue::from_static(HSTS));
    response
}

#[cfg(test)]
mod tests {
    use super::{local_host, origin_host};

    #[test]
    fn origin_hosts_and_which_are_local() {
        assert_eq!(origin_host("https://kb.test"), "kb.test");
        assert_eq!(origin_host("http://localhost:8080"), "localhost");
        assert_eq!(origin_host("https://[::1]:8443/"), "::1");
        assert_eq!(origin_host("https://127.0.0.1"), "127.0.0.1");
        for local in [
            "localhost",
            "LocalHost.",
            "app.localhost",
            "127.0.0.2",
            "::1",
        ] {
            assert!(local_host(local), "{local}");
        }
        for remote in ["kb.test", "localhost.example", "10.0.0.1", "::2", ""] {
            assert!(!local_host(remote), "{remote}");
        }
    }
}
