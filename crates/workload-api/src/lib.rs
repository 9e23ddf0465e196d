//! Workload identity on the wire.
//!
//! Two faces live here, because the node agent (`keybound node`) and the
//! keybound server must agree on both:
//!
//! - [`wire`]: the JSON the node agent and the keybound servers exchange
//!   (attestation, sync, JWT-SVIDs). The server side is
//!   `crates/server/src/workload`, the agent side `crates/cli/src/node`.
//! - [`snapshot`]: what the agent holds for its workloads (SVIDs with their
//!   private keys, bundles, CRLs), the one input of the SPIFFE Workload API
//!   server this crate serves over a Unix socket ([`server::serve`]).
// Tests may unwrap and index: a panic there is a failed test.
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

pub mod jwt_svid;
pub mod proto;
pub mod server;
pub mod snapshot;
pub mod wire;

pub use server::{serve, serve_with, JwtIssueError, JwtIssuer, Limits, MintFuture, ServeError};
