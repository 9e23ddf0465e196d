//! The keys `audit verify` checks checkpoint signatures with: the one the
//! auditor gives, else the ones the database holds.

use keybound_audit::checkpoint::{note_body, Checkpoint, CheckpointError, VerifierKey};

use super::report::{problem, KeySource, LogProblem, ProblemKind};

/// The keys to check signatures with.
pub(super) struct Keys {
    pub(super) given: Option<VerifierKey>,
    pub(super) stored: Vec<VerifierKey>,
}

impl Keys {
    pub(super) fn source(&self) -> KeySource {
        match (&self.given, self.stored.len()) {
            (Some(_), _) => KeySource::Given,
            (None, 0) => KeySource::None,
            (None, keys) => KeySource::Database { keys },
        }
    }

    pub(super) fn all(&self) -> Vec<&VerifierKey> {
        match &self.given {
            Some(k) => vec![k],
            None => self.stored.iter().collect(),
        }
    }

    /// Checks a note's signature; `Ok(checkpoint)` when a key verifies
    /// it, otherwise the problem and (when the body is a checkpoint of
    /// this log) the checkpoint it claims, still worth holding the events
    /// against.
    pub(super) fn check(
        &self,
        note: &str,
        what: &str,
    ) -> Result<Checkpoint, (LogProblem, Option<Checkpoint>)> {
        let claimed = note_body(note).and_then(Checkpoint::parse_body);
        let claimed = match claimed {
            Ok(c) => c,
            Err(e) => {
                return Err((
                    problem(ProblemKind::Malformed, format!("{what}: {e}")),
                    None,
                ))
            }
        };
        // Any log key's name: after a change of origin the old keys stay
        // published, and each checkpoint names the log it was signed for.
        let names: Vec<&str> = self.all().iter().map(|k| k.name.as_str()).collect();
        if !names.is_empty() && !names.contains(&claimed.origin.as_str()) {
            return Err((
                problem(
                    ProblemKind::Origin,
                    format!(
                        "{what} is of another log: origin {:?}, this log's keys are named {}",
                        claimed.origin,
                        names.join(", ")
                    ),
                ),
                None,
            ));
        }
        let keys = self.all();
        if keys.is_empty() {
            return Err((
                problem(
                    ProblemKind::Signature,
                    format!(
                        "{what} cannot be checked: no key was given and the database holds none \
                         (give --key)"
                    ),
                ),
                Some(claimed),
            ));
        }
        let mut last = CheckpointError::NoSignatureByKey;
        for key in keys {
            match key.verify(note) {
                Ok(c) => return Ok(c),
                Err(e) => last = e,
            }
        }
        let whose = if self.given.is_some() {
            "the given key"
        } else {
            "any key in the database (was the log's key replaced?)"
        };
        let why = match last {
            CheckpointError::BadSignature => {
                format!("{what}: its signature does not verify with {whose}: the note was altered")
            }
            CheckpointError::NoSignatureByKey => format!("{what} is not signed by {whose}"),
            other => format!("{what}: {other}"),
        };
        Err((problem(ProblemKind::Signature, why), Some(claimed)))
    }
}
