//! Enrolling the device a person is using ("Trust this device"): a
//! registration started by their signed-in session
//! ([`crate::RegistrationStart::Device`]) whose options ask for a platform
//! authenticator with user verification and attestation, whose answer must
//! be a device-bound (BE=0), user-verified, non-roaming key, and whose
//! credential, device identity, device row and `device.enrol` event commit
//! in the registration's one transaction.

use keybound_audit::{NewEvent, Outcome};
use keybound_store::{DeviceRow, Identity, IdentityKind, IdentityStatus, StoreError, WriteTx};
use keybound_webauthn::{
    b64, AttestationConveyancePreference, AttestationTrust, AuthenticatorAttachment,
    AuthenticatorSelectionCriteria, KeyStorage, PublicKeyCredentialCreationOptions,
    ResidentKeyRequirement, UserVerificationRequirement, VerifiedRegistration,
};
use serde::{Deserialize, Serialize};

use crate::ceremony::{refuse, Failure};
use crate::metadata::{Judgement, ModelForm};
use crate::record::Record;
use crate::tokens::hex_id;
use crate::{ClientContext, DeviceTrust, EventKind, Refusal, Service, ServiceError};

use super::{status, MAX_DEVICES_PER_PERSON};

/// What a device enrolment remembers between options and answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PendingDevice {
    /// The label, already cleaned.
    label: String,
    /// Enterprise attestation was asked for.
    #[serde(default)]
    enterprise: bool,
}

impl PendingDevice {
    /// A device enrolment for `label` ([`super::clean_label`]), asking
    /// for enterprise attestation or not.
    pub(crate) fn new(label: &str, enterprise: bool) -> Result<Self, ServiceError> {
        Ok(PendingDevice {
            label: super::clean_label(label)?,
            enterprise,
        })
    }
}

/// A device was enrolled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrolledDevice {
    /// Its name (`dev-…`).
    pub name: String,
    /// `trusted` or `untrusted`.
    pub status: String,
    /// Why.
    pub trust_reason: String,
}

/// What the registration knows when it records a device.
pub(crate) struct Enrolment<'a> {
    pub pending: &'a PendingDevice,
    pub owner: &'a Identity,
    pub verified: &'a VerifiedRegistration,
    pub judgement: &'a Judgement,
    pub chain: &'a [Vec<u8>],
    pub ctx: &'a ClientContext,
}

/// Transports a roaming authenticator (a security key) reports.
const ROAMING_TRANSPORTS: [&str; 3] = ["usb", "nfc", "ble"];

/// Whether a verified registration may become "this device": a synced
/// passkey (BE=1) lives on every device of its account, a key created
/// without user verification proves nobody held the device, and a roaming
/// authenticator (transports only usb/nfc/ble, reported cross-platform, or
/// so described by its metadata) is a security key, never the device.
pub(crate) fn fit_for_device(
    verified: &VerifiedRegistration,
    form: &ModelForm,
) -> Result<(), Refusal> {
    if verified.backup_eligible {
        return Err(Refusal::DeviceBackupEligible);
    }
    if !verified.user_verified {
        return Err(Refusal::DeviceUserNotVerified);
    }
    let transports_roam = !verified.transports.is_empty()
        && verified
            .transports
            .iter()
            .all(|t| ROAMING_TRANSPORTS.contains(&t.as_str()));
    let reported_roaming = verified.authenticator_attachment.as_deref() == Some("cross-platform");
    if transports_roam || reported_roaming || form.roaming {
        return Err(Refusal::DeviceRoamingAttachment);
    }
    Ok(())
}

/// The platform a User-Agent names, coarsely: enough to tell a person's
/// laptop from their phone in a list, never used for a decision (client
/// hints and posture are where facts about the platform live).
pub(crate) fn platform_of(user_agent: Option<&str>) -> String {
    let Some(ua) = user_agent else {
        return String::new();
    };
    // Most specific first: iOS says "like Mac OS X", Android and ChromeOS
    // say "Linux".
    let known = [
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("Android", "Android"),
        ("CrOS", "ChromeOS"),
        ("Windows", "Windows"),
        ("Macintosh", "macOS"),
        ("Mac OS X", "macOS"),
        ("Linux", "Linux"),
    ];
    known
        .iter()
        .find(|(token, _)| ua.contains(token))
        .map(|(_, platform)| (*platform).to_owned())
        .unwrap_or_default()
}

/// The platform an attestation statement format proves: a TPM
/// attestation comes from Windows Hello, an Android key attestation from
/// Android. Other formats (packed, apple, none) are made on several
/// platforms, so they prove none and the platform stays a claim.
pub(crate) fn platform_of_format(format: &str) -> Option<&'static str> {
    match format {
        "tpm" => Some("Windows"),
        "android-key" | "android-safetynet" => Some("Android"),
        _ => None,
    }
}

/// Where the attested key lives, as the registry says it: `hardware` when
/// the attestation chained (to the metadata or a configured root) and the
/// format or the metadata says hardware; `device-bound` for any other
/// attested BE=0 key; `unknown` without attestation: the BE flag of an
/// unattested key is signed by nothing anyone vouches for (a software key
/// can claim it), so only attestation may say where a key lives.
fn key_storage(e: &Enrolment<'_>, attested: bool) -> &'static str {
    let by_format = matches!(
        e.verified.attestation.key_storage,
        Some(KeyStorage::TrustedEnvironment | KeyStorage::StrongBox)
    );
    if attested && (by_format || e.judgement.form.hardware_key) {
        "hardware"
    } else if attested && !e.verified.backup_eligible {
        "device-bound"
    } else {
        "unknown"
    }
}

impl Service {
    /// Shapes the creation options of a device enrolment: a platform
    /// authenticator, user verification required, a discoverable key
    /// preferred, and attestation asked for (`enterprise` when the RP ID is
    /// in [`crate::DevicePolicy::enterprise_attestation_rp_ids`], `direct`
    /// otherwise). Returns the UV requirement the answer is held to.
    pub(crate) fn device_options(
        &self,
        options: &mut PublicKeyCredentialCreationOptions,
    ) -> UserVerificationRequirement {
        options.authenticator_selection = Some(AuthenticatorSelectionCriteria {
            authenticator_attachment: Some(AuthenticatorAttachment::Platform),
            resident_key: Some(ResidentKeyRequirement::Preferred),
            require_resident_key: false,
            user_verification: UserVerificationRequirement::Required,
        });
        options.attestation = if self.enterprise_attestation() {
            AttestationConveyancePreference::Enterprise
        } else {
            AttestationConveyancePreference::Direct
        };
        UserVerificationRequirement::Required
    }

    /// Whether device enrolments here ask for enterprise attestation.
    pub(crate) fn enterprise_attestation(&self) -> bool {
        self.config
            .devices
            .enterprise_attestation_rp_ids
            .iter()
            .any(|rp| rp.eq_ignore_ascii_case(&self.config.rp_id))
    }

    /// Records the device of a verified device enrolment, in the
    /// registration's transaction `tx` (the credential is stored already):
    /// its identity (kind `device`, a random `dev-…` name), its row and the
    /// `device.enrol` event. Refused: the owner holds
    /// [`MAX_DEVICES_PER_PERSON`] devices (`too_many_devices`).
    pub(crate) async fn enrol_device(
        &self,
        tx: &mut WriteTx,
        e: Enrolment<'_>,
        event: &NewEvent,
    ) -> Result<EnrolledDevice, Failure> {
        let now = self.now_ms();
        let held = tx
            .devices_of_owner(&e.owner.id)
            .await?
            .iter()
            .filter(|d| d.status != status::DECOMMISSIONED)
            .count();
        if held >= MAX_DEVICES_PER_PERSON {
            return Err(refuse(Refusal::TooManyDevices, event));
        }
        let verified_chain = matches!(
            e.verified.attestation.trust,
            AttestationTrust::Verified { .. }
        );
        let attested = e.judgement.model.attested || verified_chain;
        let (device_status, trust_reason) = match self.config.devices.trust {
            DeviceTrust::Admin => (
                status::UNTRUSTED,
                "awaiting an administrator (device trust policy: admin)".to_owned(),
            ),
            DeviceTrust::Attested if e.judgement.model.attested && e.judgement.form.platform => (
                status::TRUSTED,
                "attested platform authenticator (metadata)".to_owned(),
            ),
            DeviceTrust::Attested => (
                status::UNTRUSTED,
                format!(
                    "awaiting an administrator: {}",
                    if !e.judgement.model.attested {
                        "attestation not verified to the metadata"
                    } else {
                        "metadata does not describe a platform authenticator"
                    }
                ),
            ),
        };
        let serial = if e.pending.enterprise {
            e.chain
                .first()
                .filter(|_| attested)
                .and_then(|leaf| keybound_webauthn::attestation_serial_number(leaf))
        } else {
            None
        };
        // The device's identity: a name nobody types, never a person's.
        let mut identity = None;
        for _ in 0..3 {
            let candidate = Identity {
                kind: IdentityKind::Device,
                id: hex_id(self.random::<16>()),
                name: format!(
                    "dev-{}",
                    self.random::<6>()
                        .iter()
                        .map(|b| format!("{b:02x}"))
                        .collect::<String>()
                ),
                status: IdentityStatus::Active,
                is_admin: false,
                user_handle: self.random::<32>().to_vec(),
                created_ms: now,
            };
            match tx.insert_identity(&candidate).await {
                Err(StoreError::Conflict) => continue,
                other => other?,
            }
            identity = Some(candidate);
            break;
        }
        let identity = identity
            .ok_or_else(|| Failure::Internal(ServiceError::Internal("device name".into())))?;
        let row = DeviceRow {
            identity_id: identity.id.clone(),
            name: identity.name.clone(),
            owner_id: Some(e.owner.id.clone()),
            label: e.pending.label.clone(),
            // The attested platform when the format proves one; else what
            // the User-Agent claims, which no decision treats as attested.
            platform: platform_of_format(e.verified.attestation.format.as_str())
                .filter(|_| verified_chain)
                .map(str::to_owned)
                .unwrap_or_else(|| platform_of(e.ctx.user_agent.as_deref())),
            attachment: "platform".to_owned(),
            credential_id: Some(e.verified.credential_id.clone()),
            aaguid: e.verified.aaguid.to_string(),
            model: e.judgement.form.description.clone(),
            attestation_format: e.verified.attestation.format.as_str().to_owned(),
            attestation_trust: match &e.verified.attestation.trust {
                AttestationTrust::NotApplicable => "not_applicable".to_owned(),
                AttestationTrust::Verified { .. } => "verified".to_owned(),
                AttestationTrust::Unverified { reason, .. } => format!("unverified:{reason:?}"),
            },
            key_storage: key_storage(&e, attested).to_owned(),
            serial,
            status: device_status.to_owned(),
            trust_reason: trust_reason.clone(),
            created_ms: now,
            last_seen_ms: Some(now),
            decommissioned_ms: None,
        };
        match tx.insert_device(&row).await {
            Err(StoreError::Conflict) => return Err(refuse(Refusal::CredentialIdTaken, event)),
            other => other?,
        }
        let mut enrolled = event.clone();
        enrolled.kind = EventKind::DeviceEnrol.as_str().to_owned();
        enrolled.actor = Some(e.owner.name.clone());
        enrolled.subject = Some(identity.name.clone());
        enrolled.subject_kind = Some(IdentityKind::Device.as_str().to_owned());
        enrolled.credential_id = Some(b64::encode(&e.verified.credential_id));
        enrolled.outcome = Some(Outcome::Success);
        // The status it starts in, for `audit reconcile` (the reason says
        // it too, in prose).
        enrolled.details.insert(
            crate::kernel::reconcile::DEVICE_STATUS.into(),
            device_status.to_owned(),
        );
        enrolled.reason = Some(format!(
            "{device_status}: {trust_reason}; label {:?}{}",
            row.label,
            row.serial
                .as_deref()
                .map(|s| format!("; serial {s}"))
                .unwrap_or_default()
        ));
        tx.record(enrolled).await?;
        // An inventory record that waited for this serial (imported before
        // the device enrolled) becomes the device's posture now.
        self.link_inventory_in(tx, &row, e.ctx).await?;
        Ok(EnrolledDevice {
            name: identity.name,
            status: device_status.to_owned(),
            trust_reason,
        })
    }
}
