//! The `fido-u2f` format (§8.6): one P-256 attestation certificate signing
//! the U2F registration message.

use ciborium::Value;

use super::certificate::{self, AttestationCertificate};
use super::{statement_signature, Attestation, AttestationFormat, AttestationType, Input};
use crate::cose::CoseAlgorithm;
use crate::error::Error;

pub(super) fn verify(
    mut statement: Vec<(String, Value)>,
    input: &Input<'_>,
) -> Result<Attestation, Error> {
    let sig = statement_signature(&mut statement)?;
    let x5c =
        crate::cbor::take(&mut statement, "x5c").ok_or(Error::MalformedAttestationStatement)?;
    let chain = certificate::parse_x5c(x5c)?;
    if chain.len() != 1 {
        return Err(Error::MalformedAttestationStatement);
    }
    let leaf = AttestationCertificate::parse(chain.first())?;
    // The certificate key must be P-256; anything else is not U2F.
    let verifier = leaf
        .verifier(CoseAlgorithm::Es256)
        .map_err(|_| Error::AttestationCertificateRequirement)?;

    // The credential key must be an uncompressed P-256 point (step 3).
    let key = &input.credential.public_key;
    if key.algorithm() != CoseAlgorithm::Es256 {
        return Err(Error::KeyAlgorithmMismatch);
    }
    let point = key.ec_point().ok_or(Error::KeyAlgorithmMismatch)?;

    // verificationData = 0x00 || rpIdHash || clientDataHash || credentialId || publicKeyU2F
    let credential_id = &input.credential.credential_id;
    let mut message = Vec::with_capacity(1 + 32 + 32 + credential_id.len() + point.len());
    message.push(0x00);
    message.extend_from_slice(&input.auth_data.rp_id_hash);
    message.extend_from_slice(input.client_data_hash);
    message.extend_from_slice(credential_id);
    message.extend_from_slice(point);
    if !verifier.verify(&message, &sig) {
        return Err(Error::AttestationSignatureInvalid);
    }
    Ok(Attestation::new(
        AttestationFormat::FidoU2f,
        AttestationType::Basic,
        certificate::chain_trust(chain, input.trust_anchors),
    ))
}
