//! `keybound audit key` and `keybound audit checkpoint`: what
//! `GET /audit/v1/key` and `GET /audit/v1/checkpoint` serve, read from the
//! database, for an operator to hand a monitor (or pin in a witness's
//! configuration) without going through the HTTP listener.

use std::io::Write;
use std::process::ExitCode;

use keybound_service::Service;

/// What to print.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Published {
    /// The active verifier key, one line.
    Key,
    /// The latest signed note, as served.
    Checkpoint,
}

/// Before the first seal there is nothing to print: said on standard
/// error with exit code 1, so a script does not pin an empty key.
const NOTHING_YET: &str = "no checkpoint has been signed yet: start `keybound serve`";

/// Prints `what` to standard output; exit code 1 before the first seal.
pub(crate) async fn run(
    service: &Service,
    what: Published,
) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let text = match what {
        Published::Key => service
            .audit_verifier_key()
            .await?
            .map(|key| format!("{}\n", key.encode())),
        Published::Checkpoint => service.latest_audit_checkpoint().await?.map(|row| row.note),
    };
    let Some(text) = text else {
        eprintln!("keybound: {NOTHING_YET}");
        return Ok(ExitCode::FAILURE);
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
