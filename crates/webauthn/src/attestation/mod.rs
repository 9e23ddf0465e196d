//! Attestation statements (§8): one module per format, a common result type,
//! and the trust decision for certificate chains.

mod certificate;
mod fido_u2f;
mod none;
mod packed;

use ciborium::Value;

pub use certificate::{InvalidTrustAnchor, TrustAnchors, UnverifiedReason};

use crate::authenticator_data::{AttestedCredentialData, AuthenticatorData};
use crate::error::Error;

/// Attestation statement formats (WebAuthn registry, §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AttestationFormat {
    /// `none`: the authenticator said nothing about itself.
    None,
    /// `packed`: the WebAuthn-optimised format, self or x5c.
    Packed,
    /// `fido-u2f`: a CTAP1/U2F security key.
    FidoU2f,
}

impl AttestationFormat {
    /// The format identifier as it appears in `fmt`.
    pub fn as_str(self) -> &'static str {
        match self {
            AttestationFormat::None => "none",
            AttestationFormat::Packed => "packed",
            AttestationFormat::FidoU2f => "fido-u2f",
        }
    }
}

/// What kind of attestation the statement carried (§6.5.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AttestationType {
    /// No attestation (`none`).
    None,
    /// Self attestation: signed by the credential key itself.
    SelfAttestation,
    /// Basic attestation: a batch key certified by the vendor. Without
    /// metadata this cannot be told apart from AttCA, so x5c statements of
    /// `packed` and `fido-u2f` report `Basic`; FIDO metadata refines it.
    Basic,
    /// Attestation CA: a per-device key certified by an attestation CA.
    AttCa,
}

/// How far the attestation could be trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttestationTrust {
    /// Nothing to chain: `none` and self attestation.
    NotApplicable,
    /// The x5c chain verified up to one of the caller's trust anchors.
    Verified {
        /// DER certificates from the attestation certificate up to and
        /// including the trust anchor that matched.
        chain: Vec<Vec<u8>>,
    },
    /// The statement's signature is valid but its chain does not reach a
    /// trust anchor; the caller's policy decides whether that is acceptable.
    Unverified {
        /// The x5c certificates as sent (attestation certificate first).
        chain: Vec<Vec<u8>>,
        /// Why no trust anchor matched.
        reason: UnverifiedReason,
    },
}

/// A verified attestation statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attestation {
    /// The statement format.
    pub format: AttestationFormat,
    /// The attestation type.
    pub attestation_type: AttestationType,
    /// Whether the chain reached a trust anchor.
    pub trust: AttestationTrust,
}

/// Everything a format's verification procedure receives (§8 "verification
/// procedure inputs").
pub(crate) struct Input<'a> {
    pub auth_data_bytes: &'a [u8],
    pub auth_data: &'a AuthenticatorData,
    pub credential: &'a AttestedCredentialData,
    pub client_data_hash: &'a [u8; 32],
    pub trust_anchors: &'a TrustAnchors,
}

impl Input<'_> {
    /// authenticatorData || clientDataHash, the message `packed` signs.
    pub(crate) fn signed_data(&self) -> Vec<u8> {
        crate::authenticator_data::signed_message(self.auth_data_bytes, self.client_data_hash)
    }
}

/// Runs the verification procedure of the format named `fmt`.
pub(crate) fn verify(fmt: &str, statement: Value, input: &Input<'_>) -> Result<Attestation, Error> {
    let statement =
        crate::cbor::text_map(statement).map_err(|()| Error::MalformedAttestationStatement)?;
    match fmt {
        "none" => none::verify(statement),
        "packed" => packed::verify(statement, input),
        "fido-u2f" => fido_u2f::verify(statement, input),
        _ => Err(Error::UnsupportedAttestationFormat),
    }
}

/// The `alg` member as a supported algorithm.
pub(crate) fn statement_algorithm(
    statement: &mut Vec<(String, Value)>,
) -> Result<crate::cose::CoseAlgorithm, Error> {
    match crate::cbor::take(statement, "alg") {
        Some(Value::Integer(i)) => {
            let id = i64::try_from(i).map_err(|_| Error::MalformedAttestationStatement)?;
            crate::cose::algorithm_from_wire(id)
        }
        _ => Err(Error::MalformedAttestationStatement),
    }
}

/// The `sig` member.
pub(crate) fn statement_signature(statement: &mut Vec<(String, Value)>) -> Result<Vec<u8>, Error> {
    match crate::cbor::take(statement, "sig") {
        Some(Value::Bytes(b)) => Ok(b),
        _ => Err(Error::MalformedAttestationStatement),
    }
}
