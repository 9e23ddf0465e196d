//! Forward-auth for real proxies, at the paths Authelia uses so proxy
//! configurations carry over. Thin: read the original request from the
//! proxy's headers (`ask.rs`), ask [`keybound_service::Service::forward_auth`],
//! and answer in the proxy family's terms:
//!
//! - `/api/authz/auth-request` (nginx `auth_request`): 200, 401 or 403,
//!   never a redirect (nginx would not pass it on); a 401 carries in
//!   `Location` where to send the browser, for `auth_request_set`;
//! - `/api/authz/forward-auth` (Traefik ForwardAuth, Caddy
//!   `forward_auth`) and `/api/authz/ext-authz/…` (Envoy `ext_authz`):
//!   a browser (it accepts `text/html`) is sent with 302 to sign in or step
//!   up and come back; an API client gets 401; a denial is 403.
//!
//! A granted request answers 200 with `Remote-User`, `Remote-Groups`,
//! `Remote-Name` and `Remote-Tier`, which the proxy copies onto the
//! request to the app (and strips from what the client sent).

mod ask;
pub(crate) mod return_url;

use axum::extract::{ConnectInfo, State};
use axum::http::{header, Extensions, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use keybound_service::{ForwardDecision, ForwardedRequest, Grant, Tier};

use crate::{client, cookies, AppState};

/// Envoy's route: the original path follows it.
const EXT_AUTHZ: &str = "/api/authz/ext-authz";

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/authz/auth-request", any(auth_request))
        .route("/api/authz/forward-auth", any(forward_auth))
        .route(EXT_AUTHZ, any(ext_authz))
        .route("/api/authz/ext-authz/", any(ext_authz))
        .route("/api/authz/ext-authz/{*rest}", any(ext_authz))
}

/// How a proxy family wants "sign in first" said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    /// nginx: status codes only, the way to go in `Location`.
    Nginx,
    /// Traefik, Caddy, Envoy: a redirect for browsers, 401 for APIs.
    Redirecting,
}

async fn auth_request(
    State(state): State<AppState>,
    headers: HeaderMap,
    extensions: Extensions,
) -> Response {
    let asked = ask::nginx(&headers);
    decide(&state, &headers, &extensions, asked, Family::Nginx).await
}

async fn forward_auth(
    State(state): State<AppState>,
    headers: HeaderMap,
    extensions: Extensions,
) -> Response {
    let asked = ask::forwarded(&headers);
    decide(&state, &headers, &extensions, asked, Family::Redirecting).await
}

async fn ext_authz(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    extensions: Extensions,
) -> Response {
    let asked = ask::envoy(&method, &uri, EXT_AUTHZ, &headers);
    decide(&state, &headers, &extensions, asked, Family::Redirecting).await
}

fn plain(status: StatusCode, text: &'static str) -> Response {
    (
        status,
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        text,
    )
        .into_response()
}

async fn decide(
    state: &AppState,
    headers: &HeaderMap,
    extensions: &Extensions,
    asked: Result<ForwardedRequest, ask::BadHeader>,
    family: Family,
) -> Response {
    let peer = extensions
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    if !peer.is_some_and(|ip| state.trusted_proxies.contains(ip)) {
        return plain(
            StatusCode::FORBIDDEN,
            "forward-auth answers only trusted proxies (--trusted-proxy)",
        );
    }
    let Ok(request) = asked else {
        return plain(StatusCode::BAD_REQUEST, "malformed forwarded request");
    };
    let ctx = client::context(state, headers, extensions);
    let decision = match agent_credentials(headers) {
        Some(Presented::Dpop { token, proof }) => {
            state
                .service
                .forward_auth_task(token, proof, &request, &ctx)
                .await
        }
        Some(Presented::Bearer(token)) => {
            match state.service.forward_auth_bearer(token, &ctx).await {
                Ok(Some(refused)) => Ok(refused),
                Ok(None) => session_decision(state, headers, &request, &ctx).await,
                Err(e) => Err(e),
            }
        }
        None => session_decision(state, headers, &request, &ctx).await,
    };
    match decision {
        Ok(ForwardDecision::Unauthorized { error, nonce }) => dpop_refused(error, nonce),
        Ok(ForwardDecision::Allow(grant)) => granted(&grant),
        Ok(ForwardDecision::SignIn) => {
            let to = format!("{}/?{}", origin(state), rd(&request, None));
            go(family, headers, &to)
        }
        Ok(ForwardDecision::StepUp(tier)) => {
            let to = format!("{}/step-up?{}", origin(state), rd(&request, Some(tier)));
            go(family, headers, &to)
        }
        Ok(ForwardDecision::Deny { .. }) => plain(StatusCode::FORBIDDEN, "forbidden"),
        Err(e) => {
            tracing::warn!(error = %e, "forward-auth could not decide");
            plain(StatusCode::SERVICE_UNAVAILABLE, "try again")
        }
    }
}

/// The person's decision: the session cookie (and DBSC bound cookie).
async fn session_decision(
    state: &AppState,
    headers: &HeaderMap,
    request: &ForwardedRequest,
    ctx: &keybound_service::ClientContext,
) -> Result<ForwardDecision, keybound_service::ServiceError> {
    let cookie = cookies::get(headers, cookies::SESSION).filter(|c| cookies::is_minted(c));
    let bound = cookies::get(headers, keybound_service::BOUND_COOKIE);
    state
        .service
        .forward_auth(cookie.as_deref(), bound.as_deref(), request, ctx)
        .await
}

/// The longest `Authorization` or `DPoP` header read (a token and some).
const MAX_AGENT_HEADER: usize = 16 * 1024 + 16;

/// What an agent presented: `Authorization: DPoP <token>` with the
/// `DPoP` proof, or a token as `Bearer` (refused if it is a task token).
enum Presented<'h> {
    Dpop {
        token: &'h str,
        proof: Option<&'h str>,
    },
    Bearer(&'h str),
}

/// The one value of `name` (sent twice or unreadable: as absent).
fn single(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    let mut values = headers.get_all(name).iter();
    let value = values.next()?;
    if values.next().is_some() || value.len() > MAX_AGENT_HEADER {
        return None;
    }
    value.to_str().ok().map(str::trim)
}

fn agent_credentials(headers: &HeaderMap) -> Option<Presented<'_>> {
    let (scheme, token) = single(headers, header::AUTHORIZATION)?.split_once(' ')?;
    let token = token.trim();
    if scheme.eq_ignore_ascii_case("dpop") {
        let proof = single(headers, header::HeaderName::from_static("dpop"));
        Some(Presented::Dpop { token, proof })
    } else if scheme.eq_ignore_ascii_case("bearer") {
        Some(Presented::Bearer(token))
    } else {
        None
    }
}

/// 401 for a task token or proof that does not hold (RFC 9449 §7.1),
/// with a fresh nonce.
fn dpop_refused(error: &str, nonce: Option<String>) -> Response {
    let mut response = plain(StatusCode::UNAUTHORIZED, "invalid task token");
    let challenge = format!("DPoP error=\"{error}\", algs=\"ES256 RS256 EdDSA\"");
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    if let Some(value) = nonce.and_then(|n| HeaderValue::from_str(&n).ok()) {
        response.headers_mut().insert("dpop-nonce", value);
    }
    response
}

/// keybound's own origin, where the sign-in page is.
fn origin(state: &AppState) -> String {
    state
        .service
        .config()
        .origins
        .origins()
        .first()
        .cloned()
        .unwrap_or_default()
}

/// `rd=<original URL>` (and `&tier=N` for a step-up), form-encoded.
fn rd(request: &ForwardedRequest, tier: Option<Tier>) -> String {
    let url = request.url();
    let tier = tier.map(|t| t.number().to_string());
    let mut pairs = vec![("rd", url.as_str())];
    if let Some(t) = tier.as_deref() {
        pairs.push(("tier", t));
    }
    serde_urlencoded::to_string(pairs).unwrap_or_default()
}

/// Send the browser to `to`: 401 with `Location` for nginx, 302 for a
/// browser behind the others, 401 for an API client.
fn go(family: Family, headers: &HeaderMap, to: &str) -> Response {
    let Ok(location) = HeaderValue::from_str(to) else {
        return plain(StatusCode::UNAUTHORIZED, "sign in first");
    };
    let status = match family {
        Family::Redirecting if ask::wants_html(headers) => StatusCode::FOUND,
        _ => StatusCode::UNAUTHORIZED,
    };
    let mut response = plain(status, "sign in first");
    response.headers_mut().insert(header::LOCATION, location);
    response
}

/// 200 with who the request is from. A value that cannot be a header
/// (names are checked at enrolment, so this is a bug, not an input) is
/// refused rather than dropped: an app must never see a user without
/// the rest.
fn granted(grant: &Grant) -> Response {
    let mut values = vec![
        ("remote-user", grant.user.clone()),
        ("remote-groups", grant.groups.join(",")),
        ("remote-name", grant.name.clone()),
        ("remote-tier", grant.tier.to_string()),
    ];
    // An agent's request under a task token (issue 18).
    if let Some(agent) = &grant.agent {
        values.push(("remote-agent", agent.clone()));
    }
    if let Some(task) = &grant.task {
        values.push(("remote-task", task.clone()));
    }
    let mut response = plain(StatusCode::OK, "ok");
    for (name, value) in values {
        let Ok(value) = HeaderValue::from_str(&value) else {
            return plain(StatusCode::FORBIDDEN, "forbidden");
        };
        response.headers_mut().insert(name, value);
    }
    response
}
