//! `/enroll?token=…`: create a passkey from an invitation. The page tells
//! the holder plainly when the link is used, expired or wrong.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use keybound_service::InvitationState;
use maud::html;

use super::{date, layout};
use crate::reply::from_service;
use crate::AppState;

#[derive(serde::Deserialize)]
pub(super) struct EnrollQuery {
    #[serde(default)]
    token: String,
}

pub(super) async fn page(
    State(state): State<AppState>,
    Query(query): Query<EnrollQuery>,
) -> Response {
    let invitation = match state.service.invitation(&query.token).await {
        Ok(invitation) => invitation,
        Err(e) => return from_service(&e),
    };
    let rp_name = &state.service.config().rp_name;
    let (status, body) = match invitation {
        InvitationState::Open { name, expires_ms } => (
            StatusCode::OK,
            html! {
                div #site hidden data-rp-id=(state.service.config().rp_id) {}
                p { "Welcome, " strong { (super::text::Shown(&name)) } ". This invitation lets you create a passkey for "
                    (rp_name) ": a key that stays on your phone, computer or security key and signs "
                    "you in without a password." }
                p { "The invitation works once, until " (date(expires_ms)) "." }
                button #enroll-passkey type="button" data-token=(query.token) data-username=(name) {
                    "Create a passkey"
                }
                noscript { p.problem { "Creating a passkey needs JavaScript." } }
            },
        ),
        InvitationState::Used => (
            StatusCode::GONE,
            html! {
                p.problem { "This invitation has already been used. If that was you, sign in with your passkey." }
                p { a href="/" { "Sign in" } }
            },
        ),
        InvitationState::Expired => (
            StatusCode::GONE,
            html! {
                p.problem { "This invitation has expired. Ask the person who invited you for a new one." }
            },
        ),
        InvitationState::Unknown => (
            StatusCode::NOT_FOUND,
            html! {
                p.problem { "This invitation link is not valid. Check that you copied all of it, or ask for a new one." }
            },
        ),
    };
    (status, layout("Create your passkey", "enroll", None, body)).into_response()
}
