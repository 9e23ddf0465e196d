//! Sans-IO JOSE for keybound's OpenID Connect provider (issue 15) and DPoP
//! (issue 18): public JWKs with RFC 7638 thumbprints, compact JWS signing
//! and verification over an allow-list of algorithms, JWT claim checks,
//! `private_key_jwt` client assertions and back-channel logout tokens.
//!
//! Time (unix seconds) and keys arrive as arguments; nothing here reads a
//! clock, draws randomness or does IO. Every aws-lc-rs call is in `crypto`.
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

mod algorithm;
mod claims;
mod client_assertion;
mod crypto;
mod dbsc;
mod dpop;
mod error;
mod jwk;
mod jws;
mod logout;

pub use algorithm::Algorithm;
pub use claims::{check_claims, ClaimChecks};
pub use client_assertion::{
    verify_client_assertion, ClientAssertion, ClientAssertionChecks, CLIENT_ASSERTION_LEEWAY,
    MAX_CLIENT_ASSERTION_LIFETIME, MAX_JTI_LEN,
};
pub use crypto::{SecureRandom, SigningKey};
pub use dbsc::{
    verify_dbsc_proof, DbscProof, DBSC_ALGORITHMS, DBSC_TYP, MAX_DBSC_CLAIM_LEN, MAX_DBSC_PROOF_LEN,
};
pub use dpop::{
    dpop_ath, verify_dpop_proof, DpopChecks, DpopProof, DPOP_ALGORITHMS, DPOP_TYP,
    MAX_DPOP_CLAIM_LEN, MAX_DPOP_PROOF_LEN, MAX_HTU_LEN,
};
pub use error::Error;
pub use jwk::{Jwk, MIN_RSA_BITS};
pub use jws::{sign, verify, Verified, MAX_TOKEN_LEN};
pub use logout::{logout_header, LogoutToken, BACKCHANNEL_LOGOUT_EVENT, LOGOUT_TOKEN_TYP};

/// base64url without padding, the only encoding JOSE uses.
pub(crate) fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes base64url without padding; padding or other alphabets are refused.
pub(crate) fn unb64(text: &str) -> Result<Vec<u8>, Error> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| Error::Malformed("base64url"))
}
