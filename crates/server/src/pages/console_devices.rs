//! `/admin/devices`: every device with its owner, trust and last sighting,
//! and what an administrator does to one: trust it (approve an enrolment
//! awaiting approval), untrust it, or decommission it (red, behind the "I
//! am sure" tick). Everything goes through the console's seam
//! ([`AdminPage`], [`AdminForm`]): the service acts for an [`Admin`] only.
//!
//! [`Admin`]: keybound_service::Admin

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use keybound_service::{DeviceView, Refusal, ServiceError};
use maud::{html, Markup};

use super::admin::{nav, person_link};
use super::forms::danger_form;
use super::guard::{AdminForm, AdminPage};
use super::my_devices::{key_words, posture_words, trust_detail, trust_words};
use super::text::Shown;
use super::{date, layout, see_other, with_notice, Notice, NoticeQuery};
use crate::reply::from_service;
use crate::AppState;

/// The longest reason the form offers to send (the service cuts it to its
/// own bound as well).
const REASON_MAX: usize = 256;

pub(super) async fn page(
    State(state): State<AppState>,
    Query(query): Query<NoticeQuery>,
    AdminPage { me, .. }: AdminPage,
) -> Response {
    let devices = match state.service.console_devices(&me).await {
        Ok(devices) => devices,
        Err(e) => return from_service(&e),
    };
    let mut postures = std::collections::HashMap::new();
    for device in devices.iter().filter(|d| d.status != "decommissioned") {
        match state
            .service
            .device_posture((&me).into(), &device.name)
            .await
        {
            Ok(view) => {
                postures.insert(device.name.clone(), posture_words(&view.effective));
            }
            // Decommissioned in between: shown without a posture.
            Err(ServiceError::NotFound) => {}
            Err(e) => return from_service(&e),
        }
    }
    let (live, gone): (Vec<&DeviceView>, Vec<&DeviceView>) =
        devices.iter().partition(|d| d.status != "decommissioned");
    let awaiting = live.iter().filter(|d| d.status != "trusted").count();
    layout(
        "Devices",
        "admin-devices",
        query.notice(),
        html! {
            (nav("/admin/devices"))
            p {
                "Devices people enrolled with “Trust this device” on their own page. "
                "Policies can require a trusted device (" code { "context.device.trusted" } ")."
            }
            @if awaiting > 0 {
                p #awaiting-count {
                    strong { "Not trusted yet: " (super::count_words(awaiting)) "." }
                    " Trust a device only once you know it is the organisation's or its owner's."
                }
            }
            @if live.is_empty() {
                p #no-devices { "No devices are enrolled." }
            } @else {
                div.table-wrap tabindex="0" role="region" aria-label="Devices" {
                    table #devices {
                        tr {
                            th scope="col" { "Device" }
                            th scope="col" { "Owner" }
                            th scope="col" { "Trust" }
                            th scope="col" { "Key" }
                            th scope="col" { "Posture" }
                            th scope="col" { "Last seen" }
                            th scope="col" { "Change" }
                        }
                        @for device in &live {
                            (row(device, postures.get(&device.name).map_or("", String::as_str)))
                        }
                    }
                }
            }
            @if !gone.is_empty() {
                h2 { "Decommissioned" }
                div.table-wrap tabindex="0" role="region" aria-label="Decommissioned devices" {
                    table #decommissioned {
                        tr { th scope="col" { "Device" } th scope="col" { "Owner" } th scope="col" { "Decommissioned" } }
                        @for device in &gone {
                            tr data-device=(device.name) {
                                td { (Shown(&device.label)) br; code { (device.name) } }
                                td { (owner(device)) }
                                td { (device.decommissioned_ms.map_or_else(|| "unknown".to_owned(), date)) }
                            }
                        }
                    }
                }
            }
        },
    )
    .into_response()
}

fn owner(device: &DeviceView) -> Markup {
    html! {
        @match &device.owner {
            Some(name) => a href=(person_link(name)) { (Shown(name)) },
            None => "the organisation",
        }
    }
}

fn row(device: &DeviceView, posture: &str) -> Markup {
    let name = &device.name;
    let platform = if device.platform.is_empty() {
        "unknown platform"
    } else {
        device.platform.as_str()
    };
    html! {
        tr data-device=(name) data-status=(device.status) {
            td.device {
                strong { (Shown(&device.label)) } br;
                code { (name) } br;
                (Shown(platform))
            }
            td.owner { (owner(device)) }
            td.trust {
                strong { (trust_words(device)) }
                @if !trust_detail(device).is_empty() { br; span.reason { (Shown(trust_detail(device))) } }
            }
            td.key {
                (key_words(device))
                @if !device.model.is_empty() { br; (Shown(&device.model)) }
                br; span title=(device.attestation_trust) { (attestation_words(device)) }
            }
            td.posture { (Shown(posture)) }
            td.seen { (device.last_seen_ms.map_or_else(|| "never".to_owned(), date)) }
            td.actions {
                @if device.status == "trusted" {
                    form.untrust method="post" action={ "/admin/devices/" (name) "/untrust" } {
                        label { "Reason " input name="reason" type="text" maxlength=(REASON_MAX); }
                        button.secondary type="submit" { "Untrust" }
                    }
                } @else {
                    form.trust method="post" action={ "/admin/devices/" (name) "/trust" } {
                        label { "Reason " input name="reason" type="text" maxlength=(REASON_MAX); }
                        button type="submit" { "Trust" }
                    }
                }
                (danger_form("decommission", &format!("/admin/devices/{name}/decommission"), &[], "Decommission"))
            }
        }
    }
}

/// How the device's key was attested, in words (the stored value is the
/// cell's title, for whoever wants the exact reason).
fn attestation_words(device: &DeviceView) -> String {
    let format = &device.attestation_format;
    match device.attestation_trust.as_str() {
        "verified" => format!("attested ({format}), verified to the metadata"),
        "not_applicable" => "not attested".to_owned(),
        _ if format == "none" => "not attested".to_owned(),
        _ => format!("attested ({format}), not verified: no metadata vouches for it"),
    }
}

#[derive(serde::Deserialize)]
pub(super) struct ActionForm {
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    confirm: Option<String>,
}

/// Trust, untrust or decommission the device `name`.
pub(super) async fn action(
    State(state): State<AppState>,
    Path((name, action)): Path<(String, String)>,
    AdminForm { me, ctx, form }: AdminForm<ActionForm>,
) -> Response {
    let back = |n| see_other(&with_notice("/admin/devices", n), HeaderMap::new());
    let reason = form
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty());
    let actor = (&me).into();
    let (done, result) = match action.as_str() {
        "trust" => (
            Notice::DeviceApproved,
            state.service.trust_device(actor, &name, reason, &ctx).await,
        ),
        "untrust" => (
            Notice::DeviceUntrusted,
            state
                .service
                .untrust_device(actor, &name, reason, &ctx)
                .await,
        ),
        "decommission" => {
            if form.confirm.as_deref() != Some("yes") {
                return back(Notice::ConfirmDecommission);
            }
            (
                Notice::DeviceDecommissioned,
                state
                    .service
                    .decommission_device(actor, &name, &ctx)
                    .await
                    .map(|_| ()),
            )
        }
        _ => return super::not_found().await,
    };
    match result {
        Ok(()) => back(done),
        Err(ServiceError::NotFound) => back(Notice::UnknownDevice),
        Err(ServiceError::Rejected(
            Refusal::DeviceStatusUnchanged | Refusal::DeviceDecommissioned,
        )) => back(Notice::DeviceUnchanged),
        Err(e) => from_service(&e),
    }
}
