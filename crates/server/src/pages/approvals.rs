//! Approvals in the console: pending recoveries (approve, issue the grant,
//! deny) and proposed administrators (approve, turn down). Denying and
//! turning down are red and need the "I am sure" tick.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use keybound_service::{Admin, Approval, PendingRecovery, PendingRole, RoleGrant, ServiceError};
use maud::{html, Markup};

use super::admin::{enrol_link, nav};
use super::forms::danger_form;
use super::guard::{AdminForm, AdminPage};
use super::text::Shown;
use super::{date, layout, see_other, with_notice, Notice, NoticeQuery};
use crate::reply::from_service;
use crate::AppState;

/// The recoveries and proposed administrators, as the people page and the
/// recoveries page show them.
pub(super) fn sections(
    me: &Admin,
    recoveries: &[PendingRecovery],
    roles: &[PendingRole],
) -> Markup {
    html! {
        h2 { "Pending recoveries" }
        @if recoveries.is_empty() { p { "None." } }
        @for r in recoveries {
            div.recovery data-name=(r.name) {
                p {
                    strong { (Shown(&r.name)) } " asked " (date(r.requested_ms)) "; open until " (date(r.expires_ms)) ". "
                    "Approved by: " (Shown(&if r.approvers.is_empty() { "nobody yet".to_owned() } else { r.approvers.join(", ") })) "."
                    @if let Some(ready) = r.ready_ms { " Grant available from " (date(ready)) "." }
                }
                form.approve method="post" action={ "/admin/recoveries/" (r.id) "/approve" } {
                    label { "Old passkeys "
                        select name="revoke_old" { option value="yes" selected { "revoke" } option value="no" { "keep" } }
                    }
                    button type="submit" { "Approve" }
                }
                @if r.ready_ms.is_some() && r.approvers.contains(&me.name) {
                    form.issue method="post" action={ "/admin/recoveries/" (r.id) "/issue" } { button type="submit" { "Issue the grant" } }
                }
                (danger_form("deny", &format!("/admin/recoveries/{}/deny", r.id), &[], "Deny"))
            }
        }
        h2 { "Proposed administrators" }
        @if roles.is_empty() { p { "None." } }
        @for r in roles {
            div.role data-name=(r.name) {
                p {
                    strong { (Shown(&r.name)) } ": approved by " (Shown(&r.approvers.join(", "))) " ("
                    (r.approvers.len()) " of " (r.needed) " needed); open until " (date(r.expires_ms)) "."
                }
                @if !r.approvers.contains(&me.name) && r.name != me.name {
                    form.approve-role method="post" action={ "/admin/roles/" (r.id) "/approve" } { button type="submit" { "Approve" } }
                }
                (danger_form("deny-role", &format!("/admin/roles/{}/deny", r.id), &[], "Turn down"))
            }
        }
    }
}

/// `/admin/recoveries`: the approvals alone.
pub(super) async fn page(
    State(state): State<AppState>,
    Query(query): Query<NoticeQuery>,
    AdminPage { me, .. }: AdminPage,
) -> Response {
    let recoveries = match state.service.pending_recoveries((&me).into()).await {
        Ok(recoveries) => recoveries,
        Err(e) => return from_service(&e),
    };
    let roles = match state.service.pending_roles((&me).into()).await {
        Ok(roles) => roles,
        Err(e) => return from_service(&e),
    };
    layout(
        "Recoveries and roles",
        "admin-recoveries",
        query.notice(),
        html! {
            (nav("/admin/recoveries"))
            p.hint { "A recovery lets someone who lost every passkey enrol a new one; a proposed administrator gets the role once enough administrators approve." }
            (sections(&me, &recoveries, &roles))
        },
    )
    .into_response()
}

/// The tick a destructive approval form carries.
#[derive(serde::Deserialize, Default)]
pub(super) struct ConfirmForm {
    #[serde(default)]
    confirm: Option<String>,
}

/// Approve or turn down a proposed administrator.
pub(super) async fn role_action(
    State(state): State<AppState>,
    Path((id, action)): Path<(String, String)>,
    AdminForm { me, ctx, form }: AdminForm<ConfirmForm>,
) -> Response {
    let notice = |n| see_other(&with_notice("/admin", n), HeaderMap::new());
    let result = match action.as_str() {
        "approve" => state
            .service
            .approve_role(&me, &id, &ctx)
            .await
            .map(|grant| match grant {
                RoleGrant::Granted => notice(Notice::RoleGranted),
                RoleGrant::Proposed { .. } => notice(Notice::RoleProposed),
            }),
        "deny" if form.confirm.as_deref() != Some("yes") => return notice(Notice::ConfirmDeny),
        "deny" => state
            .service
            .deny_role(&me, &id, &ctx)
            .await
            .map(|()| notice(Notice::RoleDenied)),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    match result {
        Ok(response) => response,
        Err(ServiceError::Rejected(_)) => notice(Notice::RoleRefused),
        Err(ServiceError::NotFound) => notice(Notice::NotFound),
        Err(e) => from_service(&e),
    }
}

#[derive(serde::Deserialize, Default)]
pub(super) struct RecoveryForm {
    #[serde(default)]
    revoke_old: Option<String>,
    #[serde(default)]
    confirm: Option<String>,
}

/// Approve, issue or deny a recovery.
pub(super) async fn recovery_action(
    State(state): State<AppState>,
    Path((id, action)): Path<(String, String)>,
    AdminForm { me, ctx, form }: AdminForm<RecoveryForm>,
) -> Response {
    let notice = |n| see_other(&with_notice("/admin", n), HeaderMap::new());
    let result = match action.as_str() {
        "approve" => {
            let revoke_old = form.revoke_old.as_deref() != Some("no");
            state
                .service
                .approve_recovery_from(&me, &id, revoke_old, &ctx)
                .await
                .map(|approval| match approval {
                    Approval::NeedsMore { .. } => notice(Notice::RecoveryApproved),
                    Approval::Waiting { .. } => notice(Notice::RecoveryWaiting),
                    Approval::Issued(token) => grant_page(&state, &token.value),
                })
        }
        "issue" => state
            .service
            .issue_recovery_grant_from(&me, &id, &ctx)
            .await
            .map(|token| grant_page(&state, &token.value)),
        "deny" if form.confirm.as_deref() != Some("yes") => return notice(Notice::ConfirmDeny),
        "deny" => state
            .service
            .deny_recovery_from(&me, &id, &ctx)
            .await
            .map(|()| notice(Notice::RecoveryDenied)),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    match result {
        Ok(response) => response,
        Err(ServiceError::Rejected(keybound_service::Refusal::RecoveryNotReady)) => {
            notice(Notice::RecoveryWaiting)
        }
        Err(ServiceError::Rejected(_)) => notice(Notice::RecoveryRefused),
        Err(ServiceError::NotFound) => notice(Notice::NotFound),
        Err(e) => from_service(&e),
    }
}

/// The recovery grant, shown once to the approver who takes it.
fn grant_page(state: &AppState, token: &str) -> Response {
    layout(
        "Recovery grant",
        "admin-recovery-grant",
        None,
        html! {
            (nav("/admin/recoveries"))
            p { "Hand this link over in person or over a channel you trust. It enrols one new passkey, works once, and expires in 15 minutes; it is shown only now." }
            p { code #recovery-link { (enrol_link(state, token)) } }
        },
    )
    .into_response()
}
