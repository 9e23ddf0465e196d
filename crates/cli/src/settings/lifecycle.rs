//! How `serve` stops: the time a graceful stop may take.

use std::time::Duration;

use clap::Args;
use serde::{Deserialize, Serialize};

use super::required;
use super::values::Bounded;

/// Stopping.
#[derive(Args, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
#[command(next_help_heading = "Lifecycle")]
pub(crate) struct LifecycleSettings {
    /// Seconds a stop (SIGTERM or SIGINT) may take to let running requests
    /// finish and flush the database; after them the process exits anyway,
    /// with status 1.
    #[arg(
        long,
        env = "KEYBOUND_SHUTDOWN_GRACE",
        value_name = "SECONDS",
        default_value = "20"
    )]
    shutdown_grace: Option<Bounded<1, 3600>>,
}

impl LifecycleSettings {
    /// The bound on a graceful stop.
    pub(crate) fn shutdown_grace(&self) -> Result<Duration, String> {
        Ok(Duration::from_secs(
            required(&self.shutdown_grace, "shutdown_grace")?.get(),
        ))
    }
}
