//! The audit chain: every event carries the hash of the one before it, so an
//! auditor holding an export can prove offline that nothing was altered,
//! removed or reordered.
//!
//! This crate is pure: the store decides where events live and supplies the
//! previous event inside the same transaction as the change being recorded;
//! [`seal`] computes the link and [`verify_chain`] checks a sequence of them.
//!
//! # The hash input
//!
//! An event's `hash` is the lowercase hex SHA-256 of its `prev_hash` (64
//! hex digits, [`GENESIS_HASH`] for the first event) immediately followed
//! by the compact JSON (no whitespace, UTF-8 unescaped, serde_json's
//! escapes) of
//!
//! ```text
//! {"seq":N,"event":{"time_ms":…,"kind":…,"actor":…,"subject":…,
//!   "credential_id":…,"aaguid":…,"attestation":…,"user_verified":…,
//!   "sign_count":…,"origin":…,"ip":…,"user_agent":…,"outcome":…,
//!   "reason":…[,"severity":…][,"subject_kind":…][,"details":{…}]}}
//! ```
//!
//! in exactly that member order. The fourteen members from `time_ms` to
//! `reason` are always present (`null` when unset). The last three were
//! added later and are left out when absent: `severity` and `subject_kind`
//! when `None`, `details` when the map is empty. So every event sealed
//! before they existed hashes exactly as it did, and chains written by
//! earlier versions verify unchanged (a fixture in the tests pins such a
//! chain). `details` is a JSON object whose members are in ascending byte
//! order of their keys (a [`BTreeMap`]), whatever order they were added
//! in, so any tool that sorts the keys reproduces the hash.
//!
//! # Bounds on subject kinds and details
//!
//! [`seal`] keeps an event's free-form members bounded, so one event cannot
//! grow a row or an export line without limit: at most [`MAX_DETAILS`]
//! entries, keys of at most [`MAX_DETAIL_KEY`] bytes, values of at most
//! [`MAX_DETAIL_VALUE`] bytes, a subject kind of at most
//! [`MAX_SUBJECT_KIND`] bytes. It truncates rather than refuses: an event
//! records a change (or a refusal) that has happened, and losing the record
//! because a detail was long would be worse than shortening the detail.
//! Truncation is visible: a cut key or value ends in `…` (cut at a
//! character boundary), and entries beyond the bound are replaced by one
//! entry `"…": "N more"`. The bounds apply when sealing; the event is hashed
//! and stored as truncated, and verification checks what is stored.
#![warn(missing_docs)]
#![cfg_attr(
    test,
    allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

pub mod checkpoint;
mod details;
pub mod mac;
pub mod merkle;

use std::collections::BTreeMap;

use aws_lc_rs::digest;
use serde::{Deserialize, Serialize};

pub use details::{MAX_DETAILS, MAX_DETAIL_KEY, MAX_DETAIL_VALUE, MAX_SUBJECT_KIND};

/// The `prev_hash` of the first event.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Whether the recorded action succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The action happened.
    Success,
    /// The action was refused; `reason` says why.
    Failure,
    /// An alert raised by a detector, not an action.
    Alert,
}

/// How urgently a human should look at an event. Absent on routine events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth knowing.
    Info,
    /// Worth checking.
    Warning,
    /// Someone should act now (a cloned credential, a compromised model).
    High,
}

/// What a layer above reports: everything but the chain members.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewEvent {
    /// Milliseconds since the Unix epoch (the service's clock).
    pub time_ms: i64,
    /// What happened, e.g. `registration`, `authentication`, `admin.invite`.
    pub kind: String,
    /// Who did it (identity name, `cli`, `system`).
    pub actor: Option<String>,
    /// The identity affected.
    pub subject: Option<String>,
    /// Credential id, base64url.
    pub credential_id: Option<String>,
    /// Authenticator model.
    pub aaguid: Option<String>,
    /// Attestation format and type, e.g. `packed/basic`.
    pub attestation: Option<String>,
    /// Whether user verification happened.
    pub user_verified: Option<bool>,
    /// The signature counter reported.
    pub sign_count: Option<u32>,
    /// The client origin.
    pub origin: Option<String>,
    /// The client address.
    pub ip: Option<String>,
    /// The client's user agent.
    pub user_agent: Option<String>,
    /// Success, failure or alert.
    pub outcome: Option<Outcome>,
    /// The precise reason (never shown to the client).
    pub reason: Option<String>,
    /// Set on events that call for attention. Left out of the canonical
    /// JSON when absent, so chains written before it existed still verify.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    /// What kind of principal `subject` names (`person`, `device`,
    /// `workload`, `agent`), so one event shape serves every kind. Left
    /// out of the canonical JSON when absent, as `severity` is; at most
    /// [`MAX_SUBJECT_KIND`] bytes once sealed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_kind: Option<String>,
    /// Facts particular to the event's kind that have no member of their
    /// own (a workload's SPIFFE ID, a device's serial), so a new kind of
    /// principal needs no new column. Sorted by key, which is the order
    /// they are hashed in; left out of the canonical JSON when empty.
    /// Bounded when sealed (see the crate docs).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub details: BTreeMap<String, String>,
}

/// An event as stored: its content plus its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// Position in the chain, from 1.
    pub seq: u64,
    /// The content.
    #[serde(flatten)]
    pub event: NewEvent,
    /// Hex SHA-256 of the previous event ([`GENESIS_HASH`] for the first).
    pub prev_hash: String,
    /// Hex SHA-256 of `prev_hash` and this event's canonical JSON.
    pub hash: String,
}

#[derive(Serialize)]
struct Canonical<'a> {
    seq: u64,
    event: &'a NewEvent,
}

/// The canonical bytes of event `seq`: what the chain hashes after the
/// previous hash, and the data of the event's Merkle leaf. Serialising a
/// struct of owned strings, options and integers cannot fail; an empty
/// body would still hash deterministically.
pub fn canonical(seq: u64, event: &NewEvent) -> Vec<u8> {
    serde_json::to_vec(&Canonical { seq, event }).unwrap_or_default()
}

/// The event's leaf hash in the Merkle tree ([`merkle`]): leaf `seq - 1`.
pub fn leaf_hash(event: &AuditEvent) -> merkle::Hash {
    merkle::leaf_hash(&canonical(event.seq, &event.event))
}

/// Whether `event`'s stored `hash` is the hash of its `prev_hash`, `seq`
/// and content: false when the content was changed after it was hashed.
pub fn hash_matches(event: &AuditEvent) -> bool {
    link_hash(&event.prev_hash, event.seq, &event.event) == event.hash
}

fn link_hash(prev_hash: &str, seq: u64, event: &NewEvent) -> String {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(prev_hash.as_bytes());
    ctx.update(&canonical(seq, event));
    hex::encode(ctx.finish().as_ref())
}

/// Links `event` after `previous` (None for the first event of a chain),
/// first truncating its subject kind and details to their bounds (see the
/// crate docs): the event returned is the one hashed, and the one to store.
pub fn seal(previous: Option<&AuditEvent>, mut event: NewEvent) -> AuditEvent {
    event.subject_kind = event.subject_kind.map(details::bounded_kind);
    event.details = details::bounded(std::mem::take(&mut event.details));
    let (seq, prev_hash) = match previous {
        Some(p) => (p.seq + 1, p.hash.clone()),
        None => (1, GENESIS_HASH.to_owned()),
    };
    let hash = link_hash(&prev_hash, seq, &event);
    AuditEvent {
        seq,
        event,
        prev_hash,
        hash,
    }
}

/// Why a chain does not verify, naming the first bad event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainError {
    /// The event's content does not produce its recorded hash: it was edited.
    HashMismatch {
        /// The altered event.
        seq: u64,
    },
    /// The event does not point at the hash of the event before it.
    BrokenLink {
        /// The event whose `prev_hash` is wrong.
        seq: u64,
    },
    /// Sequence numbers skip or repeat: events were removed or inserted.
    SequenceGap {
        /// The sequence number expected.
        expected: u64,
        /// The one found.
        found: u64,
    },
}

impl std::fmt::Display for ChainError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChainError::HashMismatch { seq } => {
                write!(
                    f,
                    "event {seq} was altered: its hash does not match its content"
                )
            }
            ChainError::BrokenLink { seq } => {
                write!(f, "event {seq} does not link to the event before it")
            }
            ChainError::SequenceGap { expected, found } => {
                write!(
                    f,
                    "expected event {expected}, found {found}: events missing or inserted"
                )
            }
        }
    }
}

impl std::error::Error for ChainError {}

/// Verifies events in sequence order from the start of the chain; returns
/// how many verified. Holds one event at a time: give it an iterator that
/// reads the chain lazily and a chain of any length verifies in constant
/// memory (or use [`ChainVerifier`] when the events arrive in pages).
pub fn verify_chain<I>(events: I) -> Result<u64, ChainError>
where
    I: IntoIterator<Item = AuditEvent>,
{
    let mut verifier = ChainVerifier::new();
    for e in events {
        verifier.push(&e)?;
    }
    Ok(verifier.verified())
}

/// [`verify_chain`] one event at a time, for a chain read in pages (a
/// database cursor, an export read line by line): it keeps only the last
/// hash and the next sequence number, so memory does not grow with the
/// chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainVerifier {
    prev_hash: String,
    expected: u64,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        ChainVerifier::new()
    }
}

impl ChainVerifier {
    /// A verifier at the start of a chain.
    pub fn new() -> Self {
        ChainVerifier {
            prev_hash: GENESIS_HASH.to_owned(),
            expected: 1,
        }
    }

    /// Checks the next event: its sequence number, its link to the event
    /// before it and its own hash. After an error the verifier stays where
    /// it was, so every later event is refused too.
    pub fn push(&mut self, e: &AuditEvent) -> Result<(), ChainError> {
        if e.seq != self.expected {
            return Err(ChainError::SequenceGap {
                expected: self.expected,
                found: e.seq,
            });
        }
        if e.prev_hash != self.prev_hash {
            return Err(ChainError::BrokenLink { seq: e.seq });
        }
        if !hash_matches(e) {
            return Err(ChainError::HashMismatch { seq: e.seq });
        }
        self.prev_hash.clone_from(&e.hash);
        self.expected = self.expected.saturating_add(1);
        Ok(())
    }

    /// How many events verified so far (also the sequence number of the
    /// last of them).
    pub fn verified(&self) -> u64 {
        self.expected - 1
    }
}

#[cfg(test)]
mod tests;
