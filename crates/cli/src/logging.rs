//! The log: `tracing` events to stderr, filtered by `KEYBOUND_LOG` (an
//! `EnvFilter` directive such as `info` or `keybound::access=info,warn`)
//! and written as text or as one JSON object per line (`--log-format`).
//! What the lines hold is described in docs/manual/observability.md.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::settings::LogFormat;

/// Installs the process's subscriber. `default` is the filter without
/// `KEYBOUND_LOG` (or with one that does not parse): `serve` logs at
/// `info`, one-shot commands only what calls for attention.
pub(crate) fn init(format: LogFormat, default: &str) {
    let filter =
        EnvFilter::try_from_env("KEYBOUND_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal, not in a journal.
        .with_ansi(std::io::stderr().is_terminal());
    // A second subscriber (never installed here) is the only error.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            // The event's fields at the top level, the request's span
            // (request id, route, identity) under `span`.
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
}
