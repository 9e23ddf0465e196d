//! `/step-up?rd=URL&tier=N`: an app behind forward-auth (or the OIDC
//! provider) needs a sign-in proving at least tier N now. The page asks for
//! it (the same step-up ceremony as the console's: a sign-in from a
//! signed-in browser replaces its session), then goes to URL if
//! [`super::sign_in::return_to`] allows it, else to `/me`. A person with no
//! passkey of that tier is told so plainly, not sent round in a loop.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::html;
use serde::Deserialize;

use super::sign_in::return_to;
use super::{layout, see_other};
use crate::{cookies, AppState};

/// `?rd=URL&tier=N`.
#[derive(Deserialize)]
pub(super) struct StepUpQuery {
    #[serde(default)]
    rd: Option<String>,
    #[serde(default)]
    tier: Option<String>,
}

pub(super) async fn page(
    State(state): State<AppState>,
    Query(query): Query<StepUpQuery>,
    headers: HeaderMap,
) -> Response {
    let back = return_to(&state, query.rd.as_deref());
    let Some(tier) = query
        .tier
        .as_deref()
        .and_then(|t| t.parse::<i64>().ok())
        .and_then(keybound_service::Tier::from_number)
    else {
        return (StatusCode::BAD_REQUEST, "tier must be 1, 2 or 3").into_response();
    };
    let signed_in = match cookies::get(&headers, cookies::SESSION) {
        Some(session) => state.service.account(&session).await.ok(),
        None => None,
    };
    let Some(account) = signed_in else {
        // Not signed in: a plain sign-in first, which comes back here.
        let here = format!(
            "/step-up?{}",
            serde_urlencoded::to_string([
                ("rd", back.as_deref().unwrap_or("/me")),
                ("tier", &tier.number().to_string()),
            ])
            .unwrap_or_default()
        );
        let to = format!(
            "/?{}",
            serde_urlencoded::to_string([("rd", here.as_str())]).unwrap_or_default()
        );
        return see_other(&to, HeaderMap::new());
    };
    let reachable = account.credentials.iter().any(|c| tier.reached_by(c.tier));
    let body = html! {
        div #site hidden data-rp-id=(state.service.config().rp_id)
            data-return=(back.as_deref().unwrap_or("/me")) {}
        @if reachable {
            p {
                "This needs a sign-in with a passkey of tier " (tier.number())
                " or higher, now. Confirm it is you with such a passkey; then "
                "you go back to where you were."
            }
            button #step-up type="button" { "Confirm it is you" }
            noscript { p.problem { "Confirming with a passkey needs JavaScript." } }
        } @else {
            p.problem #no-passkey-of-tier {
                "This needs a passkey of tier " (tier.number())
                " or higher, and none of yours is. Add one that is (a device-bound "
                "security key for tier 2, a certified one for tier 3), then try again."
            }
        }
        p { a href="/me" { "Go to your passkeys" } }
    };
    (
        StatusCode::FORBIDDEN,
        layout("Confirm it is you", "step-up-return", None, body),
    )
        .into_response()
}
