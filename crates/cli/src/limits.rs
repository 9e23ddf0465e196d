//! Flags bounding what clients can make a node hold: unanswered challenges.

use clap::Args;

/// Pending-challenge bounds (flags or KEYBOUND_* variables).
#[derive(Args, Clone, Debug)]
pub(crate) struct Limits {
    /// Unanswered challenges one client address (IPv6: /64) may hold on a
    /// node (0: no bound).
    #[arg(
        long,
        env = "KEYBOUND_PENDING_CHALLENGES_PER_ADDRESS",
        default_value_t = 512,
        global = true
    )]
    pending_challenges_per_address: usize,
    /// Unanswered challenges on all nodes above which the addresses holding
    /// the most are refused (0: no bound).
    #[arg(
        long,
        env = "KEYBOUND_PENDING_CHALLENGES",
        default_value_t = 100_000,
        global = true
    )]
    pending_challenges: usize,
}

impl Limits {
    /// Sets the pending-challenge bounds of `limits`.
    pub(crate) fn pending(&self, limits: &mut keybound_service::RateLimits) {
        limits.pending_per_source = self.pending_challenges_per_address;
        limits.pending_total = self.pending_challenges;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        limits: Limits,
    }

    #[test]
    fn the_defaults_are_the_libraries() {
        let Ok(cli) = Cli::try_parse_from(["keybound"]) else {
            unreachable!("no arguments parse")
        };
        let mut limits = keybound_service::RateLimits {
            pending_per_source: 0,
            pending_total: 0,
            ..Default::default()
        };
        cli.limits.pending(&mut limits);
        assert_eq!(limits, keybound_service::RateLimits::default());
    }
}
