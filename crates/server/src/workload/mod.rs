//! The node agent's endpoints (issue 17; paths in
//! `keybound_workload_api::wire::paths`): join-token attestation, sync,
//! JWT-SVIDs, and the public bundle and CRLs. Thin: parse the JSON body,
//! pass the `Authorization` header, method and path to the service (which
//! checks the node proof), map the result once ([`refused`]). Node calls
//! carry no `Origin` and no cookie, so they are not behind the same-origin
//! guard: the node proof is their authentication.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{Extensions, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use keybound_service::{NodeCall, Refusal, ServiceError};
use keybound_workload_api::wire::{
    paths, ErrorBody, JoinAttestRequest, JwtSvidRequest, SyncRequest, TpmAttestFinish,
    TpmAttestStart,
};
use serde::de::DeserializeOwned;

use crate::client::context;
use crate::AppState;

/// The largest node request body, in bytes (64 SVID requests with their
/// keys fit many times over).
pub(crate) const MAX_NODE_BODY: usize = 512 * 1024;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route(paths::ATTEST_JOIN, post(attest_join))
        .route(paths::ATTEST_TPM_START, post(attest_tpm_start))
        .route(paths::ATTEST_TPM_FINISH, post(attest_tpm_finish))
        .route(paths::SYNC, post(sync))
        .route(paths::JWT_SVID, post(jwt_svid))
        .route(paths::BUNDLE, get(bundle))
        .route(&format!("{}{{id}}", paths::CRL_PREFIX), get(crl))
}

/// The one body every refusal gets: `{"error": <word>}`; the reason is in
/// the audit log and the access log.
fn error(status: StatusCode, word: &str) -> Response {
    (
        status,
        Json(ErrorBody {
            error: word.to_owned(),
        }),
    )
        .into_response()
}

/// The only place a service error becomes a node reply.
pub(crate) fn refused(e: &ServiceError) -> Response {
    let response = match e {
        ServiceError::Rejected(refusal) | ServiceError::UnknownCredential(refusal) => match refusal
        {
            Refusal::WorkloadNodeProofMalformed
            | Refusal::WorkloadNodeProofSignature
            | Refusal::WorkloadNodeProofWrongTarget
            | Refusal::WorkloadNodeProofStale
            | Refusal::WorkloadNodeProofReplayed
            | Refusal::WorkloadJoinTokenInvalid
            | Refusal::WorkloadTpmEkUntrusted
            | Refusal::WorkloadTpmAkRefused
            | Refusal::WorkloadTpmAttemptInvalid
            | Refusal::WorkloadTpmActivationFailed
            | Refusal::WorkloadTpmQuoteInvalid => error(StatusCode::UNAUTHORIZED, "unauthorized"),
            Refusal::WorkloadNodeDecommissioned
            | Refusal::WorkloadEntryNotForNode
            | Refusal::WorkloadTpmNotConfigured => error(StatusCode::FORBIDDEN, "forbidden"),
            _ => error(StatusCode::BAD_REQUEST, "invalid_request"),
        },
        ServiceError::ConfirmationRequired | ServiceError::StepUpRequired => {
            error(StatusCode::BAD_REQUEST, "invalid_request")
        }
        ServiceError::Forbidden => error(StatusCode::FORBIDDEN, "forbidden"),
        ServiceError::NotFound => error(StatusCode::NOT_FOUND, "not_found"),
        ServiceError::RateLimited { retry_after_s } => {
            let mut response = error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
            if let Ok(value) = HeaderValue::from_str(&retry_after_s.to_string()) {
                response
                    .headers_mut()
                    .insert(axum::http::header::RETRY_AFTER, value);
            }
            response
        }
        ServiceError::Internal(what) => {
            tracing::error!(error = %what, "internal error");
            error(StatusCode::INTERNAL_SERVER_ERROR, "internal_error")
        }
    };
    crate::access::refused(response, crate::access::service_refusal(e))
}

/// A JSON body of type `T`, bounded; `None` when it is not one.
fn parse<T: DeserializeOwned>(body: &Bytes) -> Option<T> {
    if body.len() > MAX_NODE_BODY {
        return None;
    }
    serde_json::from_slice(body).ok()
}

fn bad_body() -> Response {
    crate::access::refused(
        error(StatusCode::BAD_REQUEST, "invalid_request"),
        "malformed_body",
    )
}

fn node_call<'a>(headers: &'a HeaderMap, path: &'a str) -> NodeCall<'a> {
    NodeCall {
        authorization: headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()),
        method: "POST",
        path,
    }
}

fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The one answer of every node call: the JSON body, never cached, or the
/// generic refusal.
fn reply<T: serde::Serialize>(result: Result<T, ServiceError>) -> Response {
    match result {
        Ok(done) => no_store(Json(done).into_response()),
        Err(e) => refused(&e),
    }
}

async fn attest_join(
    State(state): State<AppState>,
    headers: HeaderMap,
    extensions: Extensions,
    body: Bytes,
) -> Response {
    let ctx = context(&state, &headers, &extensions);
    // Unauthenticated: the source's budget, as for enrolments.
    if let Err(e) = state.service.admit(&ctx, None).await {
        return refused(&e);
    }
    let Some(request) = parse::<JoinAttestRequest>(&body) else {
        return bad_body();
    };
    reply(state.service.attest_join(&request, &ctx).await)
}

/// TPM attestation, step one: the EK certificate and both keys checked,
/// a credential only that TPM can activate returned.
async fn attest_tpm_start(
    State(state): State<AppState>,
    headers: HeaderMap,
    extensions: Extensions,
    body: Bytes,
) -> Response {
    let ctx = context(&state, &headers, &extensions);
    if let Err(e) = state.service.admit(&ctx, None).await {
        return refused(&e);
    }
    let Some(request) = parse::<TpmAttestStart>(&body) else {
        return bad_body();
    };
    reply(state.service.attest_tpm_start(&request, &ctx).await)
}

/// TPM attestation, step two: the activated secret and a quote.
async fn attest_tpm_finish(
    State(state): State<AppState>,
    headers: HeaderMap,
    extensions: Extensions,
    body: Bytes,
) -> Response {
    let ctx = context(&state, &headers, &extensions);
    if let Err(e) = state.service.admit(&ctx, None).await {
        return refused(&e);
    }
    let Some(request) = parse::<TpmAttestFinish>(&body) else {
        return bad_body();
    };
    reply(state.service.attest_tpm_finish(&request, &ctx).await)
}

async fn sync(
    State(state): State<AppState>,
    headers: HeaderMap,
    extensions: Extensions,
    body: Bytes,
) -> Response {
    let ctx = context(&state, &headers, &extensions);
    let Some(request) = parse::<SyncRequest>(&body) else {
        return bad_body();
    };
    let call = node_call(&headers, paths::SYNC);
    reply(state.service.workload_sync(&call, &request, &ctx).await)
}

async fn jwt_svid(
    State(state): State<AppState>,
    headers: HeaderMap,
    extensions: Extensions,
    body: Bytes,
) -> Response {
    let ctx = context(&state, &headers, &extensions);
    let Some(request) = parse::<JwtSvidRequest>(&body) else {
        return bad_body();
    };
    let call = node_call(&headers, paths::JWT_SVID);
    reply(state.service.workload_jwt_svid(&call, &request, &ctx).await)
}

/// This trust domain's SPIFFE bundle (`https_web` profile): public, with
/// its sequence and refresh hint inside.
async fn bundle(State(state): State<AppState>) -> Response {
    match state.service.workload_bundle_json().await {
        Ok(json) => {
            let mut response = json.into_response();
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            response
        }
        Err(e) => refused(&e),
    }
}

/// The CRL of one authority, DER.
async fn crl(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    match state.service.workload_crl(&id).await {
        Ok(der) => {
            let mut response = der.into_response();
            response.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("application/pkix-crl"),
            );
            response
        }
        Err(e) => refused(&e),
    }
}
