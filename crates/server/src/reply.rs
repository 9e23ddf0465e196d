//! Every reply of the ceremony API, and the one mapping from service errors
//! to HTTP.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use keybound_service::ServiceError;
use serde_json::{json, Value};

/// `{"status":"ok","errorMessage":"", ...fields}`.
pub(crate) fn ok(mut fields: Value) -> Response {
    if let Some(map) = fields.as_object_mut() {
        map.insert("status".into(), json!("ok"));
        map.insert("errorMessage".into(), json!(""));
    }
    (StatusCode::OK, Json(fields)).into_response()
}

/// `{"status":"failed","errorMessage":message}` with `status`.
pub(crate) fn failed(status: StatusCode, message: &str) -> Response {
    (
        status,
        Json(json!({"status": "failed", "errorMessage": message})),
    )
        .into_response()
}

/// The only place a service error becomes HTTP. Clients get a generic
/// message; the reason is already in the audit log, and the access log
/// names it too.
pub(crate) fn from_service(e: &ServiceError) -> Response {
    crate::access::refused(response_for(e), crate::access::service_refusal(e))
}

fn response_for(e: &ServiceError) -> Response {
    match e {
        ServiceError::Rejected(_) => failed(StatusCode::BAD_REQUEST, "the ceremony failed"),
        // Still the generic message; the flag lets the page ask the passkey
        // provider to forget the credential (`signalUnknownCredential`).
        ServiceError::UnknownCredential(_) => (
            StatusCode::BAD_REQUEST,
            Json(json!({
                "status": "failed",
                "errorMessage": "the ceremony failed",
                "unknownCredential": true,
            })),
        )
            .into_response(),
        ServiceError::ConfirmationRequired => failed(StatusCode::CONFLICT, "confirmation required"),
        ServiceError::StepUpRequired => failed(StatusCode::FORBIDDEN, "sign in again first"),
        ServiceError::Forbidden => failed(StatusCode::FORBIDDEN, "not allowed"),
        ServiceError::NotFound => failed(StatusCode::NOT_FOUND, "not found"),
        ServiceError::RateLimited { retry_after_s } => {
            let mut response = failed(StatusCode::TOO_MANY_REQUESTS, "too many attempts");
            if let Ok(value) = axum::http::HeaderValue::from_str(&retry_after_s.to_string()) {
                response
                    .headers_mut()
                    .insert(axum::http::header::RETRY_AFTER, value);
            }
            response
        }
        ServiceError::Internal(what) => {
            tracing::error!(error = %what, "internal error");
            failed(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
        }
    }
}
