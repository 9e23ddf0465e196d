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
    /// Seconds an agent's task lives when the agent asks for no lifetime
    /// (issue 18).
    #[arg(
        long,
        env = "KEYBOUND_TASK_DEFAULT_LIFETIME",
        value_name = "SECONDS",
        default_value = "900"
    )]
    task_default_lifetime: Option<TaskSeconds>,
    /// The longest lifetime an agent's task may have, seconds.
    #[arg(
        long,
        env = "KEYBOUND_TASK_MAX_LIFETIME",
        value_name = "SECONDS",
        default_value = "3600"
    )]
    task_max_lifetime: Option<TaskSeconds>,
    /// Seconds a task waits for a person's approval before it expires.
    #[arg(
        long,
        env = "KEYBOUND_TASK_APPROVAL_TTL",
        value_name = "SECONDS",
        default_value = "600"
    )]
    task_approval_ttl: Option<TaskSeconds>,
    /// Seconds one task token lives (never past its task).
    #[arg(
        long,
        env = "KEYBOUND_TASK_TOKEN_TTL",
        value_name = "SECONDS",
        default_value = "300"
    )]
    task_token_ttl: Option<TokenSeconds>,
    /// Require a server nonce in DPoP proofs (RFC 9449 §8): a proof made
    /// in advance, or copied, stops working once the nonce turns over.
    #[arg(
        long,
        env = "KEYBOUND_DPOP_NONCE",
        value_name = "BOOL",
        default_value = "true",
        action = ArgAction::Set
    )]
    dpop_nonce: Option<bool>,
}

/// A task lifetime or approval deadline: a minute to a day.
type TaskSeconds = Bounded<60, 86_400>;
/// A task token's lifetime: ten seconds to an hour.
type TokenSeconds = Bounded<10, 3600>;

impl PeopleSettings {
    /// Sets what is set; the rest keeps the service's defaults. A default
    /// task lifetime past the longest is refused.
    pub(crate) fn apply(&self, config: &mut Config) -> Result<(), String> {
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
        let seconds = |b: u64| i64::try_from(b).unwrap_or(i64::MAX);
        let tasks = &mut config.tasks;
        if let Some(s) = self.task_default_lifetime {
            tasks.default_lifetime_s = seconds(s.get());
        }
        if let Some(s) = self.task_max_lifetime {
            tasks.max_lifetime_s = seconds(s.get());
        }
        if let Some(s) = self.task_approval_ttl {
            tasks.approval_ttl_s = seconds(s.get());
        }
        if let Some(s) = self.task_token_ttl {
            tasks.token_ttl_s = seconds(s.get());
        }
        if tasks.default_lifetime_s > tasks.max_lifetime_s {
            return Err(format!(
                "--task-default-lifetime ({} s) is longer than --task-max-lifetime ({} s)",
                tasks.default_lifetime_s, tasks.max_lifetime_s
            ));
        }
        if let Some(on) = self.dpop_nonce {
            config.dpop_nonce = on;
        }
        Ok(())
    }
}
