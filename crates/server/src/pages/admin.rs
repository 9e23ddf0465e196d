//! The admin console: people (status, role, credentials with their tiers),
//! invitations, offboarding, the apps that sign people in (`apps`), and
//! the audit log with filters. Every request
//! goes through [`keybound_service::Service::authorize_admin`]: an administrator at tier 2,
//! signed in within the step-up window.

use axum::extract::{Path, Query, State};
use axum::http::{Extensions, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use keybound_service::{Admin, ClientContext, RoleGrant, ServiceError};
use maud::{html, Markup};

use super::guard::{AdminForm, AdminPage};
use super::step_up::Resume;
use super::text::Shown;
use super::{cross_site, layout, see_other, with_notice, Notice, NoticeQuery};
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
            let window = state.service.config().step_up_window_ms;
            Err(super::step_up::page(&resume, window))
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
pub(super) fn enrol_link(state: &AppState, token: &str) -> String {
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

/// The console's menu; `here` is the current page's path.
pub(super) fn nav(here: &str) -> Markup {
    const PAGES: [(&str, &str); 10] = [
        ("/admin", "People"),
        ("/admin/devices", "Devices"),
        ("/admin/workloads", "Workloads"),
        ("/admin/agents", "Agents"),
        ("/admin/tasks", "Tasks"),
        ("/admin/invitations", "Invitations"),
        ("/admin/recoveries", "Recoveries and roles"),
        ("/admin/apps", "Apps"),
        ("/admin/audit", "Audit log"),
        ("/me", "Your passkeys"),
    ];
    html! {
        nav aria-label="Console" {
            @for (path, label) in PAGES {
                a href=(path) aria-current=[(path == here).then_some("page")] { (label) }
            }
        }
    }
}

/// The query of the people page: a name search, the page, a notice.
#[derive(serde::Deserialize, serde::Serialize, Default, Clone)]
pub(super) struct PeopleQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    q: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    after: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    notice: Option<String>,
}

/// People on one page of the console.
const PEOPLE_PAGE: usize = 50;

pub(super) async fn people(
    State(state): State<AppState>,
    Query(query): Query<PeopleQuery>,
    AdminPage { me, .. }: AdminPage,
) -> Response {
    let wanted = keybound_service::PeopleQuery {
        name_contains: query.q.clone(),
        after: query.after.clone(),
        limit: PEOPLE_PAGE,
    };
    let page = match state.service.people_page((&me).into(), &wanted).await {
        Ok(page) => page,
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
    let notice = NoticeQuery {
        notice: query.notice.clone(),
    }
    .notice();
    let next = page.next.as_ref().map(|after| {
        let next = PeopleQuery {
            after: Some(after.clone()),
            notice: None,
            ..query.clone()
        };
        format!(
            "/admin?{}",
            serde_urlencoded::to_string(&next).unwrap_or_default()
        )
    });
    let search = query.q.clone().unwrap_or_default();
    layout(
        "People",
        "admin",
        notice,
        html! {
            (nav("/admin"))
            p { "Signed in as " strong { (Shown(&me.name)) } " (administrator)." }
            form.inline-form #people-search method="get" action="/admin" role="search" {
                label { "Name contains " input name="q" type="search" maxlength="64" value=(search); }
                button type="submit" { "Search" }
                @if !search.is_empty() { a href="/admin" { "Show everyone" } }
            }
            div.table-wrap tabindex="0" role="region" aria-label="People" {
                table #people {
                    tr { th scope="col" { "Name" } th scope="col" { "Status" } th scope="col" { "Role" } th scope="col" { "Passkeys (tier)" } }
                    @for (identity, credentials) in &page.people {
                        tr data-name=(identity.name) {
                            td.name { a href=(person_link(&identity.name)) { (Shown(&identity.name)) } }
                            td.status { (identity.status.as_str()) }
                            td.role { @if identity.is_admin { "admin" } @else { "user" } }
                            td.credentials {
                                @for c in credentials {
                                    span.credential title=(c.tier_reasons) {
                                        (Shown(c.nickname.as_deref().unwrap_or("passkey"))) " (tier " (c.tier) ", "
                                        (credential_status(c))
                                        ") "
                                        @if c.tier_cap.is_some() && c.status == keybound_service::CredentialStatus::Active && identity.name != me.name {
                                            form.vouch method="post" action={ "/admin/credentials/" (keybound_webauthn::b64::encode(&c.id)) "/vouch" } {
                                                button.secondary type="submit" title=(c.tier_reasons) { "Vouch for it" }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if page.people.is_empty() { p #no-people { "Nobody matches." } }
            @if let Some(next) = &next {
                p.pager { a #next-people href=(next) { "Next page" } }
            }
            (super::approvals::sections(&me, &recoveries, &roles))
            h2 #invite-heading { "Invite" }
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

/// A credential's status in a word.
pub(super) fn credential_status(c: &keybound_service::Credential) -> &'static str {
    match &c.status {
        keybound_service::CredentialStatus::Active => "active",
        keybound_service::CredentialStatus::Quarantined => "quarantined",
        _ => "revoked",
    }
}

/// The console's page of one person.
pub(super) fn person_link(name: &str) -> String {
    format!(
        "/admin/person?{}",
        serde_urlencoded::to_string([("name", name)]).unwrap_or_default()
    )
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
    AdminForm { me, ctx, form }: AdminForm<InviteForm>,
) -> Response {
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
            (nav(""))
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
    AdminForm { me, ctx, form }: AdminForm<OffboardForm>,
) -> Response {
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
