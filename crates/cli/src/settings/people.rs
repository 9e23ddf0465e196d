//! Ceremonies, accounts and recovery: what `serve` applies to people.

use clap::{ArgAction, Args};
use keybound_service::Config;
use serde::{Deserialize, Serialize};

use super::values::Bounded;

/// Ceremonies, backups and recovery.
#[derive(Args, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
#[command(next_help_heading = "People")]
pub(crate) struct PeopleSettings {
    /// The name authenticators show.
    #[arg(
        long,
        env = "KEYBOUND_RP_NAME",
        value_name = "NAME",
        default_value = "keybound"
    )]
    rp_name: Option<String>,
    /// Let anyone register a new name through the ceremony API.
    #[arg(long, env = "KEYBOUND_OPEN_REGISTRATION", action = ArgAction::SetTrue)]
    open_registration: Option<bool>,
    /// Seconds a ceremony's challenge may be answered.
    #[arg(
        long,
        env = "KEYBOUND_CHALLENGE_TTL",
        value_name = "SECONDS",
        default_value = "300"
    )]
    challenge_ttl: Option<u32>,
    /// Passkeys each person should hold (the backup rule): below it the
    /// account says it lacks a backup, and revoking down past it needs a
    /// fresh sign-in and a confirmation.
    #[arg(
        long,
        env = "KEYBOUND_MIN_CREDENTIALS",
        value_name = "N",
        default_value = "2"
    )]
    min_credentials: Option<usize>,
    /// Administrators who must approve a recovery (each other than the
    /// person recovered).
    #[arg(
        long,
        env = "KEYBOUND_RECOVERY_APPROVALS",
        value_name = "N",
        default_value = "2"
    )]
    recovery_approvals: Option<Bounded<1, 255>>,
    /// Seconds between the last approval and the recovery grant.
    #[arg(
        long,
        env = "KEYBOUND_RECOVERY_WAIT",
        value_name = "SECONDS",
        default_value = "0"
    )]
    recovery_wait: Option<u32>,
}

impl PeopleSettings {
    /// Sets what is set; the rest keeps the service's defaults.
    pub(crate) fn apply(&self, config: &mut Config) {
        if let Some(name) = &self.rp_name {
            config.rp_name.clone_from(name);
        }
        if let Some(open) = self.open_registration {
            config.open_registration = open;
        }
        if let Some(s) = self.challenge_ttl {
            config.challenge_ttl_ms = i64::from(s) * 1000;
        }
        if let Some(n) = self.min_credentials {
            config.policy.min_credentials = n;
        }
        if let Some(n) = self.recovery_approvals {
            config.recovery.approvals = usize::try_from(n.get()).unwrap_or(usize::MAX);
        }
        if let Some(s) = self.recovery_wait {
            config.recovery.wait_ms = i64::from(s) * 1000;
        }
    }
}
