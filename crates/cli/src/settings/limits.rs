//! Ceremony rate limits and unanswered challenges: how much of a node one
//! client address, or one account's name, may use.

use clap::{ArgAction, Args};
use keybound_service::RateLimits;
use serde::{Deserialize, Serialize};

/// Ceremony rate limits and pending-challenge bounds.
#[derive(Args, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
#[command(next_help_heading = "Rate limits")]
pub(crate) struct LimitSettings {
    /// Ceremony requests a minute from one client address (IPv6: /64), not
    /// counting successful sign-ins (0: no limits). The default suits an
    /// organisation behind one NAT.
    #[arg(
        long,
        env = "KEYBOUND_RATE_LIMIT_PER_MINUTE",
        value_name = "N",
        default_value = "600"
    )]
    rate_limit_per_minute: Option<u32>,
    /// Ceremony requests a minute naming one account, from any address,
    /// before each further one is delayed (never refused).
    #[arg(
        long,
        env = "KEYBOUND_RATE_LIMIT_PER_IDENTITY",
        value_name = "N",
        default_value = "30"
    )]
    rate_limit_per_identity: Option<u32>,
    /// Unanswered challenges one client address (IPv6: /64) may hold on a
    /// node (0: no bound).
    #[arg(
        long,
        env = "KEYBOUND_PENDING_CHALLENGES_PER_ADDRESS",
        value_name = "N",
        default_value = "512"
    )]
    pending_challenges_per_address: Option<usize>,
    /// Unanswered challenges on all nodes above which the addresses holding
    /// the most are refused (0: no bound).
    #[arg(
        long,
        env = "KEYBOUND_PENDING_CHALLENGES",
        value_name = "N",
        default_value = "100000"
    )]
    pending_challenges: Option<usize>,
    /// Share rate-limit usage and anomaly observations with the other
    /// nodes on the database, every 250 ms: a limit then holds across nodes
    /// within that lag, rather than being N times its setting. Default: on
    /// with PostgreSQL, off with SQLite (one node).
    #[arg(
        long,
        env = "KEYBOUND_SHARED_LIMITS",
        value_name = "BOOL",
        action = ArgAction::Set
    )]
    shared_limits: Option<bool>,
}

impl LimitSettings {
    /// Whether limits are shared across nodes, on a PostgreSQL database
    /// (`postgres`) or a SQLite file.
    pub(crate) fn shared(&self, postgres: bool) -> bool {
        self.shared_limits.unwrap_or(postgres)
    }

    /// Sets what is set; the rest keeps the service's defaults.
    pub(crate) fn apply(&self, limits: &mut RateLimits) {
        if let Some(n) = self.rate_limit_per_minute {
            limits.per_source = n;
        }
        if let Some(n) = self.rate_limit_per_identity {
            limits.per_identity = n;
        }
        if let Some(n) = self.pending_challenges_per_address {
            limits.pending_per_source = n;
        }
        if let Some(n) = self.pending_challenges {
            limits.pending_total = n;
        }
    }
}
