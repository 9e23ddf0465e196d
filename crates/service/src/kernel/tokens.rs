//! Bearer tokens (invitations, session cookies): random, handed out once,
//! stored only as their SHA-256.

use aws_lc_rs::digest;
use keybound_webauthn::b64;

/// A freshly minted token: the string for the holder, the hash for the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// base64url of 32 random bytes; shown once, never stored.
    pub value: String,
    /// What the store keeps.
    pub hash: Vec<u8>,
}

impl Token {
    pub(crate) fn from_bytes(bytes: [u8; 32]) -> Self {
        let value = b64::encode(&bytes);
        let hash = hash_token(&value);
        Token { value, hash }
    }
}

/// The stored form of a token string presented by a client.
pub fn hash_token(value: &str) -> Vec<u8> {
    digest::digest(&digest::SHA256, value.as_bytes())
        .as_ref()
        .to_vec()
}

/// SHA-256 of raw bytes (challenges).
pub(crate) fn sha256(bytes: &[u8]) -> Vec<u8> {
    digest::digest(&digest::SHA256, bytes).as_ref().to_vec()
}

/// An opaque id from 16 random bytes, in hex (identities, recoveries,
/// role proposals).
pub(crate) fn hex_id(bytes: [u8; 16]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
