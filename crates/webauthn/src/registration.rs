//! Registering a new credential (§7.1).

use ciborium::Value;

use crate::attestation::{self, Attestation, TrustAnchors};
use crate::authenticator_data::{Aaguid, AuthenticatorData, AuthenticatorExtensionOutputs};
use crate::cbor;
use crate::client_data::{self, CeremonyType, CollectedClientData};
use crate::cose::{CoseAlgorithm, CredentialPublicKey};
use crate::crypto::sha256;
use crate::error::Error;
use crate::options::UserVerificationRequirement;
use crate::origin::OriginPolicy;
use crate::response::{ClientExtensionResults, RegistrationResponse};

/// What the relying party stored when it issued the creation options.
#[derive(Debug, Clone, Copy)]
pub struct RegistrationExpectation<'a> {
    /// The challenge sent in the options.
    pub challenge: &'a [u8],
    /// The RP ID the credential must be scoped to.
    pub rp_id: &'a str,
    /// Origins allowed to run the ceremony.
    pub origins: &'a OriginPolicy,
    /// The algorithms offered in `pubKeyCredParams`.
    pub algorithms: &'a [CoseAlgorithm],
    /// Whether UV must be set.
    pub user_verification: UserVerificationRequirement,
    /// Roots for x5c attestation; empty means every chain is reported
    /// unverified.
    pub trust_anchors: &'a TrustAnchors,
    /// Accept a `tpm` statement signed with RS1 (RSASSA-PKCS1-v1_5 with
    /// SHA-1, COSE -65535), as Windows Hello's TPMs sign them; the result is
    /// then marked [`Attestation::legacy_sha1_signature`]. When false such a
    /// registration fails with [`Error::Sha1TpmAttestationNotAllowed`]. RS1 is
    /// never accepted for credential keys, assertions or any other format.
    pub allow_sha1_tpm_attestation: bool,
}

/// A registration that passed every check: what the relying party stores.
#[derive(Debug, Clone)]
pub struct VerifiedRegistration {
    /// The credential id.
    pub credential_id: Vec<u8>,
    /// The public key (store [`CredentialPublicKey::cose_bytes`]).
    pub public_key: CredentialPublicKey,
    /// The signature counter at creation.
    pub sign_count: u32,
    /// The authenticator model.
    pub aaguid: Aaguid,
    /// UV flag.
    pub user_verified: bool,
    /// BE flag: fixed for the credential's life.
    pub backup_eligible: bool,
    /// BS flag.
    pub backup_state: bool,
    /// Transports the browser reported (hints for allowCredentials).
    pub transports: Vec<String>,
    /// `authenticatorAttachment`, when reported.
    pub authenticator_attachment: Option<String>,
    /// The attestation format, type and trust.
    pub attestation: Attestation,
    /// Authenticator extension outputs, when ED was set.
    pub authenticator_extensions: Option<AuthenticatorExtensionOutputs>,
    /// Client extension outputs (e.g. `credProps`).
    pub client_extension_results: ClientExtensionResults,
    /// The verified client data (origin, crossOrigin, topOrigin).
    pub client_data: CollectedClientData,
}

impl VerifiedRegistration {
    /// The credential's algorithm.
    pub fn algorithm(&self) -> CoseAlgorithm {
        self.public_key.algorithm()
    }
}

/// Parses `RegistrationResponseJSON` and verifies it: the usual entry point.
pub fn verify_registration_json(
    expectation: &RegistrationExpectation<'_>,
    json: &[u8],
) -> Result<VerifiedRegistration, Error> {
    let response = RegistrationResponse::from_json(json)?;
    verify_registration(expectation, response)
}

/// Verifies a registration response (§7.1 steps 5-26).
///
/// Step 27 (the credential id is not yet registered to anyone) needs the
/// caller's database and stays with the caller.
pub fn verify_registration(
    expectation: &RegistrationExpectation<'_>,
    response: RegistrationResponse,
) -> Result<VerifiedRegistration, Error> {
    let client_data = client_data::verify(
        &response.client_data_json,
        CeremonyType::Create,
        expectation.challenge,
        expectation.origins,
    )?;
    let client_data_hash = sha256(&response.client_data_json);

    let (fmt, statement, auth_data_bytes) = split_attestation_object(&response.attestation_object)?;
    let auth_data = AuthenticatorData::parse(&auth_data_bytes)?;
    auth_data.check(
        expectation.rp_id,
        expectation.user_verification.is_required(),
    )?;
    let credential = auth_data
        .attested_credential
        .as_ref()
        .ok_or(Error::AttestedCredentialDataMissing)?;
    if credential.credential_id != response.raw_id {
        return Err(Error::CredentialIdMismatch);
    }
    if !expectation
        .algorithms
        .contains(&credential.public_key.algorithm())
    {
        return Err(Error::AlgorithmNotRequested);
    }

    let attestation = attestation::verify(
        &fmt,
        statement,
        &attestation::Input {
            auth_data_bytes: &auth_data_bytes,
            auth_data: &auth_data,
            credential,
            client_data_hash: &client_data_hash,
            trust_anchors: expectation.trust_anchors,
        },
    )?;
    if attestation.legacy_sha1_signature && !expectation.allow_sha1_tpm_attestation {
        return Err(Error::Sha1TpmAttestationNotAllowed);
    }

    let AuthenticatorData {
        flags,
        sign_count,
        attested_credential,
        extensions,
        ..
    } = auth_data;
    let credential = attested_credential.ok_or(Error::AttestedCredentialDataMissing)?;
    Ok(VerifiedRegistration {
        credential_id: credential.credential_id,
        public_key: credential.public_key,
        sign_count,
        aaguid: credential.aaguid,
        user_verified: flags.user_verified(),
        backup_eligible: flags.backup_eligible(),
        backup_state: flags.backup_state(),
        transports: response.transports,
        authenticator_attachment: response.authenticator_attachment,
        attestation,
        authenticator_extensions: extensions,
        client_extension_results: response.client_extension_results,
        client_data,
    })
}

/// §7.1 step 13: the attestationObject is a CBOR map of `fmt` (text),
/// `attStmt` (a map; for `compound` an array) and `authData` (bytes), with
/// nothing after it.
fn split_attestation_object(bytes: &[u8]) -> Result<(String, Value, Vec<u8>), Error> {
    let value = cbor::read_exact(bytes).map_err(|()| Error::MalformedAttestationObject)?;
    let mut map = cbor::text_map(value).map_err(|()| Error::MalformedAttestationObject)?;
    let fmt = match cbor::take(&mut map, "fmt") {
        Some(Value::Text(t)) => t,
        _ => return Err(Error::MalformedAttestationObject),
    };
    let statement = match cbor::take(&mut map, "attStmt") {
        Some(v @ Value::Map(_)) => v,
        Some(v @ Value::Array(_)) if fmt == "compound" => v,
        _ => return Err(Error::MalformedAttestationObject),
    };
    let auth_data = match cbor::take(&mut map, "authData") {
        Some(Value::Bytes(b)) => b,
        _ => return Err(Error::MalformedAttestationObject),
    };
    Ok((fmt, statement, auth_data))
}
