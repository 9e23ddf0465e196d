//! The agent API (issue 18): an agent asks for a task, reads it, ends it.
//!
//! - `POST /agents/v1/tasks` (JSON `{delegator, resources, actions,
//!   lifetime_s, purpose}`, at most 16 KiB) -> 201 `{task_id, status,
//!   expires_at, approve_url}`;
//! - `GET /agents/v1/tasks/{id}` -> the task;
//! - `POST /agents/v1/tasks/{id}/end` -> 204.
//!
//! Every request carries `Authorization: Bearer <agent proof>` (a JWT-SVID,
//! or a JWT the agent signed with its registered key). These are machine
//! clients: no same-origin guard, and no cookies — a request that carries
//! any is refused, so a browser can never act here with a person's session.
//! Refusals are 400 (malformed), 401 (bad proof), 403 (policy), 404
//! (unknown or another agent's task), each with a small JSON error that
//! never names the precise reason (the audit log does).

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, Extensions, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use keybound_service::{Refusal, ServiceError, TaskRequest, TaskView};
use serde_json::json;

use crate::client::context;
use crate::AppState;

/// The largest request body the agent API reads.
pub(crate) const MAX_AGENT_BODY: usize = 16 * 1024;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/agents/v1/tasks", post(request))
        .route("/agents/v1/tasks/{id}", get(show))
        .route("/agents/v1/tasks/{id}/end", post(end))
        .layer(DefaultBodyLimit::max(MAX_AGENT_BODY))
}

/// A refusal: `status` with `{"error": code}`, the precise reason kept for
/// the access log.
fn error(status: StatusCode, code: &str, why: &'static str) -> Response {
    let mut response = (status, Json(json!({ "error": code }))).into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer error=\"invalid_token\""),
        );
    }
    crate::access::refused(response, why)
}

fn malformed() -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "malformed_request",
    )
}

/// Why a request has no proof to try.
enum NoProof {
    /// It carries cookies: it is not from an agent.
    Cookies,
    /// No `Authorization: Bearer`.
    Missing,
}

impl NoProof {
    fn reply(self) -> Response {
        match self {
            NoProof::Cookies => malformed(),
            NoProof::Missing => error(
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "agent_proof_missing",
            ),
        }
    }
}

/// The agent's proof, unless the request has none or carries cookies.
fn proof(headers: &HeaderMap) -> Result<String, NoProof> {
    let cookies = headers
        .get_all(header::COOKIE)
        .iter()
        .any(|v| !v.as_bytes().trim_ascii().is_empty());
    if cookies {
        return Err(NoProof::Cookies);
    }
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .filter(|t| !t.is_empty());
    match token {
        Some(token) => Ok(token.to_owned()),
        None => Err(NoProof::Missing),
    }
}

/// The one place a service error becomes an agent API answer.
fn refused(e: &ServiceError) -> Response {
    let why = crate::access::service_refusal(e);
    match e {
        ServiceError::Rejected(r) if r.reason().starts_with("agent_") => {
            error(StatusCode::UNAUTHORIZED, "invalid_token", why)
        }
        ServiceError::Rejected(Refusal::TaskUnknown) | ServiceError::NotFound => {
            error(StatusCode::NOT_FOUND, "not_found", why)
        }
        ServiceError::Rejected(
            Refusal::TaskNotPermitted
            | Refusal::TaskDelegatorNotActive
            | Refusal::TaskTooManyPending,
        )
        | ServiceError::Forbidden => error(StatusCode::FORBIDDEN, "forbidden", why),
        ServiceError::Rejected(_) | ServiceError::UnknownCredential(_) => {
            error(StatusCode::BAD_REQUEST, "invalid_request", why)
        }
        ServiceError::RateLimited { .. } => error(StatusCode::TOO_MANY_REQUESTS, "slow_down", why),
        _ => crate::reply::from_service(e),
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
}

/// Where the person approves the task: their `/me`, at the task.
fn approve_url(state: &AppState, task: &TaskView) -> String {
    let origin = state
        .service
        .config()
        .origins
        .origins()
        .first()
        .cloned()
        .unwrap_or_default();
    format!("{origin}/me#task-{}", task.id)
}

async fn request(
    State(state): State<AppState>,
    headers: HeaderMap,
    extensions: Extensions,
    body: Bytes,
) -> Response {
    let token = match proof(&headers) {
        Ok(token) => token,
        Err(no) => return no.reply(),
    };
    if !is_json(&headers) {
        return malformed();
    }
    let Ok(asked) = serde_json::from_slice::<TaskRequest>(&body) else {
        return malformed();
    };
    let ctx = context(&state, &headers, &extensions);
    match state.service.request_task(&token, &asked, &ctx).await {
        Ok(task) => (
            StatusCode::CREATED,
            Json(json!({
                "task_id": task.id,
                "status": task.status,
                "expires_at": task.expires_ms / 1000,
                "approve_url": approve_url(&state, &task),
            })),
        )
            .into_response(),
        Err(e) => refused(&e),
    }
}

async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let token = match proof(&headers) {
        Ok(token) => token,
        Err(no) => return no.reply(),
    };
    match state.service.agent_task(&token, &id).await {
        Ok(task) => (StatusCode::OK, Json(task)).into_response(),
        Err(e) => refused(&e),
    }
}

async fn end(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    extensions: Extensions,
) -> Response {
    let token = match proof(&headers) {
        Ok(token) => token,
        Err(no) => return no.reply(),
    };
    let ctx = context(&state, &headers, &extensions);
    match state.service.end_task_as_agent(&token, &id, &ctx).await {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => refused(&e),
    }
}
