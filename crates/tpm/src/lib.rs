//! Sans-IO TPM 2.0 node attestation for keybound's workload identity.
//!
//! A node proves it runs on a genuine TPM in three steps, and this crate
//! checks the bytes of each (no clock, no RNG of its own, no IO):
//!
//! 1. **Who made the TPM.** The endorsement key (EK) certificate chains to
//!    a configured manufacturer root and certifies the EK public area the
//!    node sent: [`EkRoots`], [`verify_ek_certificate`], [`check_ek_policy`].
//! 2. **The AK lives in that TPM.** The attestation key (AK) has the
//!    attributes of a restricted signing key that cannot leave its TPM
//!    ([`check_ak_policy`]); [`make_credential`] wraps a secret to the EK
//!    and the AK's Name (TPM 2.0 Part 1 §24), which only
//!    `TPM2_ActivateCredential` on that TPM with that AK loaded can open.
//! 3. **It is that TPM now.** A quote by the AK over the server's nonce
//!    verifies ([`verify_quote`]).
//!
//! Structures parse with bounds ([`Public`]), SHA-256 `nameAlg`, RSA
//! 2048-4096 and ECC P-256 keys. Every aws-lc-rs call is in `crypto.rs`.
//! Errors name the failed check; [`Error::reason`] is the audit reason.

mod alg;
mod credential;
mod crypto;
mod ek;
mod error;
mod kdf;
mod marshal;
mod public;
mod quote;

pub use credential::{make_credential, Credential};
pub use crypto::ct_eq;
pub use ek::{verify_ek_certificate, EkRoots, MAX_CERTIFICATE_LEN};
pub use error::Error;
pub use public::{
    check_ak_policy, check_ek_policy, ObjectAttributes, Public, PublicKey, Symmetric,
    MAX_PUBLIC_LEN,
};
pub use quote::{quote_nonce, verify_quote, Quote, MAX_ATTEST_LEN, MAX_SIGNATURE_LEN};
pub use rustls_pki_types::UnixTime;
