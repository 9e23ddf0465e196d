//! The verifiable audit log's public endpoints (issue 19), for monitors
//! and witnesses: the latest signed checkpoint, the log's verifier key and
//! consistency proofs between checkpoints. Public by design: a checkpoint
//! and a proof are hashes and a signature, and revealing them is the
//! point (what they reveal is in docs/manual/audit-format.md). Every reply
//! is `Cache-Control: no-store` (the `headers::secure` layer): a cached
//! checkpoint would hide the log's growth from a monitor.

use axum::extract::{RawQuery, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::json;

use crate::AppState;

/// The latest signed note.
pub(crate) const CHECKPOINT: &str = "/audit/v1/checkpoint";
/// The log's active verifier key.
pub(crate) const KEY: &str = "/audit/v1/key";
/// `?old=A&new=B`: a consistency proof.
pub(crate) const CONSISTENCY: &str = "/audit/v1/consistency";

/// The longest query `/audit/v1/consistency` reads: two parameters of at
/// most 20 digits each, with room to spare. Anything longer is refused
/// before it is parsed.
const MAX_QUERY: usize = 64;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route(CHECKPOINT, get(checkpoint))
        .route(KEY, get(key))
        .route(CONSISTENCY, get(consistency))
}

fn text(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

fn invalid() -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": "invalid_request"})),
    )
        .into_response()
}

fn internal(e: &keybound_service::ServiceError) -> Response {
    tracing::error!(target: "keybound::audit", error = %e, "audit publication failed");
    text(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal error\n".to_owned(),
    )
}

/// Nothing signed yet: the sealer has not run (or the log is empty).
fn not_signed_yet() -> Response {
    text(
        StatusCode::NOT_FOUND,
        "no checkpoint has been signed yet\n".to_owned(),
    )
}

/// The newest signed checkpoint, as a C2SP signed note.
async fn checkpoint(State(state): State<AppState>) -> Response {
    match state.service.latest_audit_checkpoint().await {
        Ok(Some(row)) => text(StatusCode::OK, row.note),
        Ok(None) => not_signed_yet(),
        Err(e) => internal(&e),
    }
}

/// The active verifier key (`name+hash+base64`, one line): the key that
/// signs new checkpoints, what a monitor pins. Only the newest, so the
/// reply can be saved and given to `keybound audit verify --key-file`;
/// older keys (after an origin change) are in the database and
/// `audit verify` uses them without `--key`.
async fn key(State(state): State<AppState>) -> Response {
    match state.service.audit_verifier_key().await {
        Ok(Some(key)) => text(StatusCode::OK, format!("{}\n", key.encode())),
        Ok(None) => not_signed_yet(),
        Err(e) => internal(&e),
    }
}

/// A decimal u64: ASCII digits only (no sign, no spaces, no hex), at most
/// 20 of them, no overflow.
fn decimal(value: &str) -> Option<u64> {
    if value.is_empty() || value.len() > 20 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

/// `old` and `new`, each exactly once, nothing else.
fn sizes(query: Option<&str>) -> Option<(u64, u64)> {
    let query = query?;
    if query.len() > MAX_QUERY {
        return None;
    }
    let (mut old, mut new) = (None, None);
    for pair in query.split('&') {
        let (name, value) = pair.split_once('=')?;
        let slot = match name {
            "old" => &mut old,
            "new" => &mut new,
            _ => return None,
        };
        if slot.is_some() {
            return None;
        }
        *slot = Some(decimal(value)?);
    }
    Some((old?, new?))
}

/// The consistency proof from the tree of `old` leaves to the signed
/// checkpoint of `new` leaves: `{"old":A,"new":B,"proof":["<base64>",...]}`.
/// 400 `invalid_request` unless `0 < old <= new` and `new` is the size of
/// a signed checkpoint.
async fn consistency(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    let Some((old, new)) = sizes(query.as_deref()) else {
        return invalid();
    };
    match state.service.audit_consistency(old, new).await {
        Ok(Some(proof)) => {
            let proof: Vec<String> = proof.iter().map(|h| STANDARD.encode(h)).collect();
            Json(json!({"old": old, "new": new, "proof": proof})).into_response()
        }
        Ok(None) => invalid(),
        Err(e) => internal(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_two_decimal_parameters_once_each() {
        assert_eq!(sizes(Some("old=1&new=2")), Some((1, 2)));
        assert_eq!(sizes(Some("new=2&old=1")), Some((1, 2)));
        for bad in [
            "",
            "old=1",
            "new=2",
            "old=1&new=2&x=3",
            "old=1&old=1&new=2",
            "old=+1&new=2",
            "old=-1&new=2",
            "old=0x1&new=2",
            "old=1&new=18446744073709551616",
            "old=1&new=",
            "old&new=2",
            "old=1&&new=2",
        ] {
            assert_eq!(sizes(Some(bad)), None, "{bad}");
        }
        assert_eq!(sizes(None), None);
        assert_eq!(
            sizes(Some("old=1&new=18446744073709551615")),
            Some((1, u64::MAX))
        );
    }
}
