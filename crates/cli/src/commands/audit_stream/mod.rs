//! `keybound audit stream`: the audit log delivered to a SIEM at least
//! once, a page at a time, resumable after a restart. The stream's cursor
//! (the last sequence number its receiver acknowledged, keyed by the
//! stream's name) is advanced only after the sink acknowledged the page;
//! a failed delivery is retried with backoff from the cursor. So a SIEM
//! may see an event twice (after a crash between the ack and the cursor's
//! update), never miss one. Each event is the line `audit export` writes,
//! with seq, prev_hash and hash: the SIEM's copy is one more witness.

mod format;
mod sinks;
mod target;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use keybound_service::{Clock, Service, SystemClock};

use crate::lifecycle::StopSignals;
use sinks::Sink;
use target::Target;

/// Events read and delivered at a time: memory stays at one page.
const PAGE: usize = 1000;

/// How often `--follow` looks for new events.
const POLL: Duration = Duration::from_millis(500);

/// The first retry's wait; doubled per failure up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(250);

/// The longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Without `--follow`, attempts at one page before giving up (exit 1).
const ATTEMPTS: u32 = 4;

/// Stream the audit log to a SIEM, at least once, resuming where the
/// last run's receiver acknowledged.
#[derive(Args, Debug)]
pub(crate) struct StreamArgs {
    /// Where to: `file:PATH`, `-` (standard output),
    /// `syslog+tcp://HOST:PORT` (`?framing=lf` for LF framing),
    /// `syslog+tls://HOST:PORT`, `otlp+http://HOST:PORT/v1/logs` or
    /// `otlp+https://…`.
    #[arg(long, value_name = "URL")]
    to: String,
    /// The stream's name, which keys its cursor (default: from the URL).
    #[arg(long)]
    name: Option<String>,
    /// Keep running, polling for new events every 500 ms, until SIGTERM
    /// or Ctrl-C; retry a failing receiver forever (with backoff).
    #[arg(long)]
    follow: bool,
    /// The CA certificate(s), PEM, that authenticate a TLS syslog server
    /// or an https OTLP collector.
    #[arg(long, value_name = "FILE")]
    ca_file: Option<PathBuf>,
    /// Start again from the first event (resets the stream's cursor).
    #[arg(long)]
    from_start: bool,
    /// Stop after delivering this many events (a bounded catch-up).
    #[arg(long, value_name = "N")]
    max_events: Option<u64>,
}

/// Runs the stream until the log's end (or a signal with `--follow`).
pub(crate) async fn run(service: &Service, args: StreamArgs) -> Result<ExitCode, String> {
    let target = Target::parse(&args.to)?;
    let name = args.name.clone().unwrap_or_else(|| target.default_name());
    target::check_name(&name)?;
    let mut sink = Sink::new(target, args.ca_file.as_ref())?;
    let store = service.store();
    if args.from_start {
        store
            .reset_audit_stream(&name)
            .await
            .map_err(|e| e.to_string())?;
    }
    let mut signals = StopSignals::install()?;
    let mut cursor = store
        .audit_stream_cursor(&name)
        .await
        .map_err(|e| e.to_string())?;
    let mut delivered: u64 = 0;
    let mut failures: u32 = 0;
    let outcome = loop {
        let room = args.max_events.map_or(PAGE as u64, |max| {
            max.saturating_sub(delivered).min(PAGE as u64)
        });
        if room == 0 {
            break Ok(ExitCode::SUCCESS);
        }
        let page = store
            .audit_after(cursor, usize::try_from(room).unwrap_or(PAGE))
            .await
            .map_err(|e| e.to_string())?;
        let Some(last) = page.last().map(|e| e.seq) else {
            if !args.follow {
                break Ok(ExitCode::SUCCESS);
            }
            tokio::select! {
                () = tokio::time::sleep(POLL) => continue,
                _ = signals.next() => break Ok(ExitCode::SUCCESS),
            }
        };
        if let Some(first) = page.first().map(|e| e.seq) {
            if first != cursor + 1 {
                // Rows deleted from the log: the receiver cannot get them,
                // but it should know they were missing when streamed.
                eprintln!(
                    "audit stream {name:?}: WARNING: events {}..={} are missing from the \
                     log (run `keybound audit verify`)",
                    cursor + 1,
                    first - 1
                );
            }
        }
        let attempt = tokio::select! {
            result = sink.deliver(&page) => result,
            _ = signals.next() => break Ok(ExitCode::SUCCESS),
        };
        match attempt {
            Ok(()) => {
                store
                    .advance_audit_stream(&name, last, SystemClock.now_ms())
                    .await
                    .map_err(|e| e.to_string())?;
                cursor = last;
                delivered += page.len() as u64;
                failures = 0;
            }
            Err(why) => {
                failures += 1;
                eprintln!(
                    "audit stream {name:?}: delivery after seq {cursor} failed \
                     (attempt {failures}): {why}"
                );
                if !args.follow && failures >= ATTEMPTS {
                    break Ok(ExitCode::FAILURE);
                }
                let wait = FIRST_BACKOFF
                    .saturating_mul(1 << failures.min(8))
                    .min(MAX_BACKOFF);
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    _ = signals.next() => break Ok(ExitCode::SUCCESS),
                }
            }
        }
    };
    sink.close().await;
    eprintln!(
        "audit stream {name:?}: {delivered} events delivered; acknowledged up to seq {cursor}"
    );
    outcome
}
