//! The admin console: people (status, role, credentials with their tiers),
//! invitations, offboarding, and the audit log with filters. Every request
//! goes through [`keybound_service::Service::authorize_admin`]: an administrator at tier 2,
//! signed in within the step-up window.

use axum::extract::{Path, Query, State};
use axum::http::{Extensions, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use keybound_service::{Admin, Approval, ClientContext, RoleGrant, ServiceError};
use maud::{html, Markup};

use super::step_up::{ConsoleForm, Resume};
use super::text::Shown;
use super::{cross_site, date, layout, see_other, with_notice, Notice, NoticeQuery};
use crate::ceremony::context;
use crate::reply::from_service;
use crate::{cookies, AppState};

/// The administrator making this request, or the response that turns them
/// away: sign in, step up (carrying `resume`, so nothing typed is lost; or,
/// when none of their passkeys can reach the console's tier, what to add),
/// or not for you.
pub(super) async fn admin(
    state: &AppState,
    headers: &HeaderMap,
    ctx: &ClientContext,
    resume: Resume<'_>,
) -> Result<Admin, Response> {
    let Some(session) = cookies::get(headers, cookies::SESSION) else {
        return Err(see_other("/", HeaderMap::new()));
    };
    match state.service.authorize_admin(&session, ctx).await {
        Ok(identity) => Ok(identity),
        Err(ServiceError::StepUpRequired) => {
            let lacks_tier = state
                .service
                .account(&session)
                .await
                .is_ok_and(|a| a.admin_lacks_tier);
            if lacks_tier {
                return Err(see_other(
                    &with_notice("/me", Notice::AdminNeedsTier),
                    HeaderMap::new(),
                ));
            }
            let minutes = keybound_service::STEP_UP_WINDOW_MS / 60_000;
            Err(super::step_up::page(&resume, minutes))
        }
        Err(ServiceError::Forbidden) => Err((
            StatusCode::FORBIDDEN,
            layout(
                "Administrators only",
                "forbidden",
                None,
                html! { p.problem { "This page is for administrators." } p { a href="/me" { "Your passkeys" } } },
            ),
        )
            .into_response()),
        Err(e) => Err(from_service(&e)),
    }
}

/// [`admin`] for a form post, which must also come from our own pages.
pub(super) async fn admin_form(
    state: &AppState,
    headers: &HeaderMap,
    ctx: &ClientContext,
    resume: Resume<'_>,
) -> Result<Admin, Response> {
    if cross_site(state, headers) {
        return Err(StatusCode::FORBIDDEN.into_response());
    }
    admin(state, headers, ctx, resume).await
}

/// The enrolment link for a grant token, on the first configured origin.
fn enrol_link(state: &AppState, token: &str) -> String {
    let origin = state
        .service
        .config()
        .origins
        .origins()
        .first()
        .cloned()
        .unwrap_or_default();
    format!("{origin}/enroll?token={token}")
}

pub(super) fn nav() -> Markup {
    html! {
        nav { a href="/admin" { "People" } " · " a href="/admin/audit" { "Audit log" } " · " a href="/me" { "Your passkeys" } }
    }
}

pub(super) async fn people(
    State(state): State<AppState>,
    Query(query): Query<NoticeQuery>,
    uri: Uri,
    headers: HeaderMap,
    extensions: Extensions,
) -> Response {
    let ctx = context(&state, &headers, &extensions);
    let me = match admin(&state, &headers, &ctx, Resume::Page(&uri)).await {
        Ok(me) => me,
        Err(response) => return response,
    };
    let people = match state.service.people((&me).into()).await {
        Ok(people) => people,
        Err(e) => return from_service(&e),
    };
    let recoveries = match state.service.pending_recoveries((&me).into()).await {
        Ok(recoveries) => recoveries,
        Err(e) => return from_service(&e),
    };
    let roles = match state.service.pending_roles((&me).into()).await {
        Ok(roles) => roles,
        Err(e) => return from_service(&e),
    };
    layout(
        "People",
        "admin",
        query.notice(),
        html! {
            (nav())
            p { "Signed in as " strong { (Shown(&me.name)) } " (administrator)." }
            table #people {
                tr { th { "Name" } th { "Status" } th { "Role" } th { "Passkeys (tier)" } th { "" } }
                @for (identity, credentials) in &people {
                    tr data-name=(identity.name) {
                        td.name { (Shown(&identity.name)) }
                        td.status { (identity.status.as_str()) }
                        td.role { @if identity.is_admin { "admin" } @else { "user" } }
                        td.credentials {
                            @for c in credentials {
                                span.credential title=(c.tier_reasons) {
                                    (Shown(c.nickname.as_deref().unwrap_or("passkey"))) " (tier " (c.tier) ", "
                                    (match &c.status { keybound_service::CredentialStatus::Active => "active", keybound_service::CredentialStatus::Quarantined => "quarantined", _ => "revoked" })
                                    ") "
                                }
                                @if c.tier_cap.is_some() && c.status == keybound_service::CredentialStatus::Active && identity.name != me.name {
                                    form.vouch method="post" action={ "/admin/credentials/" (keybound_webauthn::b64::encode(&c.id)) "/vouch" } {
                                        button type="submit" title=(c.tier_reasons) { "Vouch for it" }
                                    }
                                }
                            }
                        }
                        td {
                            @if identity.status != keybound_service::IdentityStatus::Offboarded && identity.name != me.name {
                                form.offboard method="post" action="/admin/offboard" {
                                    input type="hidden" name="name" value=(identity.name);
                                    label { input type="checkbox" name="confirm" value="yes"; " I am sure" }
                                    button type="submit" { "Offboard" }
                                }
                            }
                        }
                    }
                }
            }
            h2 { "Pending recoveries" }
            @if recoveries.is_empty() { p { "None." } }
            @for r in &recoveries {
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
                    form.deny method="post" action={ "/admin/recoveries/" (r.id) "/deny" } { button type="submit" { "Deny" } }
                }
            }
            h2 { "Proposed administrators" }
            @if roles.is_empty() { p { "None." } }
            @for r in &roles {
                div.role data-name=(r.name) {
                    p {
                        strong { (r.name) } ": approved by " (r.approvers.join(", ")) " ("
                        (r.approvers.len()) " of " (r.needed) " needed); open until " (date(r.expires_ms)) "."
                    }
                    @if !r.approvers.contains(&me.name) && r.name != me.name {
                        form.approve-role method="post" action={ "/admin/roles/" (r.id) "/approve" } { button type="submit" { "Approve" } }
                    }
                    form.deny-role method="post" action={ "/admin/roles/" (r.id) "/deny" } { button type="submit" { "Turn down" } }
                }
            }
            h2 { "Invite" }
            p.hint { "Invitations are for new people, or people who were offboarded. Someone with an active account adds passkeys from their own page." }
            form #invite method="post" action="/admin/invite" {
                label { "Name " input name="name" type="text" required maxlength="64"; }
                label { input type="checkbox" name="admin" value="yes"; " Administrator (needs approval by other administrators; the console needs a tier-2 passkey)" }
                label { "Minimum tier "
                    select name="min_tier" { option value="1" { "1" } option value="2" { "2" } option value="3" { "3" } }
                }
                button type="submit" { "Create invitation" }
            }
        },
    )
    .into_response()
}

#[derive(serde::Deserialize)]
pub(super) struct InviteForm {
    name: String,
    #[serde(default)]
    admin: Option<String>,
    #[serde(default)]
    min_tier: Option<i64>,
}

pub(super) async fn invite(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    extensions: Extensions,
    ConsoleForm {
        value: form,
        fields,
    }: ConsoleForm<InviteForm>,
) -> Response {
    let ctx = context(&state, &headers, &extensions);
    let resume = Resume::Form {
        action: uri.path(),
        fields: &fields,
    };
    let me = match admin_form(&state, &headers, &ctx, resume).await {
        Ok(me) => me,
        Err(response) => return response,
    };
    let invitation = match state
        .service
        .console_invite(
            &me,
            form.name.trim(),
            form.admin.as_deref() == Some("yes"),
            form.min_tier.unwrap_or(1),
            &ctx,
        )
        .await
    {
        Ok(invitation) => invitation,
        Err(ServiceError::Rejected(keybound_service::Refusal::IdentityActive)) => {
            return see_other(
                &with_notice("/admin", Notice::IdentityActive),
                HeaderMap::new(),
            )
        }
        Err(ServiceError::Rejected(_)) => {
            return see_other(
                &with_notice("/admin", Notice::InvalidInvitation),
                HeaderMap::new(),
            )
        }
        Err(e) => return from_service(&e),
    };
    let link = enrol_link(&state, &invitation.token.value);
    let console_tier = keybound_service::ADMIN_MIN_TIER;
    layout(
        "Invitation created",
        "admin-invited",
        None,
        html! {
            (nav())
            p { "Hand this link to " strong { (Shown(form.name.trim())) } " in person or over a channel you trust. It works once and expires; it is shown only now." }
            p { code #invitation-link { (link) } }
            p #invitation-tier { "The passkey they enrol must reach at least tier " (invitation.min_tier) "." }
            @match &invitation.role {
                Some(RoleGrant::Granted) => p #invitation-role { "They are an administrator. The console needs a sign-in at tier " (console_tier) ": tell them to enrol a device-bound passkey (a security key, or a passkey that stays on one device) with a PIN or biometric." },
                Some(RoleGrant::Proposed { missing, .. }) => p #invitation-role { "The admin role is proposed: " (missing) " more administrator(s) must approve it under “Proposed administrators”. The console needs a sign-in at tier " (console_tier) ": tell them to enrol a device-bound passkey (a security key, or a passkey that stays on one device) with a PIN or biometric." },
                None => {},
            }
        },
    )
    .into_response()
}

/// Approve or turn down a proposed administrator.
pub(super) async fn role_action(
    State(state): State<AppState>,
    Path((id, action)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
    extensions: Extensions,
) -> Response {
    let ctx = context(&state, &headers, &extensions);
    let resume = Resume::Form {
        action: uri.path(),
        fields: &[],
    };
    let me = match admin_form(&state, &headers, &ctx, resume).await {
        Ok(me) => me,
        Err(response) => return response,
    };
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

/// Vouch for a passkey held below the tier it earned.
pub(super) async fn vouch(
    State(state): State<AppState>,
    Path(id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    extensions: Extensions,
) -> Response {
    let ctx = context(&state, &headers, &extensions);
    let resume = Resume::Form {
        action: uri.path(),
        fields: &[],
    };
    let me = match admin_form(&state, &headers, &ctx, resume).await {
        Ok(me) => me,
        Err(response) => return response,
    };
    let notice = |n| see_other(&with_notice("/admin", n), HeaderMap::new());
    match state.service.vouch_credential(&me, &id, &ctx).await {
        Ok(_) => notice(Notice::Vouched),
        Err(ServiceError::Rejected(_)) => notice(Notice::VouchRefused),
        Err(ServiceError::NotFound) => notice(Notice::NotFound),
        Err(e) => from_service(&e),
    }
}

#[derive(serde::Deserialize)]
pub(super) struct OffboardForm {
    name: String,
    #[serde(default)]
    confirm: Option<String>,
}

pub(super) async fn offboard(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    extensions: Extensions,
    ConsoleForm {
        value: form,
        fields,
    }: ConsoleForm<OffboardForm>,
) -> Response {
    let ctx = context(&state, &headers, &extensions);
    let resume = Resume::Form {
        action: uri.path(),
        fields: &fields,
    };
    let me = match admin_form(&state, &headers, &ctx, resume).await {
        Ok(me) => me,
        Err(response) => return response,
    };
    if form.confirm.as_deref() != Some("yes") {
        return see_other(
            &with_notice("/admin", Notice::ConfirmOffboard),
            HeaderMap::new(),
        );
    }
    if form.name == me.name {
        return see_other(
            &with_notice("/admin", Notice::NotYourself),
            HeaderMap::new(),
        );
    }
    match state.service.console_offboard(&me, &form.name, &ctx).await {
        Ok(_) => see_other(&with_notice("/admin", Notice::Offboarded), HeaderMap::new()),
        Err(ServiceError::Rejected(keybound_service::Refusal::OffboardSelf)) => see_other(
            &with_notice("/admin", Notice::NotYourself),
            HeaderMap::new(),
        ),
        Err(ServiceError::NotFound) => {
            see_other(&with_notice("/admin", Notice::NotFound), HeaderMap::new())
        }
        Err(e) => from_service(&e),
    }
}

#[derive(serde::Deserialize, Default)]
pub(super) struct RecoveryForm {
    #[serde(default)]
    revoke_old: Option<String>,
}

/// Approve, issue or deny a recovery.
pub(super) async fn recovery_action(
    State(state): State<AppState>,
    Path((id, action)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
    extensions: Extensions,
    ConsoleForm {
        value: form,
        fields,
    }: ConsoleForm<RecoveryForm>,
) -> Response {
    let ctx = context(&state, &headers, &extensions);
    let resume = Resume::Form {
        action: uri.path(),
        fields: &fields,
    };
    let me = match admin_form(&state, &headers, &ctx, resume).await {
        Ok(me) => me,
        Err(response) => return response,
    };
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
            (nav())
            p { "Hand this link over in person or over a channel you trust. It enrols one new passkey, works once, and expires in 15 minutes; it is shown only now." }
            p { code #recovery-link { (enrol_link(state, token)) } }
        },
    )
    .into_response()
}
