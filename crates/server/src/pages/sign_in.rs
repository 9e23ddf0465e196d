//! `/`: sign in by passkey — username-less (a button), by autofill on the
//! username field (conditional mediation), or by name for security keys
//! that hold no discoverable credential. With `?rd=URL` (an app behind
//! forward-auth, or the OIDC provider, sent the browser here) the browser
//! goes back to URL afterwards, if [`return_url::allowed`] allows it; the
//! page carries only the checked address, which is all the script follows.

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use maud::html;
use serde::Deserialize;

use super::{layout, see_other, Notice};
use crate::forward::return_url;
use crate::{cookies, AppState};

/// `?notice=KEY&rd=URL`.
#[derive(Deserialize)]
pub(super) struct SignInQuery {
    #[serde(default)]
    notice: Option<String>,
    #[serde(default)]
    rd: Option<String>,
}

/// Where `rd` may take the browser after signing in, if anywhere.
pub(super) fn return_to(state: &AppState, rd: Option<&str>) -> Option<String> {
    return_url::allowed(
        rd?,
        state.service.config().origins.origins(),
        state.cookie_domain.as_deref(),
    )
}

pub(super) async fn page(
    State(state): State<AppState>,
    Query(query): Query<SignInQuery>,
    headers: HeaderMap,
) -> Response {
    let back = return_to(&state, query.rd.as_deref());
    if let Some(session) = cookies::get(&headers, cookies::SESSION) {
        if state.service.account(&session).await.is_ok() {
            return see_other(back.as_deref().unwrap_or("/me"), HeaderMap::new());
        }
    }
    let config = state.service.config();
    let title = format!("Sign in to {}", config.rp_name);
    let notice = query.notice.as_deref().and_then(Notice::from_key);
    layout(
        &title,
        "sign-in",
        notice,
        html! {
            div #site hidden data-rp-id=(config.rp_id) data-return=[back.as_deref()] {}
            form #signin-form {
                label for="username" { "Username" }
                input #username name="username" type="text" required
                    autocomplete="username webauthn" autocapitalize="none" spellcheck="false";
                button #signin-by-name type="submit" { "Sign in" }
            }
            p { "or" }
            button #signin-passkey type="button" { "Sign in with a passkey" }
            noscript { p.problem { "Signing in with a passkey needs JavaScript." } }
            p { a #lost-passkeys href="/recover" { "Lost all your passkeys?" } }
        },
    )
    .into_response()
}
