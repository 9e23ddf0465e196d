//! Key custody: how often the OpenID Connect signing keys rotate. A
//! successor is published in the JWKS for up to a day (half the period
//! when that is shorter) before it signs, and a retired key stays
//! published until every token it signed has expired.

use clap::Args;
use keybound_service::Config;
use serde::{Deserialize, Serialize};

use super::values::Bounded;

/// Key custody.
#[derive(Args, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
#[command(next_help_heading = "Signing keys")]
pub(crate) struct KeySettings {
    /// Seconds a signing key (OIDC ID, access and logout tokens) signs
    /// before its successor takes over; at least an hour, at most a year.
    #[arg(
        long,
        env = "KEYBOUND_OIDC_KEY_ROTATION",
        value_name = "SECONDS",
        default_value = "2592000"
    )]
    oidc_key_rotation: Option<Bounded<3600, 31_536_000>>,
}

impl KeySettings {
    /// Sets what is set; the rest keeps the service's defaults.
    pub(crate) fn apply(&self, config: &mut Config) {
        if let Some(s) = self.oidc_key_rotation {
            config.key_rotation.period_ms =
                i64::try_from(s.get().saturating_mul(1000)).unwrap_or(i64::MAX);
        }
    }
}
