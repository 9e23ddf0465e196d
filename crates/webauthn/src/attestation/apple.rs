//! The `apple` format (§8.8): Apple's anonymous attestation. A certificate
//! made for this one credential carries, in an Apple extension, the hash of
//! what was registered; the chain goes to Apple's WebAuthn root.

use ciborium::Value;
use der::asn1::{ObjectIdentifier, OctetStringRef};
use der::{Reader, SliceReader, TagMode, TagNumber};

use super::certificate::{self, AttestationCertificate};
use super::{Attestation, AttestationFormat, AttestationType, Input};
use crate::error::Error;

/// Apple's nonce extension.
const OID_APPLE_NONCE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113635.100.8.2");

pub(super) fn verify(
    mut statement: Vec<(String, Value)>,
    input: &Input<'_>,
) -> Result<Attestation, Error> {
    let x5c =
        crate::cbor::take(&mut statement, "x5c").ok_or(Error::MalformedAttestationStatement)?;
    let chain = certificate::parse_x5c(x5c)?;
    let leaf = AttestationCertificate::parse(chain.first())?;

    let expected = crate::crypto::sha256(&input.signed_data());
    let extension = leaf
        .extension(OID_APPLE_NONCE)
        .ok_or(Error::AttestationCertificateRequirement)?;
    let nonce = nonce_of(extension.extn_value.as_bytes())?;
    if nonce != expected {
        return Err(Error::AttestationNonceMismatch);
    }
    if !leaf.key_matches(input.credential.public_key.material()) {
        return Err(Error::AttestationKeyMismatch);
    }
    Ok(Attestation::new(
        AttestationFormat::Apple,
        AttestationType::AnonCa,
        certificate::chain_trust(chain, input.trust_anchors),
    ))
}

/// `SEQUENCE { [1] EXPLICIT OCTET STRING nonce }`.
fn nonce_of(value: &[u8]) -> Result<&[u8], Error> {
    let malformed = |_| Error::MalformedAttestationCertificate;
    let mut reader = SliceReader::new(value).map_err(malformed)?;
    let nonce = reader
        .sequence(|r| {
            r.context_specific::<OctetStringRef<'_>>(TagNumber::N1, TagMode::Explicit)?
                .ok_or_else(|| der::Tag::OctetString.value_error())
        })
        .map_err(malformed)?;
    if !reader.is_finished() {
        return Err(Error::MalformedAttestationCertificate);
    }
    Ok(nonce.as_bytes())
}
