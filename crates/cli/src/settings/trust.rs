//! What may register, and how a credential's tier is judged.

use std::path::{Path, PathBuf};

use clap::{ArgAction, Args};
use keybound_service::{Config, Policy};
use serde::{Deserialize, Serialize};

use super::values::{group_table, Attestation, GroupTier, Tier};

/// The registration policy: which authenticators may bind to a person.
#[derive(Args, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
#[command(next_help_heading = "Registration policy")]
pub(crate) struct RegistrationSettings {
    /// The lowest tier a new credential may have: 1 any passkey, 2
    /// device-bound with user verification, 3 certified hardware.
    #[arg(
        long,
        env = "KEYBOUND_REGISTRATION_MIN_TIER",
        value_name = "TIER",
        default_value = "1"
    )]
    registration_min_tier: Option<Tier>,
    /// A higher minimum tier for a group (role), as GROUP=TIER, e.g.
    /// `admin=2` (repeatable).
    #[arg(
        long,
        env = "KEYBOUND_GROUP_MIN_TIER",
        value_name = "GROUP=TIER",
        value_delimiter = ','
    )]
    #[serde(default, with = "group_table")]
    group_min_tier: Option<Vec<GroupTier>>,
    /// Refuse credentials created without user verification.
    #[arg(long, env = "KEYBOUND_REQUIRE_USER_VERIFICATION", action = ArgAction::SetTrue)]
    require_user_verification: Option<bool>,
    /// Refuse TPM attestations signed with SHA-1 (RS1), which Windows Hello
    /// laptops send; accepted by default and marked in the audit log.
    #[arg(long, env = "KEYBOUND_REFUSE_SHA1_TPM_ATTESTATION", action = ArgAction::SetTrue)]
    refuse_sha1_tpm_attestation: Option<bool>,
    /// Only these authenticator models (AAGUID) may register (repeatable).
    #[arg(
        long,
        env = "KEYBOUND_AAGUID_ALLOW",
        value_name = "AAGUID",
        value_delimiter = ','
    )]
    aaguid_allow: Option<Vec<String>>,
    /// These authenticator models (AAGUID) may never register (repeatable).
    #[arg(
        long,
        env = "KEYBOUND_AAGUID_DENY",
        value_name = "AAGUID",
        value_delimiter = ','
    )]
    aaguid_deny: Option<Vec<String>>,
    /// Attestation requested at registration.
    #[arg(
        long,
        env = "KEYBOUND_ATTESTATION",
        value_name = "KIND",
        value_enum,
        default_value = "none"
    )]
    attestation: Option<Attestation>,
}

impl RegistrationSettings {
    /// Sets what is set; the rest keeps the service's defaults.
    pub(crate) fn apply(&self, policy: &mut Policy) {
        if let Some(tier) = self.registration_min_tier {
            policy.registration_min_tier = tier_number(tier);
        }
        if let Some(groups) = &self.group_min_tier {
            policy.group_min_tier = groups
                .iter()
                .map(|g| (g.group.clone(), tier_number(g.tier)))
                .collect();
        }
        if let Some(require) = self.require_user_verification {
            policy.require_user_verification = require;
        }
        if let Some(refuse) = self.refuse_sha1_tpm_attestation {
            policy.allow_sha1_tpm_attestation = !refuse;
        }
        if let Some(allow) = &self.aaguid_allow {
            policy.aaguid_allow.clone_from(allow);
        }
        if let Some(deny) = &self.aaguid_deny {
            policy.aaguid_deny.clone_from(deny);
        }
        if let Some(attestation) = self.attestation {
            policy.attestation = attestation.into();
        }
    }
}

/// The service's tier for a checked 1..=3 setting (the bound makes the
/// fallback unreachable; it is the strictest tier, never a weaker one).
fn tier_number(tier: Tier) -> keybound_service::Tier {
    i64::try_from(tier.get())
        .ok()
        .and_then(keybound_service::Tier::from_number)
        .unwrap_or(keybound_service::Tier::AttestedHardware)
}

/// How a stored credential's tier is judged: by the FIDO metadata that
/// chains to the root, and by whether tier 2 needs attestation. `serve`,
/// `mds` and `admin vouch-credential` judge tiers.
#[derive(Args, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
#[command(next_help_heading = "Tiers")]
pub(crate) struct TierSettings {
    /// The FIDO Metadata Service root certificate (DER or PEM file) that
    /// metadata BLOBs must chain to.
    #[arg(long, env = "KEYBOUND_MDS_ROOT", value_name = "FILE", global = true)]
    mds_root: Option<PathBuf>,
    /// Tier 2 needs a verified attestation: without one, "device-bound with
    /// user verification" is only what the authenticator says of itself.
    #[arg(
        long,
        env = "KEYBOUND_TIER2_REQUIRES_ATTESTATION",
        action = ArgAction::SetTrue,
        global = true
    )]
    tier2_requires_attestation: Option<bool>,
}

impl TierSettings {
    /// Whether a metadata root is configured.
    pub(crate) fn has_mds_root(&self) -> bool {
        self.mds_root.is_some()
    }

    /// Sets what is set (reading the root certificate); the rest keeps the
    /// service's defaults.
    pub(crate) fn apply(&self, config: &mut Config) -> Result<(), String> {
        if let Some(path) = &self.mds_root {
            config.mds_root = Some(read_certificate(path)?);
        }
        if let Some(require) = self.tier2_requires_attestation {
            config.policy.tier2_requires_attestation = require;
        }
        Ok(())
    }
}

/// A certificate file, DER or PEM.
fn read_certificate(path: &Path) -> Result<Vec<u8>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return Ok(bytes);
    };
    let Some(body) = text
        .split("-----BEGIN CERTIFICATE-----")
        .nth(1)
        .and_then(|rest| rest.split("-----END CERTIFICATE-----").next())
    else {
        return Ok(bytes);
    };
    let joined: String = body.split_whitespace().collect();
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(joined)
        .map_err(|e| format!("{}: bad PEM: {e}", path.display()))
}
