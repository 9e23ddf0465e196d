//! Integration tests of the Workload API server: a raw gRPC client for the
//! hostile cases, and the published SPIFFE clients (the `spiffe` crate's
//! own integration tests, py-spiffe) for the acceptance runs.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

mod acceptance;
mod api;
mod client;
mod fixture;
mod spiffe_clients;
