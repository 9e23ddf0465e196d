//! `keybound node`, the node agent: which keybound servers it syncs with,
//! where it serves the Workload API, where it keeps its node key, and how
//! it attests. The data directory's key is `node_data_dir` in the file
//! (`data_dir` is the server's database directory); every other key is the
//! flag's name.

use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Args};
use serde::{Deserialize, Serialize};

use super::required;
use super::values::Bounded;

/// The node agent.
#[derive(Args, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
#[command(next_help_heading = "Node agent")]
pub(crate) struct NodeSettings {
    /// A keybound server's base URL (`https://id.example.org`); repeat
    /// (or separate with commas) to fail over, tried in order.
    #[arg(
        long = "server",
        env = "KEYBOUND_NODE_SERVERS",
        value_name = "URL",
        value_delimiter = ','
    )]
    server: Option<Vec<String>>,
    /// The Unix socket to serve the SPIFFE Workload API on.
    #[arg(
        long,
        env = "KEYBOUND_NODE_SOCKET",
        value_name = "PATH",
        default_value = "/run/keybound-node/api.sock"
    )]
    socket: Option<PathBuf>,
    /// Where the node key and the attested state are kept (0700; the key
    /// file is 0600). Keep it across restarts: the node key is the node.
    #[arg(
        long = "data-dir",
        env = "KEYBOUND_NODE_DATA_DIR",
        value_name = "DIR",
        default_value = "/var/lib/keybound-node"
    )]
    node_data_dir: Option<PathBuf>,
    /// A one-time join token (`keybound workload token create`) to attest
    /// with on the first start; ignored once attested. Prefer the variable
    /// to the flag: a flag shows in the process list.
    #[arg(
        long,
        env = "KEYBOUND_JOIN_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    join_token: Option<String>,
    /// Attest with this host's TPM instead of a join token.
    #[arg(long, env = "KEYBOUND_NODE_TPM", action = ArgAction::SetTrue)]
    tpm: Option<bool>,
    /// Seconds between syncs at most (the server may ask for sooner).
    #[arg(
        long,
        env = "KEYBOUND_NODE_SYNC_INTERVAL",
        value_name = "SECONDS",
        default_value = "5"
    )]
    sync_interval: Option<Bounded<1, 3600>>,
}

/// How the node proves itself the first time.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Attestation {
    /// A one-time join token (never logged).
    JoinToken(String),
    /// The host's TPM.
    Tpm,
    /// Neither given: only a node attested before can start.
    None,
}

impl std::fmt::Debug for Attestation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Attestation::JoinToken(_) => f.write_str("JoinToken(..)"),
            Attestation::Tpm => f.write_str("Tpm"),
            Attestation::None => f.write_str("None"),
        }
    }
}

/// Whether `url` names this host.
fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

impl NodeSettings {
    /// The servers, parsed, in order; at least one.
    pub(crate) fn servers(&self) -> Result<Vec<url::Url>, String> {
        let list = self.server.as_deref().unwrap_or_default();
        if list.is_empty() {
            return Err("keybound node needs --server URL (one or more)".into());
        }
        list.iter()
            .map(|s| {
                let url = url::Url::parse(s).map_err(|e| format!("--server {s:?}: {e}"))?;
                if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
                    return Err(format!("--server {s:?}: not an http(s) base URL"));
                }
                // Join tokens, SVIDs and the trust bundle travel this way:
                // plain http only to this host.
                if url.scheme() == "http" && !is_loopback(&url) {
                    return Err(format!(
                        "--server {s:?}: http is allowed only to this host (127.0.0.1, ::1, \
                         localhost); use https"
                    ));
                }
                Ok(url)
            })
            .collect()
    }

    /// The Workload API socket.
    pub(crate) fn socket(&self) -> Result<PathBuf, String> {
        required(&self.socket, "socket").cloned()
    }

    /// The node's data directory.
    pub(crate) fn data_dir(&self) -> Result<PathBuf, String> {
        required(&self.node_data_dir, "node_data_dir").cloned()
    }

    /// The first attestation: a join token or the TPM, not both.
    pub(crate) fn attestation(&self) -> Result<Attestation, String> {
        match (&self.join_token, self.tpm.unwrap_or(false)) {
            (Some(_), true) => Err("--join-token and --tpm exclude each other".into()),
            (Some(token), false) => Ok(Attestation::JoinToken(token.clone())),
            (None, true) => Ok(Attestation::Tpm),
            (None, false) => Ok(Attestation::None),
        }
    }

    /// The longest wait between syncs.
    pub(crate) fn sync_interval(&self) -> Result<Duration, String> {
        required(&self.sync_interval, "sync_interval").map(|s| Duration::from_secs(s.get()))
    }
}
