//! The `android-safetynet` format (§8.5): a JWS from Google's SafetyNet
//! service, signed by a certificate for `attest.android.com`, whose payload
//! carries a nonce over what was registered. Google has retired SafetyNet;
//! old devices still send it.

use ciborium::Value;
use serde::Deserialize;

use super::certificate::{self, AttestationCertificate};
use super::{Attestation, AttestationFormat, AttestationType, Input};
use crate::b64;
use crate::cose::CoseAlgorithm;
use crate::error::Error;

/// How far a SafetyNet timestamp may lie from the verification time.
pub const SAFETYNET_MAX_AGE_SECS: u64 = 60;
const HOSTNAME: &str = "attest.android.com";

#[derive(Deserialize)]
struct Header {
    alg: String,
    x5c: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Payload {
    nonce: String,
    timestamp_ms: u64,
    #[serde(default)]
    cts_profile_match: bool,
}

pub(super) fn verify(
    mut statement: Vec<(String, Value)>,
    input: &Input<'_>,
) -> Result<Attestation, Error> {
    match crate::cbor::take(&mut statement, "ver") {
        Some(Value::Text(v)) if !v.is_empty() => {}
        _ => return Err(Error::MalformedAttestationStatement),
    }
    let response = match crate::cbor::take(&mut statement, "response") {
        Some(Value::Bytes(b)) => b,
        _ => return Err(Error::MalformedAttestationStatement),
    };
    let jws = std::str::from_utf8(&response).map_err(|_| Error::MalformedAttestationStatement)?;
    let mut parts = jws.split('.');
    let (Some(header_b64), Some(payload_b64), Some(sig_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Error::MalformedAttestationStatement);
    };
    let json =
        |part: &str| b64::decode_lenient(part).map_err(|_| Error::MalformedAttestationStatement);
    let header: Header = serde_json::from_slice(&json(header_b64)?)
        .map_err(|_| Error::MalformedAttestationStatement)?;
    let payload: Payload = serde_json::from_slice(&json(payload_b64)?)
        .map_err(|_| Error::MalformedAttestationStatement)?;
    let signature = json(sig_b64)?;

    // The JWS signs "header.payload" with the leaf of its own x5c, which
    // (unlike JOSE's base64url elsewhere) is standard base64 DER.
    let chain = header
        .x5c
        .iter()
        .map(|c| standard_base64(c).ok_or(Error::MalformedAttestationStatement))
        .collect::<Result<Vec<_>, _>>()?;
    let leaf = AttestationCertificate::parse(chain.first())?;
    // SafetyNet signs with RS256 only; a JWS ES256 signature would not even
    // be in the DER form the other formats use.
    if header.alg != "RS256" {
        return Err(Error::UnsupportedAlgorithm);
    }
    let alg = CoseAlgorithm::Rs256;
    let signed = format!("{header_b64}.{payload_b64}");
    if !leaf.verifier(alg)?.verify(signed.as_bytes(), &signature) {
        return Err(Error::AttestationSignatureInvalid);
    }
    let named = leaf.san_dns_names()?.iter().any(|d| d == HOSTNAME)
        || leaf.common_name().as_deref() == Some(HOSTNAME);
    if !named {
        return Err(Error::AttestationCertificateRequirement);
    }

    let expected = crate::crypto::sha256(&input.signed_data());
    let nonce = standard_base64(&payload.nonce).ok_or(Error::AttestationNonceMismatch)?;
    if nonce != expected {
        return Err(Error::AttestationNonceMismatch);
    }
    if !payload.cts_profile_match {
        return Err(Error::SafetyNetIntegrityFailed);
    }
    let now_ms = input.trust_anchors.now_unix_secs().saturating_mul(1000);
    if now_ms.abs_diff(payload.timestamp_ms) > SAFETYNET_MAX_AGE_SECS * 1000 {
        return Err(Error::SafetyNetStale);
    }
    Ok(Attestation::new(
        AttestationFormat::AndroidSafetyNet,
        AttestationType::Basic,
        certificate::chain_trust(chain, input.trust_anchors),
    ))
}

/// Standard base64 with or without padding.
fn standard_base64(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(text.trim_end_matches('='))
        .ok()
}
