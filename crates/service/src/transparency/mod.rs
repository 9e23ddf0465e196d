//! The verifiable audit log (issue 19): the events of the hash chain are
//! the leaves of an RFC 9162 Merkle tree, and the log's state is a signed
//! checkpoint (C2SP `tlog-checkpoint`, Ed25519). The tree and the signing
//! live here, outside the request path: a ceremony commits its event as it
//! always did, and the sealer (one node at a time, by lease) adds the new
//! events to the tree in batches and signs a checkpoint.
//!
//! - `keys`: the log's signing key, made on first use and sealed under the
//!   operator's key-encryption key (the workload CA's), and its verifier
//!   keys.
//! - `sealer`: [`crate::Service::seal_audit_log`], its self-checks (the
//!   stored tree and events still match the last signed checkpoint, or
//!   `audit.tamper` and no more signing), the witness file.
//! - `tags`: the events' tags (`keybound_audit::mac`), checked before an
//!   event is sealed, so an event a database writer inserted stops the
//!   sealer instead of being signed into history.
//!
//! - `proofs`: inclusion and consistency proofs for auditors.
//! - `verify`: [`crate::Service::verify_audit_log`], one streaming pass
//!   that holds the events against given and stored checkpoints.
//!
//! What a checkpoint proves, and what it cannot, is in
//! docs/manual/audit-format.md.

pub(crate) mod keys;
mod proofs;
pub(crate) mod publish;
pub(crate) mod sealer;
mod tags;
mod verify;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use keybound_audit::mac::EventMac;
use keybound_audit::merkle::Hash;
use keybound_store::AuditCheckpointRow;

pub use proofs::InclusionProof;
pub use sealer::{AUDIT_SEALER_LEASE, MAX_SEAL_BATCH, WITNESS_FAILURES_METRIC};
pub use verify::{GivenCheckpoint, KeySource, LogProblem, LogReport, ProblemKind, TagSummary};

/// The verifiable log's settings (`--audit-origin`, `--audit-witness`,
/// `--audit-seal-interval`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransparencySettings {
    /// The log's name in its checkpoints and its key's name; default
    /// `<rp_id>/keybound-audit`. A checkpoint of another origin is of
    /// another log: changing it starts a new key.
    pub origin: String,
    /// A file each new checkpoint is appended to as a JSON line (fsync'd),
    /// ideally where a database writer cannot reach.
    pub witness: Option<PathBuf>,
    /// How often the sealer runs, ms (the bound on an event's wait for a
    /// checkpoint is about this plus one run).
    pub seal_interval_ms: u64,
    /// How long a sealer's lease lasts unless renewed, ms: how long a dead
    /// sealer's node holds up sealing before another takes over.
    pub lease_ms: i64,
}

impl TransparencySettings {
    /// The defaults for `rp_id`: origin `<rp_id>/keybound-audit`, a run
    /// every 250 ms, a 3-second lease.
    pub fn new(rp_id: &str) -> Self {
        TransparencySettings {
            origin: format!("{rp_id}/keybound-audit"),
            witness: None,
            seal_interval_ms: 250,
            lease_ms: 3000,
        }
    }
}

/// The log's signing key as this node holds it.
pub(crate) struct LoadedKey {
    /// The signed note's key hash, hex (the row's key id).
    pub(crate) key_id: String,
    /// The key's name: the origin it signs for.
    pub(crate) origin: String,
    /// The key pair.
    pub(crate) pair: aws_lc_rs::signature::Ed25519KeyPair,
}

/// A checkpoint as a node remembers it (from its own run, or its witness
/// file's last line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Signed {
    /// Its size.
    pub(crate) size: u64,
    /// Its root.
    pub(crate) root: Hash,
    /// The first event it required a tag of (`tags`): no later checkpoint
    /// may require less.
    pub(crate) tags_since: Option<u64>,
}

/// A node's sealer state: in memory only, so a restart re-runs every
/// check from the database and the witnesses.
#[derive(Default)]
pub(crate) struct Transparency {
    /// The signing key, opened once.
    pub(crate) key: Mutex<Option<Arc<LoadedKey>>>,
    /// Why sealing stopped (tampering found); `None`: sealing.
    pub(crate) halted: Mutex<Option<String>>,
    /// The largest checkpoint this node signed or checked: the stored log
    /// must never fall below it, nor require fewer tags.
    pub(crate) signed: Mutex<Option<Signed>>,
    /// A checkpoint committed whose witness line could not be written: the
    /// next run tries again.
    pub(crate) witness_pending: Mutex<Option<AuditCheckpointRow>>,
    /// The key events are tagged with (`keybound_audit::mac`), derived
    /// from the key-encryption key; `None` without one.
    pub(crate) event_mac: Option<EventMac>,
}

impl Transparency {
    /// The state of a node that has just started.
    pub(crate) fn new(config: &crate::Config) -> Self {
        Transparency {
            event_mac: config
                .workloads
                .ca_key_encryption_key
                .as_ref()
                .map(EventMac::derive),
            ..Transparency::default()
        }
    }
}

/// A poisoned lock still holds a usable value here (plain data).
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
