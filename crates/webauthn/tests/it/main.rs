//! Integration tests of the verification core: W3C vectors, round trips with
//! a software authenticator, one negative test per check, hostile input.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

mod attestation_formats;
mod attestation_trust;
mod authentication_checks;
mod bounds;
mod hostile;
mod lenient_base64;
mod options;
mod registration_checks;
mod round_trip;
mod serial_number;
mod support;
mod tpm_rs1;
mod vectors;
