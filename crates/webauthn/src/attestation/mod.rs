//! Attestation statements (§8): one module per format, a common result type,
//! and the trust decision for certificate chains.

mod android_key;
mod apple;
mod certificate;
mod fido_u2f;
mod none;
mod packed;
mod safetynet;
mod tlv;
mod tpm;

use ciborium::Value;

pub use certificate::{
    attestation_serial_number, InvalidTrustAnchor, TrustAnchors, UnverifiedReason,
};
pub use safetynet::SAFETYNET_MAX_AGE_SECS;

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
    /// `tpm`: a TPM 2.0 (Windows Hello and other platform authenticators).
    Tpm,
    /// `android-key`: Android's hardware-backed keystore.
    AndroidKey,
    /// `android-safetynet`: Google's SafetyNet device attestation (retired by
    /// Google, still sent by older devices).
    AndroidSafetyNet,
    /// `apple`: Apple's anonymous attestation.
    Apple,
    /// `compound`: several statements, all of which must verify.
    Compound,
}

impl AttestationFormat {
    /// The format identifier as it appears in `fmt`.
    pub fn as_str(self) -> &'static str {
        match self {
            AttestationFormat::None => "none",
            AttestationFormat::Packed => "packed",
            AttestationFormat::FidoU2f => "fido-u2f",
            AttestationFormat::Tpm => "tpm",
            AttestationFormat::AndroidKey => "android-key",
            AttestationFormat::AndroidSafetyNet => "android-safetynet",
            AttestationFormat::Apple => "apple",
            AttestationFormat::Compound => "compound",
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
    /// Anonymization CA: a per-credential certificate from a CA that hides
    /// which device asked (Apple).
    AnonCa,
}

/// Where an attested key lives, when the statement says (android-key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyStorage {
    /// In software: the statement proves nothing about hardware.
    Software,
    /// In a trusted execution environment (TEE).
    TrustedEnvironment,
    /// In a discrete secure element (Android StrongBox).
    StrongBox,
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
    /// Where the key lives, when the format says (android-key); for a
    /// compound statement, the strongest any part proves.
    pub key_storage: Option<KeyStorage>,
    /// The verified statements inside a `compound` one; empty otherwise.
    pub components: Vec<Attestation>,
    /// The statement was signed with RS1 (RSASSA-PKCS1-v1_5 with SHA-1, COSE
    /// -65535), which the COSE registry keeps for TPM compatibility and
    /// Windows Hello's TPMs still use. Only a `tpm` statement (or a `compound`
    /// one holding it) can be so marked, and only where
    /// [`RegistrationExpectation::allow_sha1_tpm_attestation`] let it through.
    ///
    /// [`RegistrationExpectation::allow_sha1_tpm_attestation`]:
    ///     crate::RegistrationExpectation::allow_sha1_tpm_attestation
    pub legacy_sha1_signature: bool,
}

impl Attestation {
    pub(crate) fn new(
        format: AttestationFormat,
        attestation_type: AttestationType,
        trust: AttestationTrust,
    ) -> Self {
        Attestation {
            format,
            attestation_type,
            trust,
            key_storage: None,
            components: Vec::new(),
            legacy_sha1_signature: false,
        }
    }
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
    if fmt == "compound" {
        return compound(statement, input);
    }
    let statement =
        crate::cbor::text_map(statement).map_err(|()| Error::MalformedAttestationStatement)?;
    match fmt {
        "none" => none::verify(statement),
        "packed" => packed::verify(statement, input),
        "fido-u2f" => fido_u2f::verify(statement, input),
        "tpm" => tpm::verify(statement, input),
        "android-key" => android_key::verify(statement, input),
        "android-safetynet" => safetynet::verify(statement, input),
        "apple" => apple::verify(statement, input),
        _ => Err(Error::UnsupportedAttestationFormat),
    }
}

/// `compound` (§8.9): an array of at least two `{fmt, attStmt}` maps, each
/// verified on its own; one failure fails the whole. Nesting is refused.
fn compound(statement: Value, input: &Input<'_>) -> Result<Attestation, Error> {
    let Value::Array(items) = statement else {
        return Err(Error::MalformedAttestationStatement);
    };
    if items.len() < 2 {
        return Err(Error::MalformedAttestationStatement);
    }
    let mut components = Vec::with_capacity(items.len());
    for item in items {
        let mut map =
            crate::cbor::text_map(item).map_err(|()| Error::MalformedAttestationStatement)?;
        let fmt = match crate::cbor::take(&mut map, "fmt") {
            Some(Value::Text(fmt)) => fmt,
            _ => return Err(Error::MalformedAttestationStatement),
        };
        let inner =
            crate::cbor::take(&mut map, "attStmt").ok_or(Error::MalformedAttestationStatement)?;
        if fmt == "compound" || !map.is_empty() {
            return Err(Error::MalformedAttestationStatement);
        }
        components.push(verify(&fmt, inner, input)?);
    }
    let verified = components
        .iter()
        .find(|c| matches!(c.trust, AttestationTrust::Verified { .. }));
    let trust = verified
        .or_else(|| components.first())
        .map_or(AttestationTrust::NotApplicable, |c| c.trust.clone());
    let attestation_type = verified
        .or_else(|| components.first())
        .map_or(AttestationType::None, |c| c.attestation_type);
    let key_storage = components
        .iter()
        .filter_map(|c| c.key_storage)
        .max_by_key(|k| match k {
            KeyStorage::Software => 0,
            KeyStorage::TrustedEnvironment => 1,
            KeyStorage::StrongBox => 2,
        });
    let legacy_sha1_signature = components.iter().any(|c| c.legacy_sha1_signature);
    Ok(Attestation {
        format: AttestationFormat::Compound,
        attestation_type,
        trust,
        key_storage,
        components,
        legacy_sha1_signature,
    })
}

/// The `alg` member as a supported algorithm.
pub(crate) fn statement_algorithm(
    statement: &mut Vec<(String, Value)>,
) -> Result<crate::cose::CoseAlgorithm, Error> {
    crate::cose::algorithm_from_wire(statement_algorithm_id(statement)?)
}

/// The `alg` member as sent, for a format that knows identifiers beyond the
/// credential algorithms (`tpm` and RS1).
pub(crate) fn statement_algorithm_id(statement: &mut Vec<(String, Value)>) -> Result<i64, Error> {
    match crate::cbor::take(statement, "alg") {
        Some(Value::Integer(i)) => {
            i64::try_from(i).map_err(|_| Error::MalformedAttestationStatement)
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
