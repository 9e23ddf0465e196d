//! What operators see of a running server: the log's format (its filter
//! is `KEYBOUND_LOG`, an `EnvFilter` directive) and where Prometheus
//! scrapes metrics, if anywhere.

use std::net::SocketAddr;

use clap::Args;
use serde::{Deserialize, Serialize};

/// How log lines are written to stderr.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum LogFormat {
    /// One human-readable line per event.
    #[default]
    Text,
    /// One JSON object per line, for a log collector.
    Json,
}

/// Logs and metrics.
#[derive(Args, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
#[command(next_help_heading = "Observability")]
pub(crate) struct ObserveSettings {
    /// How log lines on stderr are written (filter them with KEYBOUND_LOG,
    /// e.g. `info` or `keybound::access=info,warn`).
    #[arg(
        long,
        env = "KEYBOUND_LOG_FORMAT",
        value_name = "FORMAT",
        value_enum,
        default_value = "text"
    )]
    log_format: Option<LogFormat>,
    /// Serve Prometheus metrics at http://ADDR/metrics, on a listener of
    /// their own (off unless set; keep it off the public network).
    #[arg(long, env = "KEYBOUND_METRICS_LISTEN", value_name = "ADDR")]
    metrics_listen: Option<SocketAddr>,
}

impl ObserveSettings {
    /// The log format (text unless set).
    pub(crate) fn log_format(&self) -> LogFormat {
        self.log_format.unwrap_or_default()
    }

    /// Where to serve metrics, if anywhere.
    pub(crate) fn metrics_listen(&self) -> Option<SocketAddr> {
        self.metrics_listen
    }
}
