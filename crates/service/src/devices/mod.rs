//! Devices (issue 16): the registry of devices people enrol from the
//! browser they use ("Trust this device"), bound to a device-bound platform
//! credential. A device is an identity of kind `device` (named `dev-…`)
//! plus its `devices` row; a later sign-in with its credential proves the
//! device. Decommissioning revokes that credential and ends the sessions
//! it opened, in one transaction with an event for each.
//!
//! - `enrol`: the options a device enrolment asks for, the checks on the
//!   answer (no synced, roaming or unverified key) and the row it records,
//!   inside the registration's transaction.
//! - `view`: what the owner, the console and the CLI see.
//! - `manage`: rename, trust and untrust.
//! - `decommission`: loss, retirement, offboarding, a revoked credential,
//!   and the alert when a decommissioned device comes back.

pub(crate) mod decommission;
pub(crate) mod enrol;
pub(crate) mod manage;
pub(crate) mod view;

pub use decommission::Decommissioned;
pub(crate) use enrol::platform_of_format;
pub use enrol::EnrolledDevice;
pub use view::DeviceView;

use keybound_store::{DeviceRow, Identity, ReadTx};

use crate::{Actor, Refusal, Service, ServiceError};

/// Devices one person may hold (decommissioned ones do not count): more
/// than anyone carries, fewer than would fill the table.
pub(crate) const MAX_DEVICES_PER_PERSON: usize = 20;
/// The longest device label, in characters.
pub(crate) const MAX_LABEL_CHARS: usize = 64;
/// The longest reason an administrator gives, in characters.
pub(crate) const MAX_REASON_CHARS: usize = 256;

/// A device's status, as stored.
pub(crate) mod status {
    /// Trusted: policy or an administrator vouches for it.
    pub const TRUSTED: &str = "trusted";
    /// Enrolled, not (or no longer) trusted.
    pub const UNTRUSTED: &str = "untrusted";
    /// Retired for good: its credential revoked, its sessions ended.
    pub const DECOMMISSIONED: &str = "decommissioned";
}

/// A label as stored: trimmed, 1-[`MAX_LABEL_CHARS`] characters, no control
/// characters; otherwise `invalid_device_label` (nicknames follow the same
/// rule, but a device must be called something).
pub(crate) fn clean_label(raw: &str) -> Result<String, ServiceError> {
    let label = raw.trim();
    // Count no further than one past the bound, whatever the length.
    let too_long = label.chars().nth(MAX_LABEL_CHARS).is_some();
    if label.is_empty() || too_long || label.chars().any(keybound_names::text::is_hazardous) {
        return Err(ServiceError::Rejected(Refusal::InvalidDeviceLabel));
    }
    Ok(label.to_owned())
}

/// An administrator's reason as the audit log and the row keep it: trimmed,
/// cut to [`MAX_REASON_CHARS`], control characters dropped.
pub(crate) fn clean_reason(raw: Option<&str>) -> Option<String> {
    let reason: String = raw?
        .trim()
        .chars()
        .filter(|c| !keybound_names::text::is_hazardous(*c))
        .take(MAX_REASON_CHARS)
        .collect();
    (!reason.is_empty()).then_some(reason)
}

impl Service {
    /// The device named `name`, for an operator or an administrator (who
    /// must still be one, checked in `tx`); none: [`ServiceError::NotFound`].
    pub(crate) async fn device_for(
        &self,
        tx: &mut ReadTx,
        actor: Actor<'_>,
        name: &str,
    ) -> Result<DeviceRow, ServiceError> {
        if let Actor::Admin(admin) = actor {
            self.still_admin(tx, admin.identity()).await?;
        }
        tx.device_by_name(name).await?.ok_or(ServiceError::NotFound)
    }

    /// The device named `name` if `owner` owns it: `Ok(Err(device))` when
    /// it is someone else's, which the caller refuses with
    /// [`Service::refuse_device_of_another`] after dropping its
    /// transaction.
    pub(crate) async fn own_device(
        &self,
        tx: &mut ReadTx,
        owner: &Identity,
        name: &str,
    ) -> Result<Result<DeviceRow, DeviceRow>, ServiceError> {
        let device = tx
            .device_by_name(name)
            .await?
            .ok_or(ServiceError::NotFound)?;
        Ok(if device.owner_id.as_deref() == Some(owner.id.as_str()) {
            Ok(device)
        } else {
            Err(device)
        })
    }

    /// Refuses `owner` acting on someone else's `device`: the audit log
    /// records `device_of_another_person`, the client hears
    /// [`ServiceError::NotFound`], exactly as for a device that does not
    /// exist. Call it with no transaction open.
    pub(crate) async fn refuse_device_of_another(
        &self,
        mut event: keybound_audit::NewEvent,
        owner: &Identity,
        device: &DeviceRow,
    ) -> ServiceError {
        event.actor = Some(owner.name.clone());
        event.subject = Some(device.name.clone());
        event.subject_kind = Some(keybound_store::IdentityKind::Device.as_str().to_owned());
        event.severity = Some(keybound_audit::Severity::Warning);
        match self
            .record_refusal(event, Refusal::DeviceOfAnotherPerson, None)
            .await
        {
            ServiceError::Rejected(_) => ServiceError::NotFound,
            internal => internal,
        }
    }
}

#[cfg(test)]
mod tests;
