//! `keybound audit reconcile`: the service replays the log against the
//! database; this prints each difference as one line naming the object,
//! or how much matched.

use std::io::Write;
use std::process::ExitCode;

use keybound_service::names::text::{escape, escape_json};
use keybound_service::{Difference, Operator, Reconciliation, Service};

/// Runs the reconciliation as the local operator and prints it: exit code
/// 1 when anything differs.
pub(super) async fn run(
    service: &Service,
    json: bool,
    out: &mut impl Write,
) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let operator = Operator::local("cli");
    let done = service.reconcile((&operator).into()).await?;
    if json {
        // JSON escapes the C0 controls; escape_json the rest a name may
        // hold (C1, bidi, invisible characters).
        let text = serde_json::to_string(&done)?;
        writeln!(out, "{}", escape_json(&text))?;
    } else {
        for d in &done.differences {
            writeln!(out, "{}", line(d))?;
        }
        if done.differences.is_empty() {
            writeln!(out, "state matches the log: {}", counts(&done))?;
        } else {
            writeln!(
                out,
                "{} differences from the log ({})",
                done.differences.len(),
                counts(&done)
            )?;
        }
        if !done.settled {
            writeln!(
                out,
                "note: the log grew while the database was read; run again on a quieter moment"
            )?;
        }
    }
    Ok(if done.differences.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `identity alice: is_admin = 1 in the database, the log implies 0 (last
/// event seq 12)`, names escaped for the terminal.
fn line(d: &Difference) -> String {
    let since = match d.last_event_seq {
        Some(seq) => format!("last event seq {seq}"),
        None => "no event sets it".to_owned(),
    };
    escape(&format!(
        "{}: {} = {} in the database, the log implies {} ({since})",
        d.object, d.field, d.actual, d.implied
    ))
    .into_owned()
}

fn counts(r: &Reconciliation) -> String {
    format!(
        "{} identities, {} credentials, {} devices, {} workload entries, {} agents, {} events",
        r.identities, r.credentials, r.devices, r.workload_entries, r.agents, r.events
    )
}
