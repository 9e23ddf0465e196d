//! "Your devices" on `/me` (issue 16): the devices a person enrolled, which
//! one this browser is on, "Trust this device" (the script runs the
//! ceremony, `ceremony::device`), rename, and "I lost this device". The
//! forms are plain HTML, sent from our own pages only (`cross_site`), like
//! every other `/me` form; "I lost this device" asks once more on a page
//! of its own before anything is revoked.

use axum::extract::{Path, State};
use axum::http::{Extensions, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use keybound_service::{DeviceView, ServiceError};
use maud::{html, Markup};
use std::collections::HashMap;

use super::text::Shown;
use super::{cross_site, date, layout, see_other, with_notice, Notice};
use crate::ceremony::context;
use crate::{cookies, AppState};

/// What `/me` knows about devices: the person's devices and the one this
/// browser's session was proven on, if any.
pub(super) struct Devices {
    pub(super) all: Vec<DeviceView>,
    pub(super) this: Option<DeviceView>,
    /// Each live device's posture in words ([`posture_words`]), by name.
    pub(super) postures: HashMap<String, String>,
}

impl Devices {
    /// The live device whose key is `credential_id`, if any.
    pub(super) fn bound_by(&self, credential_id: &[u8]) -> Option<&DeviceView> {
        let id = keybound_webauthn::b64::encode(credential_id);
        self.all.iter().find(|d| {
            d.status != "decommissioned" && d.credential_id.as_deref() == Some(id.as_str())
        })
    }

    /// Loads them for `session`.
    pub(super) async fn load(state: &AppState, session: &str) -> Result<Devices, ServiceError> {
        let all = state.service.my_devices(session).await?;
        let this = state.service.device_of_session(session).await?;
        let postures = state
            .service
            .my_device_postures(session)
            .await?
            .into_iter()
            .map(|p| (p.device, posture_words(&p.effective)))
            .collect();
        Ok(Devices {
            all,
            this,
            postures,
        })
    }
}

/// A device's trust in a few words, for a person.
pub(super) fn trust_words(device: &DeviceView) -> &'static str {
    match device.status.as_str() {
        "trusted" => "Trusted",
        "decommissioned" => "Decommissioned",
        _ if device.trust_reason.starts_with("awaiting") => "Awaiting approval",
        _ => "Not trusted",
    }
}

/// The reason beside [`trust_words`], without repeating them: "awaiting an
/// administrator: attestation not verified" reads "attestation not
/// verified" after "Awaiting approval".
pub(super) fn trust_detail(device: &DeviceView) -> &str {
    let reason = device.trust_reason.trim();
    match reason.strip_prefix("awaiting an administrator") {
        Some(rest) => rest
            .trim_start_matches([':', ' '])
            .trim_start_matches('(')
            .trim_end_matches(')'),
        None => reason,
    }
}

/// Where a device's key lives, in a few words.
pub(super) fn key_words(device: &DeviceView) -> &'static str {
    match device.key_storage.as_str() {
        "hardware" => "key in the device's security hardware (attested)",
        "device-bound" => "key that never leaves the device (attested)",
        // Every device key reported itself device-bound; without attestation
        // nobody vouches for that.
        _ => "key said to stay on the device (not attested)",
    }
}

/// The "Your devices" section of `/me`.
pub(super) fn section(devices: &Devices, notice: Option<Notice>) -> Markup {
    let this_name = devices.this.as_ref().map(|d| d.name.as_str());
    // Just enrolled: the session is still the one the person trusted the
    // device from, opened with another passkey.
    let just_enrolled = matches!(notice, Some(Notice::DeviceTrusted | Notice::DeviceAwaiting));
    let this_is_a_device = devices
        .this
        .as_ref()
        .is_some_and(|d| d.status != "decommissioned");
    let (live, gone): (Vec<&DeviceView>, Vec<&DeviceView>) = devices
        .all
        .iter()
        .partition(|d| d.status != "decommissioned");
    html! {
        section #devices aria-labelledby="devices-heading" {
            h2 #devices-heading { "Your devices" }
            p.hint {
                "A trusted device is a computer or phone your organisation knows, proven by a key that never leaves it. "
                "Some apps open only from a trusted device."
            }
            p #this-device {
                @match &devices.this {
                    Some(d) if d.status == "trusted" => {
                        "This browser is on " strong { (Shown(&d.label)) } ", a trusted device."
                    }
                    Some(d) if d.status != "decommissioned" => {
                        "This browser is on " strong { (Shown(&d.label)) } ", which is enrolled but not trusted yet ("
                        (trust_words(d).to_lowercase()) "). Apps that need a trusted device refuse it until then."
                    }
                    _ if just_enrolled => {
                        "This device is enrolled. This browser is still signed in with the passkey you used before: "
                        strong { "sign out, then sign in with this device's screen lock" }
                        ". From then on this browser counts as the device."
                    }
                    _ => {
                        "This browser does not count as a device: you signed in with a passkey that is not a device's own key."
                        @if !live.is_empty() {
                            " If this is one of the devices below, sign out and sign in with its screen lock."
                        }
                    }
                }
            }
            @if !this_is_a_device && !just_enrolled {
                div #trust-this-device .card {
                    label for="device-label" { "Name of this device" }
                    div.inline-form {
                        input #device-label type="text" maxlength="64" placeholder="Work laptop" autocomplete="off";
                        button #trust-device type="button" { "Trust this device" }
                    }
                    p #device-error role="alert" {}
                    p.hint {
                        "Your device makes a key of its own with its screen lock (Windows Hello, Touch ID, or the phone's lock). "
                        "Synced passkeys and security keys cannot stand for a device. An administrator may have to approve it."
                    }
                    noscript { p.problem { "Trusting a device needs JavaScript." } }
                }
            }
            @if live.is_empty() {
                p #no-devices { "No devices yet." }
            }
            ul #device-list {
                @for device in &live {
                    (device_item(
                        device,
                        Some(device.name.as_str()) == this_name,
                        devices.postures.get(&device.name).map(String::as_str),
                    ))
                }
            }
            @if !gone.is_empty() {
                details #decommissioned-devices {
                    summary { "Decommissioned devices (" (gone.len()) ")" }
                    ul {
                        @for device in &gone {
                            li.device.decommissioned data-device=(device.name) {
                                (Shown(&device.label)) ", decommissioned "
                                (device.decommissioned_ms.map_or_else(|| "earlier".to_owned(), date)) "."
                            }
                        }
                    }
                }
            }
        }
    }
}

fn device_item(device: &DeviceView, this: bool, posture: Option<&str>) -> Markup {
    let name = &device.name;
    let platform = if device.platform.is_empty() {
        "Unknown platform"
    } else {
        device.platform.as_str()
    };
    html! {
        li.device data-device=(name) data-status=(device.status) {
            h3.label {
                (Shown(&device.label))
                @if this { " " span.this-device { "This device" } }
            }
            p.platform { (Shown(platform)) ", " (key_words(device)) "." }
            p.trust {
                strong { (trust_words(device)) } @if !trust_detail(device).is_empty() { ": " (Shown(trust_detail(device))) } "."
            }
            @if let Some(posture) = posture {
                p.posture { "Posture: " (Shown(posture)) "." }
            }
            p.seen {
                "Enrolled " (date(device.created_ms)) ". "
                @match device.last_seen_ms {
                    Some(ms) => { "Last seen " (date(ms)) "." }
                    None => { "Not seen since." }
                }
            }
            form.rename-device method="post" action={ "/me/devices/" (name) "/rename" } {
                label { "Name " input name="label" type="text" required maxlength="64" value=(device.label); }
                button type="submit" { "Rename" }
            }
            form.lose-device method="post" action={ "/me/devices/" (name) "/decommission" } {
                button.danger type="submit" { "I lost this device" }
            }
        }
    }
}

#[derive(serde::Deserialize)]
pub(super) struct RenameForm {
    #[serde(default)]
    label: String,
}

/// Renames one of the person's devices; someone else's is "not one of
/// yours", exactly as one that does not exist.
pub(super) async fn rename(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    extensions: Extensions,
    Form(form): Form<RenameForm>,
) -> Response {
    if cross_site(&state, &headers) {
        return StatusCode::FORBIDDEN.into_response();
    }
    let session = cookies::get(&headers, cookies::SESSION).unwrap_or_default();
    let ctx = context(&state, &headers, &extensions);
    let to = |n| see_other(&with_notice("/me", n), HeaderMap::new());
    match state
        .service
        .rename_my_device(&session, &name, &form.label, &ctx)
        .await
    {
        Ok(()) => to(Notice::DeviceRenamed),
        Err(ServiceError::NotFound) => to(Notice::NoSuchDevice),
        Err(ServiceError::Rejected(keybound_service::Refusal::InvalidDeviceLabel)) => {
            to(Notice::InvalidDeviceLabel)
        }
        Err(ServiceError::Rejected(_)) => to(Notice::NoSuchDevice),
        Err(e) => super::me::not_signed_in(&state, &e),
    }
}

/// "I lost this device": without `confirm=yes`, the page that asks; with
/// it, the device is decommissioned (its key revoked, its sessions ended).
/// When that was the device this browser signed in with, this browser's
/// session is among them: the cookie is cleared and the person lands on
/// the sign-in page, told why.
pub(super) async fn decommission(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    extensions: Extensions,
    Form(form): Form<super::me::ConfirmForm>,
) -> Response {
    if cross_site(&state, &headers) {
        return StatusCode::FORBIDDEN.into_response();
    }
    let session = cookies::get(&headers, cookies::SESSION).unwrap_or_default();
    let to = |n| see_other(&with_notice("/me", n), HeaderMap::new());
    if form.confirm.as_deref() != Some("yes") {
        return match Devices::load(&state, &session).await {
            Ok(devices) => match devices
                .all
                .iter()
                .find(|d| d.name == name && d.status != "decommissioned")
            {
                Some(device) => {
                    let in_use = devices.this.as_ref().is_some_and(|t| t.name == name);
                    confirm_page(device, in_use)
                }
                None => to(Notice::NoSuchDevice),
            },
            Err(e) => super::me::not_signed_in(&state, &e),
        };
    }
    let ctx = context(&state, &headers, &extensions);
    match state
        .service
        .decommission_my_device(&session, &name, &ctx)
        .await
    {
        Ok(done) if done.ended_own_session => {
            let mut out = HeaderMap::new();
            cookies::set_session(&state, &mut out, "", 0);
            see_other(&with_notice("/", Notice::DeviceLostSignedOut), out)
        }
        Ok(_) => to(Notice::DeviceDecommissioned),
        Err(ServiceError::NotFound | ServiceError::Rejected(_)) => to(Notice::NoSuchDevice),
        Err(e) => super::me::not_signed_in(&state, &e),
    }
}

/// Asks before a device is decommissioned: it cannot be undone.
fn confirm_page(device: &DeviceView, in_use: bool) -> Response {
    layout(
        "Lost this device?",
        "confirm-decommission",
        None,
        html! {
            p {
                "Decommission " strong { (Shown(&device.label)) } "? Its key is revoked and every browser signed in with it is signed out. "
                "This cannot be undone: found again, the device has to be trusted anew, and the administrators are alerted if its old key is used."
            }
            @if in_use {
                p.problem #in-use { "This is the device you are using now: this browser is signed out too. Sign in from another device afterwards." }
            }
            form method="post" action={ "/me/devices/" (device.name) "/decommission" } {
                input type="hidden" name="confirm" value="yes";
                button.danger #confirm-decommission type="submit" { "Decommission it" }
            }
            p { a href="/me" { "Keep it" } }
        },
    )
    .into_response()
}

/// A device's posture in one line, for `/me` and the console: what an MDM
/// or an administrator says (managed, compliant, disk encrypted), the OS
/// and where that came from, the browser. Unknown and stale facts read as
/// absent (they are, to a policy), so they are left out; with none at all
/// the line says so.
pub(super) fn posture_words(p: &keybound_service::policies::Posture) -> String {
    let mut parts: Vec<String> = Vec::new();
    for (known, word) in [
        (p.managed, "managed"),
        (p.compliant, "compliant"),
        (p.disk_encrypted, "disk encrypted"),
    ] {
        if known {
            parts.push(word.to_owned());
        }
    }
    if !p.os_version.is_empty() {
        let source = match p.os_source.as_str() {
            "client_hints" => " (as the browser reports)",
            "import" => " (from the inventory)",
            "admin" => " (set by an administrator)",
            _ => "",
        };
        parts.push(format!("OS {}{source}", p.os_version));
    }
    if !p.browser.is_empty() {
        parts.push(
            format!("browser {} {}", p.browser, p.browser_version)
                .trim()
                .to_owned(),
        );
    }
    if parts.is_empty() {
        "nothing known yet".to_owned()
    } else {
        parts.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keybound_service::policies::Posture;

    #[test]
    fn posture_reads_as_a_line_and_unknown_facts_stay_out() {
        assert_eq!(posture_words(&Posture::default()), "nothing known yet");
        let p = Posture {
            managed: true,
            disk_encrypted: true,
            os_version: "14.4.1".into(),
            os_source: "import".into(),
            browser: "Chromium".into(),
            browser_version: "131".into(),
            ..Posture::default()
        };
        assert_eq!(
            posture_words(&p),
            "managed, disk encrypted, OS 14.4.1 (from the inventory), browser Chromium 131"
        );
    }

    #[test]
    fn the_trust_reason_does_not_repeat_the_words_before_it() {
        let device = |status: &str, reason: &str| DeviceView {
            name: "dev-1".into(),
            owner: None,
            label: "l".into(),
            platform: String::new(),
            attachment: "platform".into(),
            status: status.into(),
            trust_reason: reason.into(),
            model: String::new(),
            aaguid: String::new(),
            attestation_format: "none".into(),
            attestation_trust: "not_applicable".into(),
            key_storage: "device-bound".into(),
            serial: None,
            created_ms: 0,
            last_seen_ms: None,
            decommissioned_ms: None,
            credential_id: None,
        };
        let d = device(
            "untrusted",
            "awaiting an administrator: attestation not verified to the metadata",
        );
        assert_eq!(trust_words(&d), "Awaiting approval");
        assert_eq!(trust_detail(&d), "attestation not verified to the metadata");
        let d = device(
            "untrusted",
            "awaiting an administrator (device trust policy: admin)",
        );
        assert_eq!(trust_detail(&d), "device trust policy: admin");
        let d = device("untrusted", "lost and found");
        assert_eq!(
            (trust_words(&d), trust_detail(&d)),
            ("Not trusted", "lost and found")
        );
        let d = device("trusted", "checked by IT");
        assert_eq!(
            (trust_words(&d), trust_detail(&d)),
            ("Trusted", "checked by IT")
        );
    }
}
