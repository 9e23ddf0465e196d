//! `/admin/person?name=…`: one person in the console — account, passkeys
//! with their tiers, live sessions (each can be ended), and offboarding.
//! Ending and offboarding are red and need the "I am sure" tick.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use keybound_service::{Credential, ServiceError};
use keybound_webauthn::b64;
use maud::html;

use super::admin::{credential_status, nav};
use super::forms::danger_form;
use super::guard::{AdminForm, AdminPage};
use super::text::Shown;
use super::{date, layout, see_other, Notice};
use crate::reply::from_service;
use crate::AppState;

#[derive(serde::Deserialize, Default)]
pub(super) struct PersonQuery {
    #[serde(default)]
    name: String,
    #[serde(default)]
    notice: Option<String>,
}

/// The person page with `notice`.
fn person_notice(name: &str, notice: Notice) -> String {
    format!(
        "/admin/person?{}",
        serde_urlencoded::to_string([("name", name), ("notice", notice.key())]).unwrap_or_default()
    )
}

pub(super) async fn page(
    State(state): State<AppState>,
    Query(query): Query<PersonQuery>,
    AdminPage { me, .. }: AdminPage,
) -> Response {
    let (identity, credentials) = match state.service.person((&me).into(), &query.name).await {
        Ok(found) => found,
        Err(ServiceError::NotFound) => return nobody(),
        Err(e) => return from_service(&e),
    };
    let sessions = match state
        .service
        .sessions_of((&me).into(), &identity.name)
        .await
    {
        Ok(sessions) => sessions,
        Err(e) => return from_service(&e),
    };
    let nickname = |id: &[u8]| -> String {
        credentials
            .iter()
            .find(|c: &&Credential| c.id == id)
            .and_then(|c| c.nickname.clone())
            .unwrap_or_else(|| "Unnamed passkey".to_owned())
    };
    let notice = query.notice.as_deref().and_then(Notice::from_key);
    let is_me = identity.id == me.identity().id;
    layout(
        &identity.name,
        "admin-person",
        notice,
        html! {
            (nav(""))
            dl #account-facts {
                dt { "Status" } dd #person-status { (identity.status.as_str()) }
                dt { "Role" } dd #person-role { @if identity.is_admin { "administrator" } @else { "user" } }
            }
            h2 { "Passkeys" }
            div.table-wrap tabindex="0" role="region" aria-label="Passkeys" {
                table #person-credentials {
                    tr { th scope="col" { "Name" } th scope="col" { "Kind" } th scope="col" { "Tier" } th scope="col" { "Status" } th scope="col" { "Added" } th scope="col" { "Last used" } }
                    @for c in &credentials {
                        tr data-credential-id=(b64::encode(&c.id)) {
                            td { (Shown(c.nickname.as_deref().unwrap_or("Unnamed passkey"))) }
                            td { @if c.backup_eligible { "synced" } @else { "device-bound" } }
                            td title=(c.tier_reasons) { (c.tier) ": " (c.tier_reasons) }
                            td { (credential_status(c)) }
                            td { (date(c.created_ms)) }
                            td { (c.last_used_ms.map(date).unwrap_or_else(|| "never".to_owned())) }
                        }
                    }
                }
            }
            @if credentials.is_empty() { p { "No passkeys." } }
            h2 { "Sessions" }
            @if sessions.is_empty() { p #no-sessions { "Not signed in anywhere." } }
            @else {
                div.table-wrap tabindex="0" role="region" aria-label="Sessions" {
                    table #sessions {
                        tr { th scope="col" { "Started" } th scope="col" { "Ends" } th scope="col" { "Passkey" } th scope="col" { "Tier" } th scope="col" { "End it" } }
                        @for s in &sessions {
                            tr.session {
                                td { (date(s.created_ms)) }
                                td { (date(s.expires_ms)) }
                                td { (Shown(&nickname(&s.credential_id))) @if !s.user_verified { " (no user verification)" } }
                                td { (s.tier) }
                                td {
                                    (danger_form(
                                        "end-session",
                                        "/admin/person/end-session",
                                        &[("name", &identity.name), ("session", &s.reference)],
                                        "End session",
                                    ))
                                }
                            }
                        }
                    }
                }
            }
            @if identity.status != keybound_service::IdentityStatus::Offboarded && !is_me {
                h2 { "Offboard" }
                p { "Revokes every passkey, ends every session and voids every invitation of this person. Only a new invitation brings them back." }
                (danger_form("offboard", "/admin/offboard", &[("name", &identity.name)], "Offboard"))
            }
            p { a href="/admin" { "Back to people" } }
        },
    )
    .into_response()
}

/// No such person: a 404 in the console's frame.
fn nobody() -> Response {
    (
        StatusCode::NOT_FOUND,
        layout(
            "Nobody by that name",
            "admin-person",
            None,
            html! {
                (nav(""))
                p.problem { "There is no account by that name." }
                p { a href="/admin" { "Back to people" } }
            },
        ),
    )
        .into_response()
}

#[derive(serde::Deserialize)]
pub(super) struct EndSessionForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    session: String,
    #[serde(default)]
    confirm: Option<String>,
}

/// Ends one of a person's sessions.
pub(super) async fn end_session(
    State(state): State<AppState>,
    AdminForm { me, ctx, form }: AdminForm<EndSessionForm>,
) -> Response {
    let back = |n| see_other(&person_notice(&form.name, n), HeaderMap::new());
    if form.confirm.as_deref() != Some("yes") {
        return back(Notice::ConfirmEndSession);
    }
    match state
        .service
        .end_session_of(&me, &form.name, &form.session, &ctx)
        .await
    {
        Ok(()) => back(Notice::SessionEndedByAdmin),
        Err(ServiceError::NotFound) => back(Notice::NoSuchSession),
        Err(e) => from_service(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pages::admin::person_link;

    #[test]
    fn person_links_survive_any_name() {
        assert_eq!(
            person_link("ada lovelace"),
            "/admin/person?name=ada+lovelace"
        );
        assert_eq!(
            person_notice("a&b", Notice::SessionEndedByAdmin),
            "/admin/person?name=a%26b&notice=session-ended-by-admin"
        );
    }
}
