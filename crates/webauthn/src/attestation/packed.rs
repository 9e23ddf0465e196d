//! The `packed` format (§8.2): self attestation or an x5c chain whose
//! attestation certificate meets §8.2.1.

use ciborium::Value;

use super::certificate::{self, AttestationCertificate};
use super::{
    statement_algorithm, statement_signature, Attestation, AttestationFormat, AttestationTrust,
    AttestationType, Input,
};
use crate::error::Error;

pub(super) fn verify(
    mut statement: Vec<(String, Value)>,
    input: &Input<'_>,
) -> Result<Attestation, Error> {
    let alg = statement_algorithm(&mut statement)?;
    let sig = statement_signature(&mut statement)?;
    let x5c = crate::cbor::take(&mut statement, "x5c");
    if crate::cbor::take(&mut statement, "ecdaaKeyId").is_some() {
        // ECDAA was removed from WebAuthn L3.
        return Err(Error::UnsupportedAttestationFormat);
    }
    let signed = input.signed_data();

    let Some(x5c) = x5c else {
        // Self attestation: the credential key signs, with its own algorithm.
        let key = &input.credential.public_key;
        if alg != key.algorithm() {
            return Err(Error::AttestationAlgorithmMismatch);
        }
        if !key.verify(&signed, &sig) {
            return Err(Error::AttestationSignatureInvalid);
        }
        return Ok(Attestation::new(
            AttestationFormat::Packed,
            AttestationType::SelfAttestation,
            AttestationTrust::NotApplicable,
        ));
    };

    let chain = certificate::parse_x5c(x5c)?;
    let leaf = AttestationCertificate::parse(chain.first())?;
    if !leaf.verifier(alg)?.verify(&signed, &sig) {
        return Err(Error::AttestationSignatureInvalid);
    }
    leaf.check_packed_requirements()?;
    leaf.check_aaguid(&input.credential.aaguid)?;
    Ok(Attestation::new(
        AttestationFormat::Packed,
        AttestationType::Basic,
        certificate::chain_trust(chain, input.trust_anchors),
    ))
}
