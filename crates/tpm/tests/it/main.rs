//! keybound-tpm against structures a real TPM made (swtpm, captured by
//! `tests/fixtures/make-swtpm.sh`) and against hostile variants of them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod credential;
mod ek;
mod public;
mod quote;
mod soft;

use std::time::Duration;

use keybound_tpm::UnixTime;

/// A fixture file from `tests/fixtures/swtpm/`.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/swtpm/");
    std::fs::read(format!("{path}{name}")).unwrap()
}

/// The nonce the fixture quotes were made over.
pub fn fixture_nonce() -> Vec<u8> {
    hex::decode(String::from_utf8(fixture("nonce.hex")).unwrap().trim()).unwrap()
}

/// A time inside the fixture EK certificate's validity (2026-12-04).
pub fn fixture_time() -> UnixTime {
    UnixTime::since_unix_epoch(Duration::from_secs(1_796_342_400))
}
