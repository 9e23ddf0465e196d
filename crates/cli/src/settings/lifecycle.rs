//! How `serve` stops: how long it stays reachable while unready, and the
//! time a graceful stop may take.

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
    /// Seconds between the stop signal and closing the listener: `/readyz`
    /// answers 503 while requests are still accepted and served, so a load
    /// balancer polling it moves traffic away before connections are
    /// refused. Part of, and less than, --shutdown-grace; 0: close at once.
    #[arg(
        long,
        env = "KEYBOUND_SHUTDOWN_DELAY",
        value_name = "SECONDS",
        default_value = "2"
    )]
    shutdown_delay: Option<Bounded<0, 3599>>,
}

impl LifecycleSettings {
    /// The bound on a graceful stop, counted from the signal.
    pub(crate) fn shutdown_grace(&self) -> Result<Duration, String> {
        Ok(Duration::from_secs(
            required(&self.shutdown_grace, "shutdown_grace")?.get(),
        ))
    }

    /// How long a stopping node stays unready but serving; always less
    /// than the grace, so the drain has some of it left.
    pub(crate) fn shutdown_delay(&self) -> Result<Duration, String> {
        let delay = Duration::from_secs(required(&self.shutdown_delay, "shutdown_delay")?.get());
        let grace = self.shutdown_grace()?;
        if delay >= grace {
            return Err(format!(
                "--shutdown-delay ({}s) must be less than --shutdown-grace ({}s), \
                 which it is part of",
                delay.as_secs(),
                grace.as_secs()
            ));
        }
        Ok(delay)
    }
}
