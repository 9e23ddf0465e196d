//! One span and one access-log line per request, and the HTTP metrics.
//!
//! The span (`request`) carries the request id, method and route, and the
//! identity once the service knows it (a session resolved, a ceremony
//! finished); every line logged while the request runs, the use cases'
//! audit lines included, sits inside it. When the response is ready, one
//! line at `info` with target `keybound::access` records method, route,
//! status, latency and the client address, and for a refused request why
//! (`refusal`: a refusal reason or a service error's name, from fixed
//! tables), so a refusal that left no audit event still reaches the log.
//!
//! Nothing here is taken from the client as given: the route is the
//! matched route's template (`/me/credentials/{id}/rename`), never the
//! path or query (an invitation link carries its token in the query), and
//! a request without a matched route is `unmatched`. An inbound
//! `X-Request-Id` is kept only from a trusted proxy (`--trusted-proxy`)
//! and only when it is short and printable ([`inbound_id`]): any client
//! could otherwise give its request the id of someone else's and muddle
//! the log. Every other request gets a fresh id, and a sane id sent by an
//! untrusted client is logged beside it as `client_request_id`, never
//! echoed. Metric labels are the route template, a method from a fixed
//! list and the status class.

use std::net::IpAddr;
use std::time::Instant;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use keybound_service::ServiceError;
use tracing::Instrument;

use crate::client::{client_address, TrustedProxies};
use crate::AppState;

/// The header a request id arrives and leaves in.
pub(crate) const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest inbound request id kept, bytes: a UUID is 36, a W3C trace id 32.
pub const MAX_REQUEST_ID: usize = 64;

/// Request latency by `route`, `method` and `status` class (a histogram,
/// seconds).
pub const DURATION_METRIC: &str = "keybound_http_request_duration_seconds";
/// Requests refused with 429 Too Many Requests, by `route` (a counter).
pub const RATE_LIMITED_METRIC: &str = "keybound_http_rate_limited_total";

/// The route label of a request no route matched.
pub const UNMATCHED: &str = "unmatched";

/// Why a response refuses its request, for the access line.
#[derive(Debug, Clone, Copy)]
struct Refused(&'static str);

/// Marks `response` as a refusal for `why` (a stable snake_case name).
pub(crate) fn refused(mut response: Response, why: &'static str) -> Response {
    response.extensions_mut().insert(Refused(why));
    response
}

/// A service error's name in the access log: the refusal reason, or the
/// kind of error.
pub(crate) fn service_refusal(e: &ServiceError) -> &'static str {
    match e {
        ServiceError::Rejected(reason) | ServiceError::UnknownCredential(reason) => reason.reason(),
        ServiceError::ConfirmationRequired => "confirmation_required",
        ServiceError::StepUpRequired => "step_up_required",
        ServiceError::Forbidden => "forbidden",
        ServiceError::NotFound => "not_found",
        ServiceError::RateLimited { .. } => "rate_limited",
        ServiceError::Internal(_) => "internal",
    }
}

/// An inbound request id, if it is 1 to [`MAX_REQUEST_ID`] bytes of
/// printable ASCII without spaces (what proxies and tracers send); anything
/// else (control characters, quotes for a log parser, a megabyte) is not
/// logged and not echoed.
pub(crate) fn inbound_id(value: &HeaderValue) -> Option<&str> {
    let bytes = value.as_bytes();
    let sane = !bytes.is_empty()
        && bytes.len() <= MAX_REQUEST_ID
        && bytes
            .iter()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'"' | b'\\'));
    sane.then(|| value.to_str().ok()).flatten()
}

/// A fresh id: 16 random bytes, hex.
fn fresh_id(state: &AppState) -> String {
    let bytes = state.service.random_bytes();
    bytes.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// The request's id and, when an untrusted client sent one, the id it
/// sent (to log, not to use): a sane inbound id (`sent`) is the request's
/// own only when the socket peer is a trusted proxy.
fn request_ids(
    peer: Option<IpAddr>,
    trusted: &TrustedProxies,
    sent: Option<String>,
    fresh: impl FnOnce() -> String,
) -> (String, Option<String>) {
    match sent {
        Some(sent) if peer.is_some_and(|ip| trusted.contains(ip)) => (sent, None),
        sent => (fresh(), sent),
    }
}

/// A method label from a fixed list.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        _ => "other",
    }
}

/// `2xx`, `4xx`…
fn status_class(status: StatusCode) -> &'static str {
    match status.as_u16() {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// The middleware: see the module documentation.
pub(crate) async fn observe(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let peer = request
        .extensions()
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    let sent = request
        .headers()
        .get(REQUEST_ID)
        .and_then(inbound_id)
        .map(str::to_owned);
    let (id, client_request_id) =
        request_ids(peer, &state.trusted_proxies, sent, || fresh_id(&state));
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_else(|| UNMATCHED.to_owned());
    let method = method_label(request.method());
    let client =
        client_address(peer, request.headers(), &state.trusted_proxies).map(|ip| ip.to_string());
    let span = tracing::info_span!(
        target: "keybound::http",
        "request",
        request_id = %id,
        client_request_id = client_request_id.as_deref(),
        method,
        route = %route,
        identity = tracing::field::Empty,
    );
    let mut response = next.run(request).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    let status = response.status();
    let refusal = response.extensions().get::<Refused>().map(|r| r.0);
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    span.in_scope(|| {
        tracing::info!(
            target: "keybound::access",
            request_id = %id,
            client_request_id = client_request_id.as_deref(),
            method,
            route = %route,
            status = status.as_u16(),
            latency_ms = elapsed.as_secs_f64() * 1000.0,
            client = client.as_deref(),
            refusal,
            "request"
        );
    });
    let class = status_class(status);
    metrics::histogram!(
        DURATION_METRIC,
        "route" => route.clone(),
        "method" => method,
        "status" => class
    )
    .record(elapsed.as_secs_f64());
    if status == StatusCode::TOO_MANY_REQUESTS {
        metrics::counter!(RATE_LIMITED_METRIC, "route" => route).increment(1);
    }
    response
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn only_short_printable_ids_are_taken() {
        let take = |s: &[u8]| {
            HeaderValue::from_bytes(s)
                .ok()
                .as_ref()
                .and_then(inbound_id)
                .map(str::to_owned)
        };
        assert_eq!(take(b"abc-123").as_deref(), Some("abc-123"));
        assert_eq!(
            take(&[b'a'; MAX_REQUEST_ID]).map(|s| s.len()),
            Some(MAX_REQUEST_ID)
        );
        assert_eq!(take(&[b'a'; MAX_REQUEST_ID + 1]), None);
        assert_eq!(take(b"a b"), None);
        assert_eq!(take(b"a\tb"), None);
        assert_eq!(take(b"a\"b"), None);
        assert_eq!(take(b"caf\xc3\xa9"), None);
        assert_eq!(take(b""), None);
    }

    #[test]
    fn only_a_trusted_proxy_names_the_request() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let client: IpAddr = "192.0.2.7".parse().unwrap();
        let trusted: TrustedProxies = "10.0.0.0/8".parse().unwrap();
        let ids = |peer, sent: Option<&str>| {
            request_ids(peer, &trusted, sent.map(str::to_owned), || "fresh".into())
        };
        assert_eq!(ids(Some(proxy), Some("abc")), ("abc".into(), None));
        assert_eq!(
            ids(Some(client), Some("abc")),
            ("fresh".into(), Some("abc".into()))
        );
        assert_eq!(ids(None, Some("abc")), ("fresh".into(), Some("abc".into())));
        assert_eq!(ids(Some(proxy), None), ("fresh".into(), None));
        assert_eq!(ids(Some(client), None), ("fresh".into(), None));
    }

    #[test]
    fn labels_are_fixed() {
        assert_eq!(method_label(&Method::from_bytes(b"BREW").unwrap()), "other");
        assert_eq!(status_class(StatusCode::TOO_MANY_REQUESTS), "4xx");
        assert_eq!(status_class(StatusCode::OK), "2xx");
    }
}
