//! The verifiable audit log (issue 19): its name, where its checkpoints
//! are witnessed outside the database, and how often the sealer runs.

use std::path::PathBuf;

use clap::Args;
use keybound_service::Config;
use serde::{Deserialize, Serialize};

/// The longest seal interval: an event waits for a checkpoint about one
/// interval plus one run, and the bound promised is 1 s.
const MAX_SEAL_INTERVAL_MS: u64 = 1000;

/// The audit log's checkpoints.
#[derive(Args, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
#[command(next_help_heading = "Audit log")]
pub(crate) struct AuditSettings {
    /// Append each signed checkpoint to this file as a JSON line (fsync'd):
    /// put it where a database writer cannot reach (another disk, a WORM
    /// mount). A file that cannot be written is logged and counted, never
    /// fatal.
    #[arg(long, env = "KEYBOUND_AUDIT_WITNESS", value_name = "PATH")]
    audit_witness: Option<PathBuf>,
    /// The log's name in its checkpoints and its key's name (default
    /// `<rp-id>/keybound-audit`); changing it starts a new log key.
    #[arg(long, env = "KEYBOUND_AUDIT_ORIGIN", value_name = "TEXT")]
    audit_origin: Option<String>,
    /// How often the sealer signs a checkpoint of new events, in
    /// milliseconds (10 to 1000).
    #[arg(
        long,
        env = "KEYBOUND_AUDIT_SEAL_INTERVAL",
        value_name = "MS",
        default_value = "250",
        value_parser = clap::value_parser!(u64).range(10..=1000)
    )]
    audit_seal_interval: Option<u64>,
}

impl AuditSettings {
    /// Sets what is set; the rest keeps the service's defaults.
    pub(crate) fn apply(&self, config: &mut Config) -> Result<(), String> {
        let t = &mut config.transparency;
        if let Some(path) = &self.audit_witness {
            t.witness = Some(path.clone());
        }
        if let Some(origin) = &self.audit_origin {
            let origin = origin.trim();
            if !keybound_audit::checkpoint::valid_name(origin) {
                return Err(format!(
                    "--audit-origin {origin:?}: 1 to 256 characters, no spaces or '+'"
                ));
            }
            t.origin = origin.to_owned();
        }
        if let Some(ms) = self.audit_seal_interval {
            if !(10..=MAX_SEAL_INTERVAL_MS).contains(&ms) {
                return Err(format!("--audit-seal-interval {ms}: 10 to 1000 ms"));
            }
            t.seal_interval_ms = ms;
        }
        Ok(())
    }
}
