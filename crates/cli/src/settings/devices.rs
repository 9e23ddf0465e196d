//! The device registry (issue 16): what makes an enrolled device trusted,
//! and where enterprise attestation is asked for.

use clap::Args;
use keybound_service::{Config, DeviceTrust};
use serde::{Deserialize, Serialize};

/// What makes a device enrolled from the browser ("Trust this device")
/// trusted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum DeviceTrustSetting {
    /// Trusted when its attestation chains to the FIDO metadata of a
    /// platform authenticator; otherwise it waits for an administrator.
    Attested,
    /// Every device waits for an administrator to trust it.
    Admin,
}

/// Trusted devices.
#[derive(Args, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
#[command(next_help_heading = "Devices")]
pub(crate) struct DeviceSettings {
    /// What makes an enrolled device trusted: `attested` (attestation to
    /// the metadata of a platform authenticator) or `admin` (an
    /// administrator approves each one).
    #[arg(
        long,
        env = "KEYBOUND_DEVICE_TRUST",
        value_name = "POLICY",
        value_enum,
        default_value = "attested"
    )]
    device_trust: Option<DeviceTrustSetting>,
    /// RP IDs for which device enrolment asks for enterprise attestation,
    /// revealing the authenticator's serial (only where managed browsers
    /// are configured to allow it), comma-separated.
    #[arg(
        long,
        env = "KEYBOUND_DEVICE_ENTERPRISE_ATTESTATION",
        value_name = "RPID",
        value_delimiter = ','
    )]
    device_enterprise_attestation: Option<Vec<String>>,
}

impl DeviceSettings {
    /// Sets what is set; the rest keeps the service's defaults.
    pub(crate) fn apply(&self, config: &mut Config) {
        if let Some(trust) = self.device_trust {
            config.devices.trust = match trust {
                DeviceTrustSetting::Attested => DeviceTrust::Attested,
                DeviceTrustSetting::Admin => DeviceTrust::Admin,
            };
        }
        if let Some(rp_ids) = &self.device_enterprise_attestation {
            config.devices.enterprise_attestation_rp_ids = rp_ids
                .iter()
                .map(|r| r.trim().to_ascii_lowercase())
                .filter(|r| !r.is_empty())
                .collect();
        }
    }
}
