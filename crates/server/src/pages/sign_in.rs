//! `/`: sign in by passkey — username-less (a button), by autofill on the
//! username field (conditional mediation), or by name for security keys
//! that hold no discoverable credential.

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use maud::html;

use super::{layout, see_other, NoticeQuery};
use crate::{cookies, AppState};

pub(super) async fn page(
    State(state): State<AppState>,
    Query(query): Query<NoticeQuery>,
    headers: HeaderMap,
) -> Response {
    if let Some(session) = cookies::get(&headers, cookies::SESSION) {
        if state.service.account(&session).await.is_ok() {
            return see_other("/me", HeaderMap::new());
        }
    }
    let config = state.service.config();
    let title = format!("Sign in to {}", config.rp_name);
    layout(
        &title,
        "sign-in",
        query.notice(),
        html! {
            div #site hidden data-rp-id=(config.rp_id) {}
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
