//! The FIDO2 conformance API: `/attestation/options`, `/attestation/result`,
//! `/assertion/options`, `/assertion/result`, and sign-out.

use axum::body::Bytes;

use axum::extract::State;
use axum::http::Extensions;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use keybound_service::{
    hash_token, AuthenticationRequest, RegistrationRequest, RegistrationStart, ServiceError,
};
use keybound_webauthn::{
    AttestationConveyancePreference, AuthenticatorSelectionCriteria, UserVerificationRequirement,
};
use serde::Deserialize;

pub(crate) use crate::client::context;
use crate::reply::{failed, from_ceremony, from_service, ok, Ceremony};
use crate::same_origin::{JsonBody, SameOrigin};
use crate::{cookies, AppState};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/attestation/options", post(attestation_options))
        .route("/attestation/result", post(attestation_result))
        .route("/assertion/options", post(assertion_options))
        .route("/assertion/result", post(assertion_result))
        .route("/signout", post(sign_out))
        .route("/me/devices/options", post(device_options))
        .route("/me/devices/result", post(device_result))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AttestationOptionsRequest {
    #[serde(default)]
    username: String,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    authenticator_selection: Option<AuthenticatorSelectionCriteria>,
    #[serde(default)]
    attestation: Option<AttestationConveyancePreference>,
    #[serde(default)]
    extensions: Option<serde_json::Map<String, serde_json::Value>>,
    /// An invitation token (keybound's extension of the conformance API).
    #[serde(default)]
    token: Option<String>,
}

/// "Trust this device" (`/me`): what the page sends to start.
#[derive(Deserialize)]
struct DeviceOptionsRequest {
    /// What the person calls the device; the service bounds it.
    #[serde(default)]
    label: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AssertionOptionsRequest {
    #[serde(default)]
    username: String,
    #[serde(default)]
    user_verification: Option<UserVerificationRequirement>,
    #[serde(default)]
    extensions: Option<serde_json::Map<String, serde_json::Value>>,
}

fn parse<T: for<'de> Deserialize<'de>>(body: &Bytes) -> Option<T> {
    serde_json::from_slice(body).ok()
}

fn malformed() -> Response {
    crate::access::refused(
        failed(StatusCode::BAD_REQUEST, "malformed request"),
        "malformed_request",
    )
}

/// The ceremony cookie of this browser, minting one when it has none we
/// could have minted: a challenge is never bound to an empty, absent or
/// chosen-looking value (anyone can send `kb_ceremony=`, and a request
/// without the cookie, as a cross-site one is, would then match it).
fn ceremony_cookie(state: &AppState, headers: &HeaderMap, out: &mut HeaderMap) -> Vec<u8> {
    let value = cookies::get(headers, cookies::CEREMONY)
        .filter(|v| cookies::is_minted(v))
        .unwrap_or_else(|| {
            let fresh = cookies::fresh(state.service.random_bytes());
            cookies::set(
                out,
                cookies::CEREMONY,
                &fresh,
                state.secure_cookies,
                24 * 3600,
            );
            fresh
        });
    hash_token(&value)
}

/// The browser a result claims to come from. Without a ceremony cookie we
/// minted, no challenge can match (none is bound to an empty value), but
/// the service still sees (and audits) the attempt.
fn answering_browser(headers: &HeaderMap) -> Vec<u8> {
    cookies::get(headers, cookies::CEREMONY)
        .filter(|v| cookies::is_minted(v))
        .map(|v| hash_token(&v))
        .unwrap_or_default()
}

/// Options as the conformance API returns them, or the mapped error.
fn options_reply<T: serde::Serialize>(result: Result<T, ServiceError>) -> Response {
    match result {
        Ok(options) => ok(serde_json::to_value(options).unwrap_or_default()),
        Err(e) => from_service(&e),
    }
}

fn with_headers(mut response: Response, headers: HeaderMap) -> Response {
    response.headers_mut().extend(headers);
    response
}

async fn attestation_options(
    State(state): State<AppState>,
    headers: HeaderMap,
    extensions: Extensions,
    JsonBody(body): JsonBody,
) -> Response {
    let Some(request) = parse::<AttestationOptionsRequest>(&body) else {
        return malformed();
    };
    let ctx = context(&state, &headers, &extensions);
    if let Err(e) = state.service.admit(&ctx, Some(&request.username)).await {
        return from_service(&e);
    }
    let mut out = HeaderMap::new();
    let browser = ceremony_cookie(&state, &headers, &mut out);
    let session = cookies::get(&headers, cookies::SESSION);
    let start = match (&request.token, &session) {
        (Some(token), _) => RegistrationStart::Invitation(token),
        (None, Some(session)) => RegistrationStart::Session(session),
        (None, None) => RegistrationStart::Open(&request.username),
    };
    let preferences = RegistrationRequest {
        authenticator_selection: request.authenticator_selection,
        attestation: request.attestation,
        extensions: request.extensions,
        display_name: request.display_name,
        username: Some(request.username.clone()).filter(|n| !n.is_empty()),
    };
    let reply = state
        .service
        .within_challenge_budget(
            &ctx,
            state
                .service
                .begin_registration_from(&browser, start, &preferences, &ctx),
        )
        .await;
    with_headers(options_reply(reply), out)
}

async fn attestation_result(
    State(state): State<AppState>,
    headers: HeaderMap,
    extensions: Extensions,
    JsonBody(body): JsonBody,
) -> Response {
    match finish_enrolment(&state, &headers, &extensions, &body).await {
        Ok(enrolled) => {
            let mut out = HeaderMap::new();
            if let Some(session) = &enrolled.session {
                set_session(&state, &mut out, &session.value);
            }
            with_headers(ok(serde_json::json!({})), out)
        }
        Err(response) => response,
    }
}

/// Finishes a registration ceremony, whichever page started it (an
/// invitation, a signed-in "Add a passkey", "Trust this device"): the
/// ceremony cookie names the pending options, so the answer is checked
/// against what was asked. A refusal is already the client's response.
async fn finish_enrolment(
    state: &AppState,
    headers: &HeaderMap,
    extensions: &Extensions,
    body: &[u8],
) -> Result<keybound_service::Enrolled, Response> {
    let ctx = context(state, headers, extensions);
    // An enrolment costs its token even when it succeeds (unlike a
    // sign-in): open registration must not create accounts at full speed.
    if let Err(e) = state.service.admit(&ctx, None).await {
        return Err(from_service(&e));
    }
    let previous = cookies::get(headers, cookies::SESSION);
    state
        .service
        .finish_registration_replacing(&answering_browser(headers), previous.as_deref(), body, &ctx)
        .await
        .map_err(|e| from_ceremony(&e, Ceremony::Registration))
}

/// "Trust this device": creation options for the device this signed-in
/// browser runs on (a platform authenticator, user verification,
/// attestation), bound to this browser's ceremony cookie. Without a
/// session: 403, as for adding a passkey.
async fn device_options(
    State(state): State<AppState>,
    headers: HeaderMap,
    extensions: Extensions,
    JsonBody(body): JsonBody,
) -> Response {
    let Some(request) = parse::<DeviceOptionsRequest>(&body) else {
        return malformed();
    };
    let ctx = context(&state, &headers, &extensions);
    if let Err(e) = state.service.admit(&ctx, None).await {
        return from_service(&e);
    }
    let Some(session) = cookies::get(&headers, cookies::SESSION) else {
        return from_service(&ServiceError::Forbidden);
    };
    let mut out = HeaderMap::new();
    let browser = ceremony_cookie(&state, &headers, &mut out);
    let start = RegistrationStart::Device {
        session: &session,
        label: &request.label,
    };
    let reply = state
        .service
        .within_challenge_budget(
            &ctx,
            state.service.begin_registration_from(
                &browser,
                start,
                &RegistrationRequest::default(),
                &ctx,
            ),
        )
        .await;
    let reply = match reply {
        Err(e @ ServiceError::Rejected(_)) => from_ceremony(&e, Ceremony::Registration),
        other => options_reply(other),
    };
    with_headers(reply, out)
}

/// "Trust this device": the device's answer. The service records the
/// credential and the device in one transaction, or refuses it (synced,
/// roaming, unverified, too many devices) with a reason code the page
/// puts in words. The reply says whether the device is trusted already
/// or awaits an administrator.
async fn device_result(
    State(state): State<AppState>,
    headers: HeaderMap,
    extensions: Extensions,
    JsonBody(body): JsonBody,
) -> Response {
    match finish_enrolment(&state, &headers, &extensions, &body).await {
        Ok(enrolled) => {
            let device = enrolled.device.as_ref();
            ok(serde_json::json!({
                "device": device.map(|d| d.name.clone()),
                "trusted": device.is_some_and(|d| d.status == "trusted"),
            }))
        }
        Err(response) => response,
    }
}

/// Sets a new session cookie and invites the browser to bind the session
/// to a key of its own (DBSC, `dbsc.rs`); browsers without DBSC ignore
/// the header and the session works as before.
fn set_session(state: &AppState, out: &mut HeaderMap, value: &str) {
    let ttl_s = state.service.config().session_ttl_ms / 1000;
    cookies::set_session(state, out, value, ttl_s);
    if let Some(header) = crate::dbsc::registration_header(state, value) {
        out.append("secure-session-registration", header);
    }
}

async fn assertion_options(
    State(state): State<AppState>,
    headers: HeaderMap,
    extensions: Extensions,
    JsonBody(body): JsonBody,
) -> Response {
    let Some(request) = parse::<AssertionOptionsRequest>(&body) else {
        return malformed();
    };
    let ctx = context(&state, &headers, &extensions);
    if let Err(e) = state.service.admit(&ctx, Some(&request.username)).await {
        return from_service(&e);
    }
    let mut out = HeaderMap::new();
    let browser = ceremony_cookie(&state, &headers, &mut out);
    let preferences = AuthenticationRequest {
        user_verification: request.user_verification,
        extensions: request.extensions,
    };
    let reply = state
        .service
        .within_challenge_budget(
            &ctx,
            state
                .service
                .begin_authentication(&browser, &request.username, &preferences),
        )
        .await;
    with_headers(options_reply(reply), out)
}

async fn assertion_result(
    State(state): State<AppState>,
    headers: HeaderMap,
    extensions: Extensions,
    JsonBody(body): JsonBody,
) -> Response {
    let browser = answering_browser(&headers);
    let ctx = context(&state, &headers, &extensions);
    // A browser already signed in steps up (or switches account): the new
    // session replaces the old one.
    let previous = cookies::get(&headers, cookies::SESSION);
    let finish = async {
        match &previous {
            Some(previous) => state.service.step_up(previous, &browser, &body, &ctx).await,
            None => {
                state
                    .service
                    .finish_authentication(&browser, &body, &ctx)
                    .await
            }
        }
    };
    let result = state.service.admit_answer(&ctx, finish).await;
    match result {
        Ok(signed_in) => {
            let mut out = HeaderMap::new();
            set_session(&state, &mut out, &signed_in.session.value);
            with_headers(ok(serde_json::json!({"username": signed_in.name})), out)
        }
        Err(e) => from_ceremony(&e, Ceremony::Authentication),
    }
}

async fn sign_out(
    State(state): State<AppState>,
    _: SameOrigin,
    headers: HeaderMap,
    extensions: Extensions,
) -> Response {
    let Some(session) = cookies::get(&headers, cookies::SESSION) else {
        return ok(serde_json::json!({}));
    };
    let mut out = HeaderMap::new();
    cookies::set_session(&state, &mut out, "", 0);
    match state
        .service
        .sign_out(&session, &context(&state, &headers, &extensions))
        .await
    {
        Ok(_) => with_headers(ok(serde_json::json!({})), out),
        Err(e) => from_service(&e),
    }
}
