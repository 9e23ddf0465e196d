//! The audit log made verifiable (issue 19): the Merkle tree over the
//! events, its signed checkpoints, proofs for auditors and the check that
//! the log still extends every checkpoint it was given.

mod proofs;
mod verify;

pub use proofs::InclusionProof;
pub use verify::{GivenCheckpoint, KeySource, LogProblem, LogReport, ProblemKind};
