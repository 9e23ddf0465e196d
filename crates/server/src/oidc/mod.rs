//! The OpenID Connect provider's endpoints (issue 15). Each handler reads
//! the request (query or form body, the session cookie, the client's
//! credentials), calls one service use case and maps its answer once
//! (`reply.rs`). Every check, bound and audit event is in the service.
//!
//! These endpoints are called cross-site by design (a relying party's
//! back end, or a single-page app, posts to the token endpoint), so none
//! uses the same-origin guard of the pages. None of them changes state on
//! the strength of a cookie except `/oauth2/authorize`, which issues a code
//! only to a redirect URI the client registered: the token, revocation and
//! introspection endpoints authenticate the client, UserInfo takes a
//! bearer token, and logout takes an ID token (`id_token_hint`), never the
//! session cookie.

mod reply;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, RawQuery, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{Extensions, HeaderMap, Method};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use keybound_service::{ClientCredentials, EventKind, OidcParams, TokenProof};

use crate::client::context;
use crate::cookies;
use crate::AppState;

/// The largest body an OIDC endpoint reads: the largest parameter (an
/// `id_token_hint`, 16 KiB) and then some.
pub(crate) const MAX_OIDC_BODY: usize = 64 * 1024;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/oauth2/jwks", get(jwks))
        .route("/oauth2/authorize", get(authorize))
        .route("/oauth2/token", axum::routing::post(token))
        .route("/oauth2/userinfo", get(userinfo).post(userinfo))
        .route("/oauth2/revoke", axum::routing::post(revoke))
        .route("/oauth2/introspect", axum::routing::post(introspect))
        .route("/oauth2/logout", get(logout).post(logout))
        .layer(DefaultBodyLimit::max(MAX_OIDC_BODY))
}

async fn discovery(State(state): State<AppState>) -> Response {
    reply::public_json(state.service.oidc_discovery())
}

async fn jwks(State(state): State<AppState>) -> Response {
    match state.service.oidc_jwks().await {
        Ok(keys) => reply::public_json(keys),
        Err(e) => reply::json_error(&keybound_service::OidcError::Internal(e), false),
    }
}

fn query_params(query: Option<String>) -> OidcParams {
    OidcParams::parse(query.unwrap_or_default().as_bytes())
}

/// Whether the body is a form (RFC 6749 §4.1.3: the token endpoint takes
/// nothing else).
fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| {
            m.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// `Authorization: Basic` (RFC 6749 §2.3.1): base64 of the form-encoded
/// `client_id:client_secret`. A header that says Basic but does not
/// decode counts as credentials that fail.
fn basic_credentials(headers: &HeaderMap) -> ClientCredentials {
    use base64::Engine as _;
    let Some(value) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return ClientCredentials::default();
    };
    let Some((scheme, encoded)) = value.split_once(' ') else {
        return ClientCredentials::default();
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return ClientCredentials::default();
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok());
    let pair = decoded.as_deref().and_then(|d| d.split_once(':'));
    let form = |text: &str| -> String {
        url::form_urlencoded::parse(format!("v={}", text.replace('&', "%26")).as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    ClientCredentials {
        basic: Some(pair.map_or_else(Default::default, |(id, secret)| (form(id), form(secret)))),
    }
}

/// A body as read, or why it could not be (past [`MAX_OIDC_BODY`]).
type Body = Result<Bytes, BytesRejection>;

/// The form body of a POST, or the refusal (not a form, or past the
/// body limit): `invalid_request`, audited under `kind`.
async fn form_body(
    state: &AppState,
    headers: &HeaderMap,
    extensions: &Extensions,
    body: &Body,
    kind: EventKind,
) -> Result<OidcParams, Response> {
    let body = match body {
        Ok(body) if is_form(headers) => body,
        _ => {
            let error = state
                .service
                .oidc_malformed(kind, &context(state, headers, extensions))
                .await;
            return Err(reply::json_error(&error, false));
        }
    };
    Ok(OidcParams::parse(body))
}

async fn authorize(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    extensions: Extensions,
) -> Response {
    let session = cookies::get(&headers, cookies::SESSION);
    let ctx = context(&state, &headers, &extensions);
    let decided = state
        .service
        .oidc_authorize(session.as_deref(), &query_params(query), &ctx)
        .await;
    reply::authorized(decided)
}

async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    extensions: Extensions,
    body: Body,
) -> Response {
    let params = match form_body(&state, &headers, &extensions, &body, EventKind::OidcToken).await {
        Ok(params) => params,
        Err(refused) => return refused,
    };
    let credentials = basic_credentials(&headers);
    let ctx = context(&state, &headers, &extensions);
    // RFC 9449 §4.1: one `DPoP` header; two are as a malformed one.
    let mut dpop = headers.get_all(DPOP).iter();
    let proof = match (dpop.next(), dpop.next()) {
        (Some(one), None) => Some(one.to_str().unwrap_or("")),
        (Some(_), Some(_)) => Some(""),
        (None, _) => None,
    };
    let url = format!("{}/oauth2/token", state.service.config().oidc.issuer);
    let proof = TokenProof {
        dpop: proof,
        url: &url,
    };
    let answer = match state
        .service
        .oidc_token(&params, &credentials, &proof, &ctx)
        .await
    {
        Ok(tokens) => reply::private_json(tokens),
        Err(e) => reply::json_error(&e, credentials.basic.is_some()),
    };
    with_dpop_nonce(&state, answer).await
}

/// The `DPoP` request header (RFC 9449 §4.1).
const DPOP: &str = "dpop";

/// Every token endpoint answer carries a fresh `DPoP-Nonce` (RFC 9449
/// §8) when nonces are on, so an agent needs no extra round trip.
async fn with_dpop_nonce(state: &AppState, mut response: Response) -> Response {
    if !state.service.config().dpop_nonce {
        return response;
    }
    match state.service.dpop_nonce().await {
        Ok(nonce) => {
            if let Ok(value) = axum::http::HeaderValue::from_str(&nonce) {
                response.headers_mut().insert("dpop-nonce", value);
            }
        }
        Err(e) => tracing::warn!(error = %e, "no DPoP nonce"),
    }
    response
}

async fn userinfo(
    State(state): State<AppState>,
    headers: HeaderMap,
    extensions: Extensions,
) -> Response {
    let bearer = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned());
    let ctx = context(&state, &headers, &extensions);
    match state.service.oidc_userinfo(bearer.as_deref(), &ctx).await {
        Ok(claims) => reply::private_json(claims),
        Err(e) => reply::bearer_error(&e),
    }
}

async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    extensions: Extensions,
    body: Body,
) -> Response {
    let params = match form_body(&state, &headers, &extensions, &body, EventKind::OidcRevoke).await
    {
        Ok(params) => params,
        Err(refused) => return refused,
    };
    let credentials = basic_credentials(&headers);
    let ctx = context(&state, &headers, &extensions);
    match state.service.oidc_revoke(&params, &credentials, &ctx).await {
        Ok(()) => reply::private_json(serde_json::json!({})),
        Err(e) => reply::json_error(&e, credentials.basic.is_some()),
    }
}

async fn introspect(
    State(state): State<AppState>,
    headers: HeaderMap,
    extensions: Extensions,
    body: Body,
) -> Response {
    let params = match form_body(
        &state,
        &headers,
        &extensions,
        &body,
        EventKind::OidcIntrospect,
    )
    .await
    {
        Ok(params) => params,
        Err(refused) => return refused,
    };
    let credentials = basic_credentials(&headers);
    let ctx = context(&state, &headers, &extensions);
    match state
        .service
        .oidc_introspect(&params, &credentials, &ctx)
        .await
    {
        Ok(answer) => reply::private_json(answer),
        Err(e) => reply::json_error(&e, credentials.basic.is_some()),
    }
}

async fn logout(
    State(state): State<AppState>,
    method: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    extensions: Extensions,
    body: Body,
) -> Response {
    let params = if method == Method::POST {
        match form_body(&state, &headers, &extensions, &body, EventKind::OidcLogout).await {
            Ok(params) => params,
            Err(_) => return reply::logout_refused(),
        }
    } else {
        query_params(query)
    };
    let ctx = context(&state, &headers, &extensions);
    reply::logged_out(state.service.oidc_logout(&params, &ctx).await)
}
