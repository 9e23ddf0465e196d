//! Flags bounding what clients can make a node hold: connections (time and
//! number) and unanswered challenges.

use std::time::Duration;

use clap::Args;
use keybound_server::ConnectionLimits;

/// Connection and pending-challenge bounds (flags or KEYBOUND_* variables).
#[derive(Args, Clone, Debug)]
pub(crate) struct Limits {
    /// Seconds a client has to send a request's head (and to start its
    /// next request on a kept-alive connection).
    #[arg(
        long,
        env = "KEYBOUND_HEADER_READ_TIMEOUT",
        default_value_t = 10,
        value_parser = clap::value_parser!(u64).range(1..=3600),
        global = true
    )]
    header_read_timeout: u64,
    /// Seconds a client has to send a request's body after its head.
    #[arg(
        long,
        env = "KEYBOUND_REQUEST_BODY_TIMEOUT",
        default_value_t = 30,
        value_parser = clap::value_parser!(u64).range(1..=3600),
        global = true
    )]
    request_body_timeout: u64,
    /// Seconds an idle connection is kept open between requests (at most
    /// the header-read timeout).
    #[arg(
        long,
        env = "KEYBOUND_KEEP_ALIVE_TIMEOUT",
        default_value_t = 5,
        value_parser = clap::value_parser!(u64).range(1..=3600),
        global = true
    )]
    keep_alive_timeout: u64,
    /// Connections served at once; more wait to be accepted.
    #[arg(
        long,
        env = "KEYBOUND_MAX_CONNECTIONS",
        default_value_t = 512,
        value_parser = clap::value_parser!(u64).range(1..=1_000_000),
        global = true
    )]
    max_connections: u64,
    /// Connections one client address (IPv6: /64) may hold at once; more
    /// are closed (0: no bound). Trusted proxies are not counted.
    #[arg(
        long,
        env = "KEYBOUND_MAX_CONNECTIONS_PER_ADDRESS",
        default_value_t = 128,
        global = true
    )]
    max_connections_per_address: usize,
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
    /// What `keybound_server::serve` applies.
    pub(crate) fn connections(&self) -> ConnectionLimits {
        ConnectionLimits {
            header_read_timeout: Duration::from_secs(self.header_read_timeout),
            request_body_timeout: Duration::from_secs(self.request_body_timeout),
            keep_alive_timeout: Duration::from_secs(self.keep_alive_timeout),
            max_connections: usize::try_from(self.max_connections).unwrap_or(usize::MAX),
            max_connections_per_address: self.max_connections_per_address,
        }
    }

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
        assert_eq!(cli.limits.connections(), ConnectionLimits::default());
        let mut limits = keybound_service::RateLimits {
            pending_per_source: 0,
            pending_total: 0,
            ..Default::default()
        };
        cli.limits.pending(&mut limits);
        assert_eq!(limits, keybound_service::RateLimits::default());
        assert!(Cli::try_parse_from(["keybound", "--max-connections", "0"]).is_err());
        assert!(Cli::try_parse_from(["keybound", "--header-read-timeout", "0"]).is_err());
    }
}
