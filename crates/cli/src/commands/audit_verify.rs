//! `keybound audit verify [--checkpoint FILE]... [--witness PATH]...
//! [--key TEXT | --key-file F]` and `keybound audit prove SEQ [--size N]`:
//! the auditor's half of the verifiable log (issue 19). Verify holds the
//! events against checkpoints kept outside the database; prove prints an
//! inclusion proof to check offline (tests/fixtures/verify_proof.py is a
//! reference verifier that needs nothing of keybound's).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use clap::Args;
use keybound_audit::checkpoint::{VerifierKey, MAX_NOTE};
use keybound_service::names::text::escape;
use keybound_service::{GivenCheckpoint, KeySource, Service, TagSummary};

/// The longest witness file line read (a note is at most [`MAX_NOTE`]).
const MAX_WITNESS_LINE: usize = 2 * MAX_NOTE;

/// `audit verify`'s flags.
#[derive(Args, Debug, Default)]
pub(crate) struct VerifyArgs {
    /// A signed checkpoint saved earlier (the note `GET
    /// /audit/v1/checkpoint` serves); the log must still extend it.
    #[arg(long, value_name = "FILE")]
    checkpoint: Vec<PathBuf>,
    /// A witness file (`--audit-witness`): every checkpoint in it.
    #[arg(long, value_name = "PATH")]
    witness: Vec<PathBuf>,
    /// The log's verifier key (`name+hash+base64`, as `audit key`
    /// prints it). Without it the keys in the database are used, which
    /// anyone who can write the database can replace.
    #[arg(long, value_name = "TEXT", conflicts_with = "key_file")]
    key: Option<String>,
    /// A file holding the verifier key.
    #[arg(long, value_name = "FILE")]
    key_file: Option<PathBuf>,
}

/// `audit prove`'s arguments.
#[derive(Args, Debug)]
pub(crate) struct ProveArgs {
    /// The event's sequence number.
    seq: u64,
    /// Prove against the checkpoint of this size (default: the smallest
    /// checkpoint covering the event).
    #[arg(long)]
    size: Option<u64>,
}

fn read_text(path: &Path, what: &str) -> Result<String, String> {
    let meta = std::fs::metadata(path)
        .map_err(|e| format!("cannot read {what} {}: {e}", path.display()))?;
    if !meta.is_file() {
        return Err(format!("{what} {} is not a file", path.display()));
    }
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {what} {}: {e}", path.display()))
}

/// The key from `--key` or `--key-file`.
fn given_key(args: &VerifyArgs) -> Result<Option<VerifierKey>, String> {
    let text = match (&args.key, &args.key_file) {
        (Some(text), _) => text.clone(),
        (None, Some(path)) => {
            let meta = std::fs::metadata(path)
                .map_err(|e| format!("cannot read key file {}: {e}", path.display()))?;
            if meta.len() > 4096 {
                return Err(format!("key file {} is too long for a key", path.display()));
            }
            read_text(path, "key file")?
        }
        (None, None) => return Ok(None),
    };
    VerifierKey::parse(&text)
        .map(Some)
        .map_err(|e| format!("the key cannot be used: {e}"))
}

/// One checkpoint file: a raw signed note.
fn checkpoint_file(path: &Path) -> Result<GivenCheckpoint, String> {
    let meta = std::fs::metadata(path)
        .map_err(|e| format!("cannot read checkpoint {}: {e}", path.display()))?;
    if meta.len() > MAX_NOTE as u64 {
        return Err(format!(
            "checkpoint {} is not a signed note: longer than a checkpoint can be",
            path.display()
        ));
    }
    let note = read_text(path, "checkpoint")?;
    if !note.contains("\n\n\u{2014} ") {
        return Err(format!(
            "checkpoint {} is not a signed note (no signature line after a blank line)",
            path.display()
        ));
    }
    Ok(GivenCheckpoint {
        source: format!("file {}", path.display()),
        note,
        time_ms: None,
    })
}

#[derive(serde::Deserialize)]
struct WitnessLine {
    note: String,
    time_ms: Option<i64>,
}

/// Every checkpoint of a witness file, one JSON object a line.
fn witness_file(path: &Path, out: &mut Vec<GivenCheckpoint>) -> Result<(), String> {
    use std::io::{BufRead, Read};
    let file = std::fs::File::open(path)
        .map_err(|e| format!("cannot read witness file {}: {e}", path.display()))?;
    let mut reader = std::io::BufReader::new(file);
    let mut line = String::new();
    let mut number = 0u64;
    loop {
        line.clear();
        let n = (&mut reader)
            .take(MAX_WITNESS_LINE as u64 + 1)
            .read_line(&mut line)
            .map_err(|e| format!("cannot read witness file {}: {e}", path.display()))?;
        if n == 0 {
            break;
        }
        number += 1;
        if n > MAX_WITNESS_LINE {
            return Err(format!(
                "witness file {} line {number} is too long for a checkpoint",
                path.display()
            ));
        }
        if line.trim().is_empty() {
            continue;
        }
        let w: WitnessLine = serde_json::from_str(&line).map_err(|e| {
            format!(
                "witness file {} line {number} is not a witness record: {e}",
                path.display()
            )
        })?;
        out.push(GivenCheckpoint {
            source: format!("witness {} line {number}", path.display()),
            note: w.note,
            time_ms: w.time_ms,
        });
    }
    Ok(())
}

/// `audit verify`: exit 0 only when the chain holds, every checkpoint's
/// root is reproduced and every signature verifies.
pub(crate) async fn verify(service: &Service, args: &VerifyArgs) -> Result<ExitCode, String> {
    let key = given_key(args)?;
    let mut given = Vec::new();
    for path in &args.checkpoint {
        given.push(checkpoint_file(path)?);
    }
    for path in &args.witness {
        witness_file(path, &mut given)?;
    }
    let report = service
        .verify_audit_log(&given, key.as_ref())
        .await
        .map_err(|e| e.to_string())?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let w = |e: std::io::Error| e.to_string();
    let key_text = match report.key {
        KeySource::Given => "signatures checked with the given key".to_owned(),
        KeySource::Database { keys } => format!(
            "signatures checked with the {keys} key(s) stored in the database (give --key to \
             check against a key kept elsewhere)"
        ),
        KeySource::None => "the log is not sealed yet and no key was given".to_owned(),
    };
    if report.ok() {
        writeln!(out, "audit chain verified: {} events", report.events).map_err(w)?;
        writeln!(
            out,
            "audit log verified: {} checkpoint(s) matched ({} stored); root {}",
            report.matched.len(),
            report.stored_checkpoints,
            B64.encode(report.root)
        )
        .map_err(w)?;
    } else {
        if report
            .problems
            .iter()
            .any(|p| p.kind == keybound_service::ProblemKind::Chain)
        {
            // The first line as before issue 19, for scripts that grep it.
            writeln!(out, "audit chain BROKEN").map_err(w)?;
        }
        writeln!(
            out,
            "audit log TAMPERED: {} problem(s) in {} events",
            report.problems.len(),
            report.events
        )
        .map_err(w)?;
        for p in &report.problems {
            writeln!(out, "- {}", escape(&p.message)).map_err(w)?;
        }
        if let Some((size, source)) = report.matched.last() {
            writeln!(out, "the log still matched {source} (size {size})").map_err(w)?;
        }
    }
    writeln!(out, "{key_text}").map_err(w)?;
    writeln!(out, "{}", tags_text(&report)).map_err(w)?;
    out.flush().map_err(w)?;
    Ok(if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The report's line on the events' tags (`keybound_audit::mac`).
fn tags_text(report: &keybound_service::LogReport) -> String {
    match report.tags {
        TagSummary::NotChecked => "event tags not checked: give the key-encryption key the \
                                   servers use (--ca-key-encryption-key-file)"
            .to_owned(),
        TagSummary::Checked {
            tagged,
            since: Some(since),
        } => format!(
            "event tags checked: {tagged} event(s) tagged; every event from {since} on must be"
        ),
        TagSummary::Checked { since: None, .. } => {
            "event tags checked: no event is tagged yet".to_owned()
        }
    }
}

/// `audit prove SEQ`: the inclusion proof as one JSON object.
pub(crate) async fn prove(service: &Service, args: &ProveArgs) -> Result<ExitCode, String> {
    let proof = match service.audit_inclusion_proof(args.seq, args.size).await {
        Ok(p) => p,
        Err(keybound_service::ServiceError::NotFound) => {
            return Err(match args.size {
                Some(size) => format!(
                    "no proof of event {} in a checkpoint of size {size}: no such event, or no \
                     checkpoint of that size was signed",
                    args.seq
                ),
                None => format!(
                    "no proof of event {}: no such event, or no checkpoint covers it yet",
                    args.seq
                ),
            })
        }
        Err(e) => return Err(e.to_string()),
    };
    let key = proof.key.as_ref().map(VerifierKey::encode);
    let event = serde_json::to_value(&proof.event).map_err(|e| e.to_string())?;
    let json = serde_json::json!({
        "seq": proof.seq,
        "index": proof.index,
        "size": proof.size,
        "event": event,
        "leaf_hash": B64.encode(proof.leaf_hash),
        "proof": proof.proof.iter().map(|h| B64.encode(h)).collect::<Vec<_>>(),
        "root": B64.encode(proof.checkpoint.root),
        "checkpoint": proof.checkpoint.note,
        "key": key,
    });
    let mut out = std::io::stdout().lock();
    writeln!(out, "{json}").map_err(|e| e.to_string())?;
    Ok(ExitCode::SUCCESS)
}
