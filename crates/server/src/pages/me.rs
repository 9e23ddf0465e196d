//! `/me`: my passkeys — when each was added and last used, whether it is
//! synced or bound to one device — with rename, revoke (confirmed when it is
//! the last) and add. The page also keeps the passkey provider in step
//! (signal methods in the script, fed by `#account`'s data attributes).
//! Below the passkeys, "Your devices" (`my_devices`).

use axum::extract::{Form, Path, Query, State};
use axum::http::{Extensions, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use keybound_service::{Account, Credential, ServiceError};
use keybound_webauthn::b64;
use maud::{html, Markup};

use super::{cross_site, date, layout, see_other, with_notice, Notice, NoticeQuery};
use crate::ceremony::context;
use crate::reply::from_service;
use crate::{cookies, AppState};

pub(super) async fn page(
    State(state): State<AppState>,
    Query(query): Query<NoticeQuery>,
    headers: HeaderMap,
) -> Response {
    let Some(session) = cookies::get(&headers, cookies::SESSION) else {
        return see_other("/", HeaderMap::new());
    };
    let account = match state.service.account(&session).await {
        Ok(account) => account,
        Err(e) => return not_signed_in(&state, &e),
    };
    let devices = match super::my_devices::Devices::load(&state, &session).await {
        Ok(devices) => devices,
        Err(e) => return not_signed_in(&state, &e),
    };
    let tasks = match state.service.my_tasks(&session).await {
        Ok(tasks) => tasks,
        Err(e) => return not_signed_in(&state, &e),
    };
    let notice = query.notice();
    layout(
        "Your passkeys and devices",
        "me",
        notice,
        html! {
            (account_page(&state, &account, &devices, notice))
            (super::my_devices::section(&devices, notice))
            (super::my_tasks::section(&tasks))
        },
    )
    .into_response()
}

fn account_page(
    state: &AppState,
    account: &Account,
    devices: &super::my_devices::Devices,
    notice: Option<Notice>,
) -> Markup {
    let accepted: Vec<String> = account
        .credentials
        .iter()
        .map(|c| b64::encode(&c.id))
        .collect();
    html! {
        div #account hidden
            data-rp-id=(state.service.config().rp_id)
            data-user-id=(b64::encode(&account.identity.user_handle))
            data-user-name=(account.identity.name)
            data-accepted=(accepted.join(" "))
            data-renamed[notice == Some(Notice::Renamed)] {}
        p {
            "Signed in as " strong #signed-in-as { (super::text::Shown(&account.identity.name)) } ". "
        }
        form method="post" action="/me/signout" { button #sign-out type="submit" { "Sign out" } }
        @if account.identity.is_admin {
            p { a #admin-console href="/admin" { "Admin console" } }
        }
        @if let Some(recovery) = &account.pending_recovery {
            div.problem #pending-recovery {
                p {
                    "Someone asked on " (date(recovery.requested_ms)) " to recover this account as if every passkey were lost ("
                    (recovery.approvals) " administrator approval(s) so far). If that was not you, object: the recovery is cancelled and the administrators are alerted."
                }
                form method="post" action={ "/me/recovery/" (recovery.id) "/object" } {
                    button #object-recovery type="submit" { "That was not me: cancel it" }
                }
            }
        }
        @if account.admin_lacks_tier {
            div.hint #admin-tier-help {
                p {
                    "The admin console needs a sign-in at tier " (keybound_service::ADMIN_MIN_TIER)
                    ": a device-bound passkey (a security key, or a passkey that stays on one device) used with your PIN or biometric. "
                    "Synced passkeys are tier 1."
                }
                p {
                    "Add one with “Add a passkey”. Added from a tier-1 session it counts as tier 1 until its attestation proves what it is "
                    "(ask for a security key your organisation's metadata covers) or another administrator vouches for it in the console; then sign in with it."
                }
            }
        }
        @if account.lacks_backup {
            p.hint #lacks-backup { "No backup yet: add another passkey on a second device, so that losing one does not lock you out." }
        }
        @if notice == Some(Notice::StepUp) && !account.admin_lacks_tier {
            button #step-up type="button" { "Confirm it is you" }
        }
        ul #credentials {
            @for credential in &account.credentials {
                (credential_item(
                    credential,
                    credential.id == account.session_credential,
                    devices.bound_by(&credential.id),
                ))
            }
        }
        button #add-passkey type="button" { "Add a passkey" }
        @if notice == Some(Notice::Added) && account.credentials.len() > 1 {
            p.hint #replace-hint { "Replacing a device? Now revoke the passkey of the old one above." }
        }
        noscript { p.problem { "Adding a passkey needs JavaScript; renaming and revoking do not." } }
    }
}

/// One passkey. `device` is the device it is the key of, if any: it is
/// named after the device until renamed, and says that revoking it
/// decommissions the device.
fn credential_item(
    credential: &Credential,
    this_session: bool,
    device: Option<&keybound_service::DeviceView>,
) -> Markup {
    let id = b64::encode(&credential.id);
    let unnamed = device.map_or_else(
        || "Unnamed passkey".to_owned(),
        |d| format!("Key of {}", d.label),
    );
    let name = credential.nickname.as_deref().unwrap_or(&unnamed);
    html! {
        li.credential data-credential-id=(id) {
            h2.nickname { (super::text::Shown(name)) }
            p.kind {
                @if let Some(device) = device {
                    "The key of your device " strong { (super::text::Shown(&device.label)) }
                    " (see “Your devices”): it exists only on that device. Revoking it decommissions the device."
                } @else if credential.backup_eligible {
                    "Synced passkey: your passkey provider keeps a copy on your other devices."
                } @else {
                    "Device-bound passkey: it exists only on the device that made it."
                }
            }
            p.tier { "Tier " (credential.tier) ": " (credential.tier_reasons) "." }
            p.dates {
                "Added " (date(credential.created_ms)) ". "
                // Enrolment signs in without a sign-in ceremony: the passkey
                // behind this session may never have been used to sign in.
                @match (credential.last_used_ms, this_session) {
                    (Some(ms), true) => { "Last used " (date(ms)) ". You signed in with this one." }
                    (Some(ms), false) => { "Last used " (date(ms)) "." }
                    (None, true) => { "You signed in with this one when you created it." }
                    (None, false) => { "Not used to sign in yet." }
                }
            }
            form.rename method="post" action={ "/me/credentials/" (id) "/rename" } {
                label { "Name " input name="nickname" type="text" maxlength="64" value=(credential.nickname.as_deref().unwrap_or("")); }
                button type="submit" { "Rename" }
            }
            form.revoke method="post" action={ "/me/credentials/" (id) "/revoke" } {
                button type="submit" { "Revoke" }
            }
        }
    }
}

/// The session is gone (expired, signed out, its credential revoked):
/// forget the cookie and go to sign-in.
pub(super) fn not_signed_in(state: &AppState, e: &ServiceError) -> Response {
    if *e != ServiceError::Forbidden {
        return from_service(e);
    }
    let mut out = HeaderMap::new();
    cookies::set_session(state, &mut out, "", 0);
    see_other(&with_notice("/", Notice::SessionEnded), out)
}

#[derive(serde::Deserialize)]
pub(super) struct RenameForm {
    #[serde(default)]
    nickname: String,
}

pub(super) async fn rename(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    extensions: Extensions,
    Form(form): Form<RenameForm>,
) -> Response {
    if cross_site(&state, &headers) {
        return StatusCode::FORBIDDEN.into_response();
    }
    let session = cookies::get(&headers, cookies::SESSION).unwrap_or_default();
    let ctx = context(&state, &headers, &extensions);
    match state
        .service
        .rename_credential(&session, &id, &form.nickname, &ctx)
        .await
    {
        Ok(()) => see_other(&with_notice("/me", Notice::Renamed), HeaderMap::new()),
        Err(ServiceError::NotFound) => {
            see_other(&with_notice("/me", Notice::NotFound), HeaderMap::new())
        }
        Err(ServiceError::Rejected(_)) => see_other(
            &with_notice("/me", Notice::InvalidNickname),
            HeaderMap::new(),
        ),
        Err(e) => not_signed_in(&state, &e),
    }
}

/// A form that asks before something that cannot be undone (revoking a
/// passkey, "I lost this device"): `confirm=yes` once the person agreed.
#[derive(serde::Deserialize)]
pub(super) struct ConfirmForm {
    #[serde(default)]
    pub(super) confirm: Option<String>,
}

pub(super) async fn revoke(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    extensions: Extensions,
    Form(form): Form<ConfirmForm>,
) -> Response {
    if cross_site(&state, &headers) {
        return StatusCode::FORBIDDEN.into_response();
    }
    let session = cookies::get(&headers, cookies::SESSION).unwrap_or_default();
    let confirmed = form.confirm.as_deref() == Some("yes");
    let ctx = context(&state, &headers, &extensions);
    match state
        .service
        .revoke_own_credential(&session, &id, confirmed, &ctx)
        .await
    {
        Ok(revoked) if revoked.ended_own_session => {
            let mut out = HeaderMap::new();
            cookies::set_session(&state, &mut out, "", 0);
            see_other(&with_notice("/", Notice::RevokedSignedOut), out)
        }
        Ok(_) => see_other(&with_notice("/me", Notice::Revoked), HeaderMap::new()),
        Err(ServiceError::ConfirmationRequired) => confirm_last(&id),
        Err(ServiceError::StepUpRequired) => {
            see_other(&with_notice("/me", Notice::StepUp), HeaderMap::new())
        }
        Err(ServiceError::NotFound) => {
            see_other(&with_notice("/me", Notice::NotFound), HeaderMap::new())
        }
        Err(e) => not_signed_in(&state, &e),
    }
}

/// Asks before a passkey the person cannot spare goes: below the backup
/// minimum losing the other device locks them out, and without any they
/// cannot sign in until an administrator lets them enrol anew.
fn confirm_last(id: &str) -> Response {
    layout(
        "Revoke this passkey?",
        "confirm-revoke",
        None,
        html! {
            p.problem {
                "You would be left without a backup passkey. If it is your only one, you "
                "cannot sign in once it is revoked, and will need a new invitation from an "
                "administrator to enrol again."
            }
            form method="post" action={ "/me/credentials/" (id) "/revoke" } {
                input type="hidden" name="confirm" value="yes";
                button #confirm-revoke type="submit" { "Revoke it anyway" }
            }
            p { a href="/me" { "Keep it" } }
        },
    )
    .into_response()
}

pub(super) async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
    extensions: Extensions,
) -> Response {
    if cross_site(&state, &headers) {
        return StatusCode::FORBIDDEN.into_response();
    }
    let mut out = HeaderMap::new();
    cookies::set_session(&state, &mut out, "", 0);
    if let Some(session) = cookies::get(&headers, cookies::SESSION) {
        if let Err(e) = state
            .service
            .sign_out(&session, &context(&state, &headers, &extensions))
            .await
        {
            return from_service(&e);
        }
    }
    see_other(&with_notice("/", Notice::SignedOut), out)
}

/// The signed-in person objects to a recovery of their own account.
pub(super) async fn object_to_recovery(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    extensions: Extensions,
) -> Response {
    if cross_site(&state, &headers) {
        return StatusCode::FORBIDDEN.into_response();
    }
    let session = cookies::get(&headers, cookies::SESSION).unwrap_or_default();
    let ctx = context(&state, &headers, &extensions);
    match state.service.object_to_recovery(&session, &id, &ctx).await {
        Ok(()) => see_other(
            &with_notice("/me", Notice::RecoveryObjected),
            HeaderMap::new(),
        ),
        Err(ServiceError::NotFound) => {
            see_other(&with_notice("/me", Notice::NotFound), HeaderMap::new())
        }
        Err(e) => not_signed_in(&state, &e),
    }
}
