//! What `audit verify` reports: the checkpoints an auditor brings, the
//! problems named, the report, and the dates in its labels.

use keybound_audit::merkle::Hash;

/// A checkpoint the auditor brings: a raw signed note (`--checkpoint`) or
/// a witness file's line (`--witness`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GivenCheckpoint {
    /// Where it came from, for the report: a file name, `witness:LINE`.
    pub source: String,
    /// The signed note.
    pub note: String,
    /// When it was signed, when the source says (a witness line does).
    pub time_ms: Option<i64>,
}

/// Which key checkpoints were checked with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// The key the auditor gave.
    Given,
    /// The keys stored in the database: whoever can write the database
    /// can replace them, so only a given key or checkpoint proves much.
    Database {
        /// How many.
        keys: usize,
    },
    /// None: the log was never sealed and no key was given.
    None,
}

/// What kind of problem, for callers that act on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    /// The hash chain is broken (an unsealed edit, a gap).
    Chain,
    /// The log is shorter than a checkpoint: events were removed.
    Removed,
    /// The events no longer produce a signed root: changed, inserted or
    /// removed before that size.
    Rewritten,
    /// A checkpoint's signature does not verify with the key.
    Signature,
    /// A checkpoint of another log.
    Origin,
    /// Not a checkpoint at all.
    Malformed,
    /// A stored checkpoint whose columns disagree with its own note.
    StoredCheckpoint,
    /// Stored tree nodes that disagree with the events, or are missing.
    StoredTree,
    /// An event without a valid tag where the log requires one: not
    /// written by keybound (`keybound_audit::mac`).
    Untagged,
}

/// What `audit verify` found of the events' tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagSummary {
    /// Not checked: this process was not given the key-encryption key.
    NotChecked,
    /// Checked with the key.
    Checked {
        /// Events whose tag verified.
        tagged: u64,
        /// The first event that must carry one (from the latest signed
        /// checkpoint, else the first tagged event); `None`: no event is
        /// tagged.
        since: Option<u64>,
    },
}

/// One thing wrong, named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogProblem {
    /// What kind.
    pub kind: ProblemKind,
    /// The sentence for the operator.
    pub message: String,
}

/// The outcome of [`crate::Service::verify_audit_log`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogReport {
    /// Events read.
    pub events: u64,
    /// Events whose chain links verified.
    pub chain_verified: u64,
    /// The root of all the events read.
    pub root: Hash,
    /// Which key signatures were checked with.
    pub key: KeySource,
    /// Checkpoints whose root the events still produce: (size, where from).
    pub matched: Vec<(u64, String)>,
    /// Stored checkpoints checked.
    pub stored_checkpoints: u64,
    /// The events' tags.
    pub tags: TagSummary,
    /// Everything wrong; empty when the log holds.
    pub problems: Vec<LogProblem>,
}

impl LogReport {
    /// True when nothing is wrong.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// `2026-12-03T16:05:00Z` from ms since the epoch, as the CLI prints
/// times (`time`, the workspace's date library); out of its range, the
/// number as it is.
pub(super) fn iso(ms: i64) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| ms.to_string())
}

pub(super) fn label(size: u64, time_ms: Option<i64>, source: &str) -> String {
    match time_ms {
        Some(t) => format!("checkpoint {size} (signed {}, {source})", iso(t)),
        None => format!("checkpoint {size} ({source})"),
    }
}

pub(super) fn problem(kind: ProblemKind, message: String) -> LogProblem {
    LogProblem { kind, message }
}

#[cfg(test)]
mod tests {
    use super::iso;

    #[test]
    fn iso_dates() {
        assert_eq!(iso(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso(1_796_313_900_000), "2026-12-03T16:05:00Z");
        assert_eq!(iso(951_782_400_000), "2000-02-29T00:00:00Z");
    }
}
