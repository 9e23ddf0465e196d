//! What the fuzz targets and the seed generator share: the relying party
//! every input is verified against, how an input is split into fields, and
//! (for the targets that drive the whole server) the in-process app and a
//! deterministic passkey.

pub mod app;
pub mod passkey;
pub mod seeds;

use keybound_soft_authenticator::b64;
use serde_json::json;

pub const RP_ID: &str = "example.com";
pub const ORIGIN: &str = "https://login.example.com";
pub const CHALLENGE: [u8; 32] = [7; 32];
pub const USER: &[u8] = b"fuzz-user";

/// The first input byte picks which field the rest replaces.
pub fn split(data: &[u8]) -> Option<(u8, &[u8])> {
    let (mode, rest) = data.split_first()?;
    Some((*mode, rest))
}

/// clientDataJSON that passes every check for `kind`.
pub fn good_client_data(kind: &str) -> Vec<u8> {
    json!({"type": kind, "challenge": b64(&CHALLENGE), "origin": ORIGIN, "crossOrigin": false})
        .to_string()
        .into_bytes()
}
