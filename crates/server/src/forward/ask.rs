//! Reading what a proxy asks: the original request from the headers each
//! proxy family sets, bounded and only from a trusted proxy.
//!
//! `X-Forwarded-*` and `X-Original-*` say which request is being decided
//! on; whoever can set them chooses the host and path the decision is
//! about. So they are read only from a peer among `--trusted-proxy`; from
//! any other peer forward-auth answers 403 (fail closed: a proxy that was
//! not declared gets no access for anyone, and says so in its log), never
//! a decision about a request the peer made up.

use axum::http::{HeaderMap, Method, Uri};
use keybound_service::forward::{Malformed, MAX_HOST, MAX_METHOD, MAX_URI};
use keybound_service::ForwardedRequest;

/// A header is missing, repeated, too long or not visible ASCII.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BadHeader;

impl From<Malformed> for BadHeader {
    fn from(_: Malformed) -> Self {
        BadHeader
    }
}

/// The one value of `name`, if present: at most `max` bytes of visible
/// ASCII (and spaces inside), sent once.
fn one<'h>(headers: &'h HeaderMap, name: &str, max: usize) -> Result<Option<&'h str>, BadHeader> {
    let mut values = headers.get_all(name).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() || value.len() > max {
        return Err(BadHeader);
    }
    let text = value.to_str().map_err(|_| BadHeader)?.trim();
    if text.bytes().any(|b| !b.is_ascii_graphic() && b != b' ') {
        return Err(BadHeader);
    }
    Ok(Some(text))
}

fn required<'h>(headers: &'h HeaderMap, name: &str, max: usize) -> Result<&'h str, BadHeader> {
    one(headers, name, max)?.ok_or(BadHeader)
}

/// nginx `auth_request`: `X-Original-URL` and `X-Original-Method` (GET
/// when absent, as nginx's subrequest is).
pub(crate) fn nginx(headers: &HeaderMap) -> Result<ForwardedRequest, BadHeader> {
    let url = required(headers, "x-original-url", MAX_URI + MAX_HOST + 8)?;
    let method = one(headers, "x-original-method", MAX_METHOD)?.unwrap_or("GET");
    Ok(ForwardedRequest::from_url(method, url)?)
}

/// Traefik ForwardAuth and Caddy `forward_auth`:
/// `X-Forwarded-Method/Proto/Host/Uri`, all required.
pub(crate) fn forwarded(headers: &HeaderMap) -> Result<ForwardedRequest, BadHeader> {
    let method = required(headers, "x-forwarded-method", MAX_METHOD)?;
    let scheme = required(headers, "x-forwarded-proto", 8)?;
    let host = required(headers, "x-forwarded-host", MAX_HOST)?;
    let uri = required(headers, "x-forwarded-uri", MAX_URI)?;
    Ok(ForwardedRequest::new(method, scheme, host, uri)?)
}

/// Envoy `ext_authz` (HTTP mode): the original method, `Host` and path
/// (what follows the route's prefix), the scheme from
/// `X-Forwarded-Proto` (Envoy sets it), `https` when absent.
pub(crate) fn envoy(
    method: &Method,
    uri: &Uri,
    prefix: &str,
    headers: &HeaderMap,
) -> Result<ForwardedRequest, BadHeader> {
    let host = required(headers, "host", MAX_HOST)?;
    let scheme = one(headers, "x-forwarded-proto", 8)?.unwrap_or("https");
    let full = uri.path_and_query().map_or("/", |p| p.as_str());
    let rest = full.strip_prefix(prefix).ok_or(BadHeader)?;
    let original = if rest.starts_with('/') {
        rest.to_owned()
    } else {
        format!("/{rest}")
    };
    Ok(ForwardedRequest::new(
        method.as_str(),
        scheme,
        host,
        &original,
    )?)
}

/// Whether the client that made the original request is a browser that
/// can follow a redirect to the sign-in page (it asked for HTML).
pub(crate) fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get_all(axum::http::header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.len() <= 1024 && v.contains("text/html"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(*k, HeaderValue::from_str(v).unwrap());
        }
        map
    }

    #[test]
    fn each_family_reads_its_headers() {
        let r = nginx(&headers(&[("x-original-url", "https://app.example/a?b")])).unwrap();
        assert_eq!(
            (r.method(), r.host(), r.path()),
            ("GET", "app.example", "/a")
        );
        let r = forwarded(&headers(&[
            ("x-forwarded-method", "POST"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "app.example"),
            ("x-forwarded-uri", "/x"),
        ]))
        .unwrap();
        assert_eq!(r.url(), "https://app.example/x");
        let uri: Uri = "/api/authz/ext-authz/p/q?r=1".parse().unwrap();
        let r = envoy(
            &Method::DELETE,
            &uri,
            "/api/authz/ext-authz",
            &headers(&[("host", "app.example")]),
        )
        .unwrap();
        assert_eq!((r.method(), r.uri()), ("DELETE", "/p/q?r=1"));
    }

    #[test]
    fn bad_headers_are_refused() {
        assert_eq!(nginx(&HeaderMap::new()), Err(BadHeader));
        assert_eq!(
            nginx(&headers(&[
                ("x-original-url", "https://a/"),
                ("x-original-url", "https://b/")
            ])),
            Err(BadHeader)
        );
        let long = format!("https://a/{}", "x".repeat(MAX_URI + MAX_HOST));
        assert_eq!(
            nginx(&headers(&[("x-original-url", &long)])),
            Err(BadHeader)
        );
        assert_eq!(
            nginx(&headers(&[
                ("x-original-url", "https://a/"),
                ("x-original-method", "G T")
            ])),
            Err(BadHeader)
        );
        assert_eq!(
            forwarded(&headers(&[("x-forwarded-method", "GET")])),
            Err(BadHeader)
        );
        let mut raw = HeaderMap::new();
        raw.insert(
            "x-original-url",
            HeaderValue::from_bytes(b"https://a/\xff").unwrap(),
        );
        assert_eq!(nginx(&raw), Err(BadHeader));
    }
}
