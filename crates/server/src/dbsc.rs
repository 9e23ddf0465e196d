//! Device Bound Session Credentials over HTTP (W3C DBSC; issue 16): the
//! registration header sent with every new session cookie, the
//! registration endpoint `/dbsc/start`, the refresh endpoint
//! `/dbsc/refresh`, and the gate that turns away a bound session's cookie
//! arriving without its live bound cookie.
//!
//! Chromium drives all of it (`Secure-Session-Registration` →
//! `Secure-Session-Response` → session config JSON; later
//! `Sec-Secure-Session-Id` → 403 `Secure-Session-Challenge` → proof →
//! new bound cookie). The browser makes these requests itself, without
//! `Origin` from our pages, so `/dbsc/*` is not behind the same-origin
//! guard: the challenge (made for this session, single use) and the key
//! proof protect them, and nothing but the session's own binding changes.
//!
//! Status codes follow what the browser does with them: 200 with the
//! config (bound cookie renewed), 403 with a fresh challenge (try again
//! with it), any other 4xx (forget the device-bound session: its session
//! ended or the key cannot be proven), 429 (skip for now).

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{CACHE_CONTROL, COOKIE, SET_COOKIE};
use axum::http::{Extensions, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use keybound_service::{DbscBound, DbscGate, Refusal, ServiceError, BOUND_COOKIE};
use serde_json::json;

use crate::client::context;
use crate::reply::from_service;
use crate::{cookies, AppState};

/// Where the browser registers a session key.
pub(crate) const START: &str = "/dbsc/start";
/// Where the browser renews the bound cookie.
pub(crate) const REFRESH: &str = "/dbsc/refresh";

/// The header a registration or refresh proof arrives in.
const RESPONSE: &str = "secure-session-response";
/// The header naming the device-bound session at refresh.
const SESSION_ID: &str = "sec-secure-session-id";

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route(START, post(start))
        .route(REFRESH, post(refresh))
}

/// The value of `Secure-Session-Registration` for a new session cookie:
/// the algorithms a session key may use, where to register, and a
/// challenge made for this session.
pub(crate) fn registration_header(state: &AppState, session_cookie: &str) -> Option<HeaderValue> {
    let challenge = state.service.dbsc_offer(session_cookie);
    HeaderValue::from_str(&format!(
        "(ES256 RS256);path=\"{START}\";challenge=\"{challenge}\""
    ))
    .ok()
}

/// A structured-field string (`"…"`) or a bare token, as browsers have
/// sent both: the text inside, when it is plain printable ASCII.
fn sf_text(headers: &HeaderMap, name: &str) -> Option<String> {
    let raw = headers.get(name)?.to_str().ok()?.trim();
    let inner = raw
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .unwrap_or(raw);
    (!inner.is_empty()
        && inner
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\'))
    .then(|| inner.to_owned())
}

/// The bound cookie's attributes, exactly as the session config names
/// them (the browser matches the cookie it is given against them).
fn bound_attributes(state: &AppState) -> String {
    let mut attributes = "Path=/; HttpOnly; SameSite=Lax".to_owned();
    if let Some(domain) = state.cookie_domain.as_deref() {
        attributes.push_str(&format!("; Domain={domain}"));
    }
    if state.secure_cookies {
        attributes.push_str("; Secure");
    }
    attributes
}

/// 200: the session config (DBSC "session instructions") and the renewed
/// bound cookie.
fn bound_reply(state: &AppState, bound: &DbscBound) -> Response {
    let attributes = bound_attributes(state);
    let config = json!({
        "session_identifier": bound.id,
        "refresh_url": REFRESH,
        "scope": {"include_site": false},
        "credentials": [{"type": "cookie", "name": BOUND_COOKIE, "attributes": attributes}],
    });
    let mut response = (StatusCode::OK, Json(config)).into_response();
    let cookie = format!(
        "{BOUND_COOKIE}={}; Max-Age={}; {attributes}",
        bound.bound_cookie, bound.max_age_s
    );
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        headers.append(SET_COOKIE, v);
    }
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Any other 4xx: the browser forgets the device-bound session.
fn refused(e: &ServiceError) -> Response {
    match e {
        ServiceError::Rejected(_) | ServiceError::NotFound => crate::access::refused(
            (StatusCode::UNAUTHORIZED, "device-bound session refused").into_response(),
            crate::access::service_refusal(e),
        ),
        _ => from_service(e),
    }
}

async fn start(
    State(state): State<AppState>,
    headers: HeaderMap,
    extensions: Extensions,
) -> Response {
    let ctx = context(&state, &headers, &extensions);
    let (Some(session), Some(proof)) = (
        cookies::get(&headers, cookies::SESSION).filter(|c| cookies::is_minted(c)),
        sf_text(&headers, RESPONSE),
    ) else {
        return (StatusCode::BAD_REQUEST, "device-bound session refused").into_response();
    };
    if let Err(e) = state.service.admit(&ctx, None).await {
        return from_service(&e);
    }
    match state.service.dbsc_register(&session, &proof, &ctx).await {
        Ok(bound) => bound_reply(&state, &bound),
        Err(e) => refused(&e),
    }
}

/// 403 with a fresh challenge for the binding `id`, or the refusal that
/// ends it in the browser.
async fn challenge(state: &AppState, id: &str) -> Response {
    match state.service.dbsc_refresh_challenge(id).await {
        Ok(challenge) => {
            let mut response = (StatusCode::FORBIDDEN, "prove the session key").into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("\"{challenge}\";id=\"{id}\"")) {
                response.headers_mut().insert("secure-session-challenge", v);
            }
            response
        }
        Err(e) => refused(&e),
    }
}

async fn refresh(
    State(state): State<AppState>,
    headers: HeaderMap,
    extensions: Extensions,
) -> Response {
    let Some(id) = sf_text(&headers, SESSION_ID) else {
        return (StatusCode::BAD_REQUEST, "device-bound session refused").into_response();
    };
    let Some(proof) = sf_text(&headers, RESPONSE) else {
        return challenge(&state, &id).await;
    };
    let ctx = context(&state, &headers, &extensions);
    if let Err(e) = state.service.admit(&ctx, None).await {
        return from_service(&e);
    }
    let session = cookies::get(&headers, cookies::SESSION).filter(|c| cookies::is_minted(c));
    match state
        .service
        .dbsc_refresh(&id, session.as_deref(), &proof, &ctx)
        .await
    {
        Ok(bound) => bound_reply(&state, &bound),
        // A stale or spent challenge: answer with a fresh one, as the
        // specification expects (late proofs happen).
        Err(ServiceError::Rejected(
            Refusal::DbscChallengeExpired
            | Refusal::DbscChallengeReplayed
            | Refusal::DbscChallengeInvalid,
        )) => challenge(&state, &id).await,
        Err(e) => refused(&e),
    }
}

/// Turns away a bound session's cookie that arrives without its live bound
/// cookie: the request goes on as signed out (the session cookie is taken
/// out of it). Forward-auth checks the same in its cache, and `/dbsc/*`
/// is where the bound cookie is renewed, so neither passes here; nor do
/// the static assets.
///
/// A page (a 200 HTML answer to a GET) shown to a live session that is not
/// bound carries the registration header again: the one sent with the
/// session cookie answers a `fetch` that the page follows with a
/// navigation at once, and Chromium may drop a registration whose page
/// went away (seen in the browser test).
pub(crate) async fn gate(
    State(state): State<AppState>,
    mut request: Request<Body>,
    next: Next,
) -> Response {
    let path = request.uri().path();
    let exempt = path.starts_with("/dbsc/")
        || path.starts_with("/api/authz/")
        || path.starts_with("/assets/")
        || path == "/healthz"
        || path == "/readyz";
    if !exempt {
        if let Some(session) = cookies::get(request.headers(), cookies::SESSION) {
            let bound = cookies::get(request.headers(), BOUND_COOKIE);
            // One read answers both questions: whether the session may
            // act, and (for a GET, which may turn out to be a page) whether
            // it is young and unbound enough to be invited to bind.
            let page = request.method() == axum::http::Method::GET;
            let gate = match state
                .service
                .dbsc_gate(&session, bound.as_deref(), page)
                .await
            {
                Ok(gate) => gate,
                Err(e) => return from_service(&e),
            };
            if !gate.admits() {
                strip_session(request.headers_mut());
                return next.run(request).await;
            }
            let mut response = next.run(request).await;
            let html = response
                .headers()
                .get(axum::http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("text/html"));
            if html
                && response.status() == StatusCode::OK
                && gate == (DbscGate::Unbound { invite: true })
            {
                if let Some(header) = registration_header(&state, &session) {
                    response
                        .headers_mut()
                        .insert("secure-session-registration", header);
                }
            }
            return response;
        }
    }
    next.run(request).await
}

/// Rewrites the `Cookie` headers without the session cookie.
fn strip_session(headers: &mut HeaderMap) {
    let kept: Vec<String> = headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .map(str::trim)
        .filter(|pair| {
            pair.split_once('=')
                .is_none_or(|(k, _)| k != cookies::SESSION)
        })
        .map(str::to_owned)
        .collect();
    headers.remove(COOKIE);
    if let Ok(v) = HeaderValue::from_str(&kept.join("; ")) {
        headers.insert(COOKIE, v);
    }
}
