//! The pages people use: sign in, enrol from an invitation, my passkeys.
//! Server-rendered HTML (maud escapes everything interpolated); the only
//! script is `/assets/keybound.js`, which does the WebAuthn calls. Lists,
//! rename, revoke and sign-out are plain forms that work without it.

mod admin;
mod approvals;
mod apps;
mod audit;
mod console_devices;
mod console_tasks;
mod console_workloads;
mod enroll;
mod errors;
mod forms;
mod guard;
mod invitations;
mod me;
mod my_devices;
mod my_tasks;
mod person;
mod recover;
mod sign_in;
mod step_up;
mod step_up_return;
mod text;

use axum::http::header::{HeaderMap, LOCATION};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup, DOCTYPE};

pub(crate) use crate::same_origin::cross_site;
use crate::AppState;
pub(crate) use errors::{message, method_not_allowed, not_found};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(sign_in::page))
        .route("/step-up", get(step_up_return::page))
        .route("/enroll", get(enroll::page))
        .route("/me", get(me::page))
        .route("/me/signout", post(me::sign_out))
        .route("/me/credentials/{id}/rename", post(me::rename))
        .route("/me/credentials/{id}/revoke", post(me::revoke))
        .route("/me/devices/{name}/rename", post(my_devices::rename))
        .route(
            "/me/devices/{name}/decommission",
            post(my_devices::decommission),
        )
        .route("/admin/devices", get(console_devices::page))
        .route("/admin/workloads", get(console_workloads::page))
        .route("/admin/agents", get(console_tasks::agents))
        .route("/admin/tasks", get(console_tasks::tasks))
        .route("/admin/tasks/{id}/end", post(console_tasks::end))
        .route(
            "/admin/devices/{name}/{action}",
            post(console_devices::action),
        )
        .route("/admin", get(admin::people))
        .route("/admin/invite", post(admin::invite))
        .route("/admin/offboard", post(admin::offboard))
        .route("/admin/audit", get(audit::audit))
        .route("/admin/recoveries", get(approvals::page))
        .route(
            "/admin/recoveries/{id}/{action}",
            post(approvals::recovery_action),
        )
        .route("/admin/roles/{id}/{action}", post(approvals::role_action))
        .route("/admin/invitations", get(invitations::page))
        .route("/admin/invitations/void", post(invitations::void))
        .route("/admin/apps", get(apps::page).post(apps::add))
        .route("/admin/apps/remove", post(apps::remove))
        .route("/admin/person", get(person::page))
        .route("/admin/person/end-session", post(person::end_session))
        .route("/admin/credentials/{id}/vouch", post(admin::vouch))
        .route("/me/recovery/{id}/object", post(me::object_to_recovery))
        .route(
            "/me/tasks/{id}/approve/options",
            post(my_tasks::approve_options),
        )
        .route("/me/tasks/{id}/approve", post(my_tasks::approve))
        .route("/me/tasks/{id}/deny", post(my_tasks::deny))
        .route("/me/tasks/{id}/end", post(my_tasks::end))
        .route("/recover", get(recover::page).post(recover::request))
}

/// Messages a page can show after a redirect. The query carries only the
/// key, so no link can make our pages display text of its choosing.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Notice {
    SignedOut,
    SessionEnded,
    RevokedSignedOut,
    Enrolled,
    Added,
    Renamed,
    Revoked,
    NotFound,
    InvalidNickname,
    StepUp,
    InvalidInvitation,
    ConfirmOffboard,
    NotYourself,
    Offboarded,
    RecoveryApproved,
    RecoveryWaiting,
    RecoveryRefused,
    RecoveryDenied,
    IdentityActive,
    RoleProposed,
    RoleGranted,
    RoleDenied,
    RoleRefused,
    Vouched,
    VouchRefused,
    AdminNeedsTier,
    RecoveryObjected,
    ConfirmDeny,
    ConfirmEndSession,
    SessionEndedByAdmin,
    NoSuchSession,
    ConfirmVoid,
    InvitationVoided,
    NoOpenInvitation,
    // The console's apps (OpenID Connect clients).
    ConfirmRemoveApp,
    AppRemoved,
    NoSuchApp,
    // Devices: /me and the console's /admin/devices.
    DeviceTrusted,
    DeviceAwaiting,
    DeviceRenamed,
    DeviceDecommissioned,
    DeviceLostSignedOut,
    NoSuchDevice,
    UnknownDevice,
    InvalidDeviceLabel,
    DeviceApproved,
    DeviceUntrusted,
    DeviceUnchanged,
    ConfirmDecommission,
    // Agents' tasks on /me (issue 18).
    TaskApproved,
    TaskDenied,
    TaskEnded,
    TaskUnchanged,
    ConfirmEndTask,
}

impl Notice {
    const ALL: [Notice; 54] = [
        Notice::SignedOut,
        Notice::SessionEnded,
        Notice::RevokedSignedOut,
        Notice::Enrolled,
        Notice::Added,
        Notice::Renamed,
        Notice::Revoked,
        Notice::NotFound,
        Notice::InvalidNickname,
        Notice::StepUp,
        Notice::InvalidInvitation,
        Notice::ConfirmOffboard,
        Notice::NotYourself,
        Notice::Offboarded,
        Notice::RecoveryApproved,
        Notice::RecoveryWaiting,
        Notice::RecoveryRefused,
        Notice::RecoveryDenied,
        Notice::IdentityActive,
        Notice::RoleProposed,
        Notice::RoleGranted,
        Notice::RoleDenied,
        Notice::RoleRefused,
        Notice::Vouched,
        Notice::VouchRefused,
        Notice::AdminNeedsTier,
        Notice::RecoveryObjected,
        Notice::ConfirmDeny,
        Notice::ConfirmEndSession,
        Notice::SessionEndedByAdmin,
        Notice::NoSuchSession,
        Notice::ConfirmVoid,
        Notice::InvitationVoided,
        Notice::NoOpenInvitation,
        Notice::ConfirmRemoveApp,
        Notice::AppRemoved,
        Notice::NoSuchApp,
        Notice::DeviceTrusted,
        Notice::DeviceAwaiting,
        Notice::DeviceRenamed,
        Notice::DeviceDecommissioned,
        Notice::DeviceLostSignedOut,
        Notice::NoSuchDevice,
        Notice::UnknownDevice,
        Notice::InvalidDeviceLabel,
        Notice::DeviceApproved,
        Notice::DeviceUntrusted,
        Notice::DeviceUnchanged,
        Notice::ConfirmDecommission,
        Notice::TaskApproved,
        Notice::TaskDenied,
        Notice::TaskEnded,
        Notice::TaskUnchanged,
        Notice::ConfirmEndTask,
    ];

    pub(super) fn key(self) -> &'static str {
        match self {
            Notice::SignedOut => "signed-out",
            Notice::SessionEnded => "session-ended",
            Notice::RevokedSignedOut => "revoked-signed-out",
            Notice::Enrolled => "enrolled",
            Notice::Added => "added",
            Notice::Renamed => "renamed",
            Notice::Revoked => "revoked",
            Notice::NotFound => "not-found",
            Notice::InvalidNickname => "invalid-nickname",
            Notice::StepUp => "step-up",
            Notice::InvalidInvitation => "invalid-invitation",
            Notice::ConfirmOffboard => "confirm-offboard",
            Notice::NotYourself => "not-yourself",
            Notice::Offboarded => "offboarded",
            Notice::RecoveryApproved => "recovery-approved",
            Notice::RecoveryWaiting => "recovery-waiting",
            Notice::RecoveryRefused => "recovery-refused",
            Notice::RecoveryDenied => "recovery-denied",
            Notice::IdentityActive => "identity-active",
            Notice::RoleProposed => "role-proposed",
            Notice::RoleGranted => "role-granted",
            Notice::RoleDenied => "role-denied",
            Notice::RoleRefused => "role-refused",
            Notice::Vouched => "vouched",
            Notice::VouchRefused => "vouch-refused",
            Notice::AdminNeedsTier => "admin-needs-tier",
            Notice::RecoveryObjected => "recovery-objected",
            Notice::ConfirmDeny => "confirm-deny",
            Notice::ConfirmEndSession => "confirm-end-session",
            Notice::SessionEndedByAdmin => "session-ended-by-admin",
            Notice::NoSuchSession => "no-such-session",
            Notice::ConfirmVoid => "confirm-void",
            Notice::InvitationVoided => "invitation-voided",
            Notice::NoOpenInvitation => "no-open-invitation",
            Notice::ConfirmRemoveApp => "confirm-remove-app",
            Notice::AppRemoved => "app-removed",
            Notice::NoSuchApp => "no-such-app",
            Notice::DeviceTrusted => "device-trusted",
            Notice::DeviceAwaiting => "device-awaiting",
            Notice::DeviceRenamed => "device-renamed",
            Notice::DeviceDecommissioned => "device-decommissioned",
            Notice::DeviceLostSignedOut => "device-lost-signed-out",
            Notice::NoSuchDevice => "no-such-device",
            Notice::UnknownDevice => "unknown-device",
            Notice::InvalidDeviceLabel => "invalid-device-label",
            Notice::DeviceApproved => "device-approved",
            Notice::DeviceUntrusted => "device-untrusted",
            Notice::DeviceUnchanged => "device-unchanged",
            Notice::ConfirmDecommission => "confirm-decommission",
            Notice::TaskApproved => "task-approved",
            Notice::TaskDenied => "task-denied",
            Notice::TaskEnded => "task-ended",
            Notice::TaskUnchanged => "task-unchanged",
            Notice::ConfirmEndTask => "confirm-end-task",
        }
    }

    pub(super) fn from_key(key: &str) -> Option<Notice> {
        Notice::ALL.into_iter().find(|n| n.key() == key)
    }

    fn text(self) -> &'static str {
        match self {
            Notice::SignedOut => "You are signed out.",
            Notice::SessionEnded => "Your session has ended. Sign in again.",
            Notice::RevokedSignedOut => {
                "Passkey revoked. You had signed in with it, so you are now signed out: \
                 sign in with another passkey."
            }
            Notice::Enrolled => {
                "Your passkey is ready and you are signed in. Add a second passkey on \
                 another device as a backup, so losing one device does not lock you out."
            }
            Notice::Added => "Passkey added.",
            Notice::Renamed => "Passkey renamed.",
            Notice::Revoked => "Passkey revoked. It can no longer sign in.",
            Notice::NotFound => "That passkey is not one of yours, or was already revoked.",
            Notice::InvalidNickname => {
                "A passkey name is at most 64 characters, without control characters."
            }
            Notice::StepUp => {
                "This needs a recent sign-in with a device-bound passkey and user verification. \
                 Confirm it is you with a passkey, then try again."
            }
            Notice::InvalidInvitation => {
                "Names are 1 to 64 printable characters; the minimum tier is 1, 2 or 3."
            }
            Notice::ConfirmOffboard => "Tick \"I am sure\" to offboard someone.",
            Notice::NotYourself => "Administrators cannot offboard themselves here.",
            Notice::Offboarded => {
                "Offboarded: every passkey revoked, every session ended, every invitation voided."
            }
            Notice::RecoveryApproved => "Approved. More approvals are needed.",
            Notice::RecoveryWaiting => {
                "Approved. The waiting period runs; an approver can issue the grant after it."
            }
            Notice::RecoveryRefused => {
                "Not counted: nobody approves their own recovery, and each administrator counts once."
            }
            Notice::RecoveryDenied => "Recovery denied.",
            Notice::IdentityActive => {
                "That person already has an active account. Nobody can be invited into a live account: they add a passkey \
                 themselves from their own signed-in page, or, if they lost every passkey, through a recovery that other \
                 administrators approve."
            }
            Notice::RoleProposed => {
                "Your approval is recorded. The admin role needs approval by other administrators before it takes effect."
            }
            Notice::RoleGranted => {
                "The admin role is granted."
            }
            Notice::RoleDenied => {
                "The admin role proposal was turned down."
            }
            Notice::RoleRefused => {
                "Not counted: nobody approves their own promotion, and each administrator counts once."
            }
            Notice::Vouched => {
                "Vouched for: the passkey now counts the tier it earned."
            }
            Notice::VouchRefused => {
                "Not done: nobody vouches for their own passkey, and only passkeys held below their tier need it."
            }
            Notice::AdminNeedsTier => {
                "The admin console needs a sign-in at tier 2: a device-bound passkey (a security key, or a passkey that \
                 stays on one device) used with your PIN or biometric. None of your passkeys reaches tier 2 yet: see below."
            }
            Notice::ConfirmDeny => "Tick \"I am sure\" to deny or turn down.",
            Notice::ConfirmEndSession => "Tick \"I am sure\" to end a session.",
            Notice::SessionEndedByAdmin => "Session ended: that browser is signed out.",
            Notice::NoSuchSession => "That session had already ended.",
            Notice::ConfirmVoid => "Tick \"I am sure\" to void an invitation.",
            Notice::InvitationVoided => "Invitation voided: its link no longer works.",
            Notice::NoOpenInvitation => "There is no open invitation for that name (used, voided or expired).",
            Notice::ConfirmRemoveApp => "Tick \"I am sure\" to remove an app.",
            Notice::AppRemoved => {
                "App removed: its codes and tokens no longer work, and it can no longer sign anyone in."
            }
            Notice::NoSuchApp => "There is no app by that name (already removed?).",
            Notice::DeviceTrusted => "This device is trusted: sign in with its own screen lock (not a synced passkey) to reach what needs a trusted device.",
            Notice::DeviceAwaiting => "This device is enrolled and awaiting an administrator's approval. Until then, apps that need a trusted device refuse it.",
            Notice::DeviceRenamed => "Device renamed.",
            Notice::DeviceDecommissioned => "Device decommissioned: its key is revoked and every session it opened has ended.",
            Notice::DeviceLostSignedOut => "The device you were using is decommissioned: its key is revoked, and this browser is signed out. Sign in from another device.",
            Notice::UnknownDevice => "There is no device by that name.",
            Notice::NoSuchDevice => "That device is not one of yours, or it is already decommissioned.",
            Notice::InvalidDeviceLabel => "A device name is 1 to 64 characters, without control characters.",
            Notice::DeviceApproved => "Device trusted: policies that require a trusted device now admit it.",
            Notice::DeviceUntrusted => "Device untrusted: from its next request, policies that require a trusted device refuse it.",
            Notice::DeviceUnchanged => "Nothing changed: the device already had that trust, or it is decommissioned.",
            Notice::ConfirmDecommission => "Tick \"I am sure\" to decommission a device.",
            Notice::TaskApproved => "Task approved: the agent may act within it until it ends.",
            Notice::TaskDenied => "Task denied: the agent cannot use it.",
            Notice::TaskEnded => "Task ended: the agent's tokens for it no longer work.",
            Notice::TaskUnchanged => "Nothing changed: that task is not yours to decide, or it was already decided or ended.",
            Notice::ConfirmEndTask => "Tick \"I am sure\" to end a task.",
            Notice::RecoveryObjected => {
                "The recovery is cancelled and the administrators are alerted. If you did not ask for it, someone may be \
                 trying to take over your account."
            }
        }
    }

    /// Whether this reports a problem rather than a success.
    fn is_problem(self) -> bool {
        matches!(
            self,
            Notice::NotFound
                | Notice::InvalidNickname
                | Notice::StepUp
                | Notice::InvalidInvitation
                | Notice::ConfirmOffboard
                | Notice::NotYourself
                | Notice::RecoveryRefused
                | Notice::IdentityActive
                | Notice::RoleRefused
                | Notice::VouchRefused
                | Notice::AdminNeedsTier
                | Notice::ConfirmDeny
                | Notice::ConfirmEndSession
                | Notice::NoSuchSession
                | Notice::ConfirmVoid
                | Notice::NoOpenInvitation
                | Notice::ConfirmRemoveApp
                | Notice::NoSuchApp
                | Notice::NoSuchDevice
                | Notice::UnknownDevice
                | Notice::InvalidDeviceLabel
                | Notice::DeviceUnchanged
                | Notice::ConfirmDecommission
                | Notice::TaskUnchanged
                | Notice::ConfirmEndTask
        )
    }
}

/// The query every page accepts.
#[derive(serde::Deserialize, Default)]
struct NoticeQuery {
    #[serde(default)]
    notice: Option<String>,
}

impl NoticeQuery {
    fn notice(&self) -> Option<Notice> {
        self.notice.as_deref().and_then(Notice::from_key)
    }
}

/// The frame of every page. `page` names it for the script (`data-page`).
fn layout(title: &str, page: &str, notice: Option<Notice>, body: Markup) -> Markup {
    let class = if notice.is_some_and(Notice::is_problem) {
        "problem"
    } else {
        ""
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · keybound" }
                link rel="icon" href="/favicon.svg" type="image/svg+xml";
                link rel="stylesheet" href="/assets/keybound.css";
                script src="/assets/keybound.js" defer {}
            }
            body data-page=(page) {
                main {
                    h1 { (title) }
                    p #notice role="status" class=(class) {
                        @if let Some(n) = notice { (n.text()) }
                    }
                    p #error role="alert" {}
                    (body)
                }
            }
        }
    }
}

/// A number of people in words, for sentences ("two of them"): digits
/// past ten.
fn count_words(n: usize) -> String {
    const WORDS: [&str; 11] = [
        "none", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    ];
    WORDS
        .get(n)
        .map_or_else(|| n.to_string(), |w| (*w).to_owned())
}

/// 303 to `location`, optionally with extra headers (a cleared cookie).
fn see_other(location: &str, extra: HeaderMap) -> Response {
    let mut response = (StatusCode::SEE_OTHER, [(LOCATION, location.to_owned())]).into_response();
    response.headers_mut().extend(extra);
    response
}

fn with_notice(path: &str, notice: Notice) -> String {
    format!("{path}?notice={}", notice.key())
}

/// `2026-11-22 05:31 UTC`.
fn date(ms: i64) -> String {
    const FORMAT: &[time::format_description::FormatItem<'static>] =
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .ok()
        .and_then(|t| t.format(FORMAT).ok())
        .unwrap_or_else(|| "unknown".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notice_keys_round_trip_and_unknown_keys_show_nothing() {
        for n in Notice::ALL {
            assert!(Notice::from_key(n.key()) == Some(n));
        }
        assert!(Notice::from_key("<script>").is_none());
    }

    #[test]
    fn counts_read_as_words_then_digits() {
        assert_eq!(count_words(1), "one");
        assert_eq!(count_words(3), "three");
        assert_eq!(count_words(12), "12");
    }

    #[test]
    fn dates_are_utc_minutes() {
        assert_eq!(date(0), "1970-01-01 00:00 UTC");
        assert_eq!(date(1_795_325_460_000), "2026-11-22 05:31 UTC");
        assert_eq!(date(i64::MAX), "unknown");
    }
}
