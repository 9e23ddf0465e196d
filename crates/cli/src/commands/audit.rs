//! `keybound audit …`: reads the chain as it stood when the command began,
//! a page at a time, writing each page out before reading the next. Takes
//! only the database settings.

use std::io::Write;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use keybound_service::names::text::escape_json;
use keybound_service::{Service, SystemClock};

mod reconcile;

use crate::app::{self, ServiceSettings};
use crate::output::{self, Table};
use crate::settings::{Sources, StoreSettings};

/// Events read from the database at a time by `audit verify`, `export`
/// and `alerts`: memory stays at one page whatever the chain's length.
const AUDIT_PAGE: usize = 1000;

/// Check or export the audit chain.
#[derive(Args, Debug)]
pub(crate) struct Audit {
    #[command(flatten)]
    store: StoreSettings,
    #[command(subcommand)]
    command: AuditCommand,
}

#[derive(Subcommand, Debug)]
enum AuditCommand {
    /// Verify the hash chain, the Merkle tree and the signed checkpoints
    /// (stored ones, and those given); names what is wrong.
    Verify(super::audit_verify::VerifyArgs),
    /// Write every event as JSON lines to standard output.
    Export,
    /// List the events that call for attention (alerts, and events with a
    /// severity): a table, or JSON lines with `--json`.
    Alerts {
        /// Only those of the last DURATION: `30m`, `24h`, `7d`.
        #[arg(long, value_parser = parse_duration_ms)]
        since: Option<i64>,
        /// Print each event as a line of JSON (as `audit export` does).
        #[arg(long)]
        json: bool,
    },
    /// Stream events to a SIEM (a file, standard output, syslog over TCP
    /// or TLS, OpenTelemetry over HTTP), at least once, resuming where the
    /// receiver last acknowledged.
    Stream(super::audit_stream::StreamArgs),
    /// Replay the log into the state it implies (identities, roles,
    /// credentials, devices, workload entries, agents) and name every
    /// difference from the database; exit code 1 when there is one.
    Reconcile {
        /// Print the result as one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Print the inclusion proof of event SEQ in a signed checkpoint (JSON).
    Prove(super::audit_verify::ProveArgs),
    /// Print the log's verifier key (`name+hash+base64`), as
    /// `GET /audit/v1/key` serves it: what a monitor pins.
    Key,
    /// Print the latest signed checkpoint (a C2SP signed note), as
    /// `GET /audit/v1/checkpoint` serves it.
    Checkpoint,
}

/// `30s`, `30m`, `24h`, `7d` in milliseconds, for clap.
fn parse_duration_ms(text: &str) -> Result<i64, String> {
    keybound_service::duration_ms(text)
        .ok_or_else(|| format!("{text:?}: expected a number and s, m, h or d"))
}

impl Audit {
    /// Resolves the database settings and runs the command.
    pub(crate) async fn run(self, sources: &Sources) -> Result<ExitCode, String> {
        let settings = ServiceSettings {
            store: sources.resolve(self.store)?,
            ..ServiceSettings::default()
        };
        let service = app::existing_service(&settings).await?;
        run(&service, self.command).await.map_err(|e| e.to_string())
    }
}

async fn run(
    service: &Service,
    command: AuditCommand,
) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let command = match command {
        AuditCommand::Stream(args) => return Ok(super::audit_stream::run(service, args).await?),
        AuditCommand::Key => {
            return super::audit_publish::run(service, super::audit_publish::Published::Key).await
        }
        AuditCommand::Checkpoint => {
            return super::audit_publish::run(service, super::audit_publish::Published::Checkpoint)
                .await
        }
        other => other,
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match &command {
        AuditCommand::Verify(args) => return Ok(super::audit_verify::verify(service, args).await?),
        AuditCommand::Prove(args) => return Ok(super::audit_verify::prove(service, args).await?),
        _ => {}
    }
    if let AuditCommand::Reconcile { json } = command {
        let done = reconcile::run(service, json, &mut out).await?;
        out.flush()?;
        return Ok(done);
    }
    let mut chain = service.store().audit_chain(AUDIT_PAGE).await?;
    let now = keybound_service::Clock::now_ms(&SystemClock);
    // Alerts are few: gathered for one aligned table.
    let mut alerts = Table::new(&[
        "TIME", "SEVERITY", "OUTCOME", "KIND", "SUBJECT", "ACTOR", "REASON",
    ]);
    // `--json`: one array, like every other listing (`[]` for none).
    let mut alerts_json: Vec<String> = Vec::new();
    loop {
        let page = chain.next_page().await?;
        if page.is_empty() {
            break;
        }
        for e in &page {
            match &command {
                AuditCommand::Verify(_)
                | AuditCommand::Prove(_)
                | AuditCommand::Stream(_)
                | AuditCommand::Reconcile { .. }
                | AuditCommand::Key
                | AuditCommand::Checkpoint => {}
                AuditCommand::Export => writeln!(out, "{}", json_line(e)?)?,
                AuditCommand::Alerts { since, json } => {
                    let from = since.map_or(i64::MIN, |ms| now.saturating_sub(ms));
                    let attention = e.event.outcome == Some(keybound_audit::Outcome::Alert)
                        || e.event.severity.is_some();
                    if e.event.time_ms >= from && attention {
                        if *json {
                            alerts_json.push(json_line(e)?);
                        } else {
                            alerts.row(alert_row(e));
                        }
                    }
                }
            }
        }
    }
    match command {
        AuditCommand::Alerts { json: false, .. } => write!(out, "{}", alerts.render())?,
        AuditCommand::Alerts { json: true, .. } => writeln!(out, "[{}]", alerts_json.join(","))?,
        _ => {}
    }
    match out.flush() {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        other => other?,
    }
    Ok(ExitCode::SUCCESS)
}

/// One alert as a table row (the table escapes client text).
fn alert_row(e: &keybound_audit::AuditEvent) -> Vec<String> {
    let name = |v: Option<String>| v.unwrap_or_default();
    vec![
        output::iso(e.event.time_ms),
        word(&e.event.severity),
        word(&e.event.outcome),
        e.event.kind.clone(),
        name(e.event.subject.clone()),
        name(e.event.actor.clone()),
        name(e.event.reason.clone()),
    ]
}

/// A unit enum's snake_case name as the audit log writes it (empty for
/// none).
pub(crate) fn word<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

/// Checks the hash chain as it stood when the call began, a page at a
/// time: `Ok(events verified)`, or `Err` naming the first broken event.
/// `audit verify`, `backup` and `restore` all judge a chain with it.
pub(crate) async fn verify_chain(
    store: &keybound_store::Store,
) -> Result<Result<u64, String>, keybound_store::StoreError> {
    let mut chain = store.audit_chain(AUDIT_PAGE).await?;
    let mut verifier = keybound_audit::ChainVerifier::new();
    loop {
        let page = chain.next_page().await?;
        if page.is_empty() {
            break;
        }
        for e in &page {
            if let Err(broken) = verifier.push(e) {
                return Ok(Err(broken.to_string()));
            }
        }
    }
    if verifier.verified() < chain.len() {
        // Rows missing at the end of what the chain held when we began.
        return Ok(Err(format!(
            "expected event {}, found none: events missing",
            verifier.verified() + 1
        )));
    }
    Ok(Ok(verifier.verified()))
}

/// One event as a line of JSON for a terminal: JSON escapes the C0
/// controls, and [`escape_json`] the rest (C1 controls, bidi and invisible
/// characters) that a client may have put in a name or user agent.
pub(crate) fn json_line(event: &keybound_audit::AuditEvent) -> Result<String, String> {
    let line = serde_json::to_string(event).map_err(|e| e.to_string())?;
    Ok(escape_json(&line).into_owned())
}
