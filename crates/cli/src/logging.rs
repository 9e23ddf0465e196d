//! The log: `tracing` events to stderr, filtered by `KEYBOUND_LOG` (an
//! `EnvFilter` directive such as `info` or `keybound::access=info,warn`)
//! and written as text or as one JSON object per line (`--log-format`).
//! What the lines hold is described in docs/manual/observability.md.
//!
//! Lines are handed to a writer thread (`tracing-appender`'s non-blocking
//! writer) instead of being written on the request's worker thread: a log
//! reader that stalls (a full pipe, a stuck journald) would otherwise
//! block every worker in `write`, `/healthz` included. When the reader
//! stalls long enough for [`BUFFERED_LINES`] to queue up, further lines
//! are dropped, and counted ([`dropped_lines`], exported as
//! [`DROPPED_METRIC`]).

use std::io::IsTerminal;
use std::sync::OnceLock;

use tracing_appender::non_blocking::{ErrorCounter, NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;

use crate::settings::LogFormat;

/// Lines queued for a stalled stderr before lines are dropped: a few MB
/// at most, minutes of a busy node's access log.
pub(crate) const BUFFERED_LINES: usize = 16_384;

/// Log lines dropped because stderr did not keep up (a counter).
pub(crate) const DROPPED_METRIC: &str = "keybound_log_lines_dropped_total";

/// The writer's count of dropped lines, once the log is set up.
static DROPPED: OnceLock<ErrorCounter> = OnceLock::new();

/// Keeps the writer thread for as long as it lives; dropping it writes
/// out what is queued (waiting a short while at most), so keep it until
/// the process is about to exit.
#[must_use = "dropping the guard stops the log"]
pub(crate) struct LogGuard {
    _worker: WorkerGuard,
}

/// Installs the process's subscriber. `default` is the filter without
/// `KEYBOUND_LOG` (or with one that does not parse): `serve` logs at
/// `info`, one-shot commands only what calls for attention.
pub(crate) fn init(format: LogFormat, default: &str) -> LogGuard {
    let filter =
        EnvFilter::try_from_env("KEYBOUND_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let (writer, worker) = NonBlockingBuilder::default()
        .lossy(true)
        .buffered_lines_limit(BUFFERED_LINES)
        .thread_name("keybound-log")
        .finish(std::io::stderr());
    let _ = DROPPED.set(writer.error_counter());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
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
    LogGuard { _worker: worker }
}

/// Log lines dropped so far because stderr did not keep up.
pub(crate) fn dropped_lines() -> u64 {
    DROPPED
        .get()
        .map_or(0, |counter| counter.dropped_lines() as u64)
}
