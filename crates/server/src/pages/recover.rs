//! `/recover`: someone who lost every passkey asks their administrators
//! for recovery by name. The answer is the same whether or not the name
//! exists; no email, SMS or codes are involved.

use axum::extract::{Form, State};
use axum::http::{Extensions, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::html;

use super::{cross_site, layout};
use crate::ceremony::context;
use crate::reply::from_service;
use crate::AppState;

pub(super) async fn page(State(state): State<AppState>) -> Response {
    let approvals = state.service.config().recovery.approvals;
    let who = if approvals == 1 {
        "One of them must approve".to_owned()
    } else {
        let n = super::count_words(approvals);
        let mut words = n.chars();
        let capital: String = words
            .next()
            .map(|c| c.to_uppercase().chain(words).collect())
            .unwrap_or_default();
        format!("{capital} of them must approve")
    };
    layout(
        "Lost your passkeys?",
        "recover",
        None,
        html! {
            p { "If every device with your passkeys is gone, your administrators can let you enrol a new one. " (who) "; one will then give you a new enrolment link in person or over a channel you trust." }
            form #recover-form method="post" action="/recover" {
                label for="recover-name" { "Username" }
                input #recover-name name="name" type="text" required autocomplete="username";
                button type="submit" { "Ask for recovery" }
            }
            p { a href="/" { "Back to sign in" } }
        },
    )
    .into_response()
}

#[derive(serde::Deserialize)]
pub(super) struct RecoverForm {
    name: String,
}

pub(super) async fn request(
    State(state): State<AppState>,
    headers: HeaderMap,
    extensions: Extensions,
    Form(form): Form<RecoverForm>,
) -> Response {
    if cross_site(&state, &headers) {
        return StatusCode::FORBIDDEN.into_response();
    }
    let ctx = context(&state, &headers, &extensions);
    let name = form.name.trim();
    if let Err(e) = state.service.admit(&ctx, Some(name)).await {
        return from_service(&e);
    }
    if let Err(e) = state.service.request_recovery(name, &ctx).await {
        return from_service(&e);
    }
    layout(
        "Recovery requested",
        "recover-requested",
        None,
        html! {
            p #recovery-requested { "If an account of that name exists, your administrators have been asked to approve its recovery. When they have, one of them will give you a new enrolment link." }
            p { a href="/" { "Back to sign in" } }
        },
    )
    .into_response()
}
