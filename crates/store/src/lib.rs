//! keybound's storage. SQLite is the embedded default: `Store::open` with no
//! configuration makes one file in WAL mode. PostgreSQL, for many nodes, will
//! implement the same operations (issue 7), at which point these methods
//! become the `Store` trait both backends pass one conformance suite against.
//!
//! Every write happens inside a [`Tx`] opened with `BEGIN IMMEDIATE`, so the
//! audit event that records a change is appended in the same transaction as
//! the change, and concurrent writers serialise instead of failing on a lock
//! upgrade. Driver errors never leave this crate: callers see [`StoreError`].
#![warn(missing_docs)]
#![cfg_attr(
    test,
    allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

mod error;
mod model;
mod sqlite;

pub use error::StoreError;
pub use model::{
    Challenge, Credential, CredentialStatus, Grant, Identity, IdentityStatus, Recovery, Session,
};
pub use sqlite::{Store, Tx};
