//! keybound-ca integration tests: one binary, one module per area.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

mod bundle;
mod crl;
mod jwt;
mod support;
mod x509;
