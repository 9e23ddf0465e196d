//! The listener: who may speak for a client, and bounds on what clients
//! can make a node hold (connections, in time and number).

use std::time::Duration;

use clap::Args;
use keybound_server::{ConnectionLimits, TrustedProxies};
use serde::{Deserialize, Serialize};

use super::values::{Bounded, ProxyRange, TimeoutSeconds};

/// Connections and reverse proxies.
#[derive(Args, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
#[command(next_help_heading = "Connections")]
pub(crate) struct HttpSettings {
    /// A reverse proxy (address or CIDR range) whose X-Forwarded-For names
    /// the client (repeatable); otherwise the socket's address is the
    /// client.
    #[arg(
        long = "trusted-proxy",
        env = "KEYBOUND_TRUSTED_PROXIES",
        value_name = "IP|CIDR",
        value_delimiter = ','
    )]
    trusted_proxies: Option<Vec<ProxyRange>>,
    /// Seconds a client has to send a request's head (and to start its
    /// next request on a kept-alive connection).
    #[arg(
        long,
        env = "KEYBOUND_HEADER_READ_TIMEOUT",
        value_name = "SECONDS",
        default_value = "10"
    )]
    header_read_timeout: Option<TimeoutSeconds>,
    /// Seconds a client has to send a request's body after its head.
    #[arg(
        long,
        env = "KEYBOUND_REQUEST_BODY_TIMEOUT",
        value_name = "SECONDS",
        default_value = "30"
    )]
    request_body_timeout: Option<TimeoutSeconds>,
    /// Seconds an idle connection is kept open between requests (at most
    /// the header-read timeout).
    #[arg(
        long,
        env = "KEYBOUND_KEEP_ALIVE_TIMEOUT",
        value_name = "SECONDS",
        default_value = "5"
    )]
    keep_alive_timeout: Option<TimeoutSeconds>,
    /// Connections served at once; more wait to be accepted.
    #[arg(
        long,
        env = "KEYBOUND_MAX_CONNECTIONS",
        value_name = "N",
        default_value = "512"
    )]
    max_connections: Option<Bounded<1, 1_000_000>>,
    /// Connections one client address (IPv6: /64) may hold at once; more
    /// are closed (0: no bound). Trusted proxies are not counted.
    #[arg(
        long,
        env = "KEYBOUND_MAX_CONNECTIONS_PER_ADDRESS",
        value_name = "N",
        default_value = "128"
    )]
    max_connections_per_address: Option<usize>,
    /// Scope the session cookie to this domain (the RP ID or a parent of
    /// it, not a public suffix), so apps on sibling hosts behind
    /// forward-auth see it; return addresses under it are followed after
    /// signing in. Unset: the cookie is this host's only.
    #[arg(long, env = "KEYBOUND_COOKIE_DOMAIN", value_name = "DOMAIN")]
    cookie_domain: Option<String>,
}

impl HttpSettings {
    /// What `keybound_server::serve_behind` applies: what is set, the
    /// server's defaults for the rest.
    pub(crate) fn connections(&self) -> ConnectionLimits {
        let mut limits = ConnectionLimits::default();
        let seconds = |s: TimeoutSeconds| Duration::from_secs(s.get());
        if let Some(s) = self.header_read_timeout {
            limits.header_read_timeout = seconds(s);
        }
        if let Some(s) = self.request_body_timeout {
            limits.request_body_timeout = seconds(s);
        }
        if let Some(s) = self.keep_alive_timeout {
            limits.keep_alive_timeout = seconds(s);
        }
        if let Some(n) = self.max_connections {
            limits.max_connections = usize::try_from(n.get()).unwrap_or(usize::MAX);
        }
        if let Some(n) = self.max_connections_per_address {
            limits.max_connections_per_address = n;
        }
        limits
    }

    /// `--cookie-domain`, if set.
    pub(crate) fn cookie_domain(&self) -> Option<&str> {
        self.cookie_domain.as_deref()
    }

    /// The reverse proxies, one range each, as the start event records
    /// them.
    pub(crate) fn trusted_proxies(&self) -> Vec<TrustedProxies> {
        self.trusted_proxies
            .iter()
            .flatten()
            .map(|p| p.parsed().clone())
            .collect()
    }
}
