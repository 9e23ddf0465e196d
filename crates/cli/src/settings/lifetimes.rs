//! How long a session, an invitation, a step-up proof and a device-bound
//! session's bound cookie last. `serve` applies all four; `admin invite` issues invitations, so it takes them
//! too (the invitation's expiry is set when it is issued).

use clap::Args;
use keybound_service::Config;
use serde::{Deserialize, Serialize};

use super::values::Bounded;

/// Seconds, at least one, at most a year.
type Lifetime = Bounded<1, 31_536_000>;

/// Lifetimes.
#[derive(Args, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
#[command(next_help_heading = "Lifetimes")]
pub(crate) struct LifetimeSettings {
    /// Seconds a sign-in session lasts.
    #[arg(
        long,
        env = "KEYBOUND_SESSION_LIFETIME",
        value_name = "SECONDS",
        default_value = "43200"
    )]
    session_lifetime: Option<Lifetime>,
    /// Seconds an invitation link may be used.
    #[arg(
        long,
        env = "KEYBOUND_INVITATION_LIFETIME",
        value_name = "SECONDS",
        default_value = "86400"
    )]
    invitation_lifetime: Option<Lifetime>,
    /// Seconds a sign-in counts as fresh for step-up actions (the console,
    /// adding a passkey, revoking one the person cannot spare).
    #[arg(
        long,
        env = "KEYBOUND_STEP_UP_WINDOW",
        value_name = "SECONDS",
        default_value = "300"
    )]
    step_up_window: Option<Bounded<1, 86_400>>,
    /// Seconds a device posture fact (client hints, an import, an
    /// administrator's) is decided on; older facts are shown as stale and
    /// read as unknown by policies (`context.device.posture`).
    #[arg(
        long,
        env = "KEYBOUND_DEVICE_POSTURE_MAX_AGE",
        value_name = "SECONDS",
        default_value = "2592000"
    )]
    device_posture_max_age: Option<Lifetime>,
    /// Seconds a device-bound session's bound cookie lasts (DBSC): the
    /// browser proves its session key this often, and a session cookie
    /// copied to another machine stops working at most this long after.
    #[arg(
        long,
        env = "KEYBOUND_DBSC_REFRESH_INTERVAL",
        value_name = "SECONDS",
        default_value = "600"
    )]
    dbsc_refresh_interval: Option<Bounded<10, 86_400>>,
}

impl LifetimeSettings {
    /// Sets what is set; the rest keeps the service's defaults.
    pub(crate) fn apply(&self, config: &mut Config) {
        let ms = |s: u64| i64::try_from(s.saturating_mul(1000)).unwrap_or(i64::MAX);
        if let Some(s) = self.session_lifetime {
            config.session_ttl_ms = ms(s.get());
        }
        if let Some(s) = self.invitation_lifetime {
            config.invitation_ttl_ms = ms(s.get());
        }
        if let Some(s) = self.step_up_window {
            config.step_up_window_ms = ms(s.get());
        }
        if let Some(s) = self.device_posture_max_age {
            config.posture_max_age_ms = ms(s.get());
        }
        if let Some(s) = self.dbsc_refresh_interval {
            config.dbsc_refresh_ms = ms(s.get());
        }
    }
}
