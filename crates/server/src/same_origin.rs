//! Requests that change state must come from our own pages or from a
//! client that is not a browser (login CSRF, item 9 of the hardening).
//!
//! A browser says where a request comes from: `Sec-Fetch-Site` (every
//! current browser; a page cannot set or remove it) and `Origin` (on every
//! POST; `null` from our pages under `Referrer-Policy: no-referrer`, which
//! is why `Sec-Fetch-Site` is asked first). So:
//!
//! - `Sec-Fetch-Site` present: only `same-origin` passes (`same-site` is a
//!   sibling subdomain, which could also have planted cookies);
//! - otherwise `Origin` present: only one of the configured origins passes;
//! - neither: not a browser (the FIDO conformance tools, `keybound-load`,
//!   curl). Such a request carries only the cookies its own client chose,
//!   so it cannot act in someone else's browser; it passes.
//!
//! Login CSRF without either header would need a browser too old to send
//! them *and* a ceremony cookie planted in it: the ceremony cookie is
//! `SameSite=Strict` and a challenge is never bound to an empty or absent
//! one, so a cross-site answer matches no challenge.
//!
//! The JSON API also requires `Content-Type: application/json`: an HTML
//! form cannot send it, and a cross-origin `fetch` with it needs a CORS
//! preflight that keybound never grants.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::reply::failed;
use crate::AppState;

/// Whether a state-changing request came from somewhere other than our own
/// pages (see the module documentation).
pub(crate) fn cross_site(state: &AppState, headers: &HeaderMap) -> bool {
    let header = |name: &str| headers.get(name).map(|v| v.to_str().unwrap_or(""));
    if let Some(site) = header("sec-fetch-site") {
        return site != "same-origin";
    }
    match header("origin") {
        Some(origin) => !state
            .service
            .config()
            .origins
            .origins()
            .iter()
            .any(|o| o == origin),
        None => false,
    }
}

/// Extracts nothing; refuses a cross-site request with 403.
pub(crate) struct SameOrigin;

impl FromRequestParts<AppState> for SameOrigin {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        if cross_site(state, &parts.headers) {
            return Err(failed(StatusCode::FORBIDDEN, "not allowed"));
        }
        Ok(SameOrigin)
    }
}

/// The body of a same-origin `application/json` request: 403 when cross
/// site, 415 for any other content type, 413 above the body limit.
pub(crate) struct JsonBody(pub Bytes);

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}

impl FromRequest<AppState> for JsonBody {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        if cross_site(state, request.headers()) {
            return Err(failed(StatusCode::FORBIDDEN, "not allowed"));
        }
        if !is_json(request.headers()) {
            return Err(failed(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "expected application/json",
            ));
        }
        Bytes::from_request(request, state)
            .await
            .map(JsonBody)
            .map_err(IntoResponse::into_response)
    }
}
