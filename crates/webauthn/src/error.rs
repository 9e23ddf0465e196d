//! The one error type of the verification core.
//!
//! Every variant names the check that failed, grouped by ceremony stage, so a
//! caller can (a) show one generic message to the client and (b) write the
//! precise, stable [`Error::reason`] to its audit log.

use std::fmt;

/// Why a ceremony response was refused.
///
/// Variants are grouped by the stage of WebAuthn L3 §7.1 / §7.2 that performs
/// the check. New checks add variants, hence `#[non_exhaustive]`.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    // --- the response envelope (PublicKeyCredential JSON) ---
    /// The response is not the JSON shape of `RegistrationResponseJSON` /
    /// `AuthenticationResponseJSON`.
    MalformedResponse,
    /// A binary field is not valid base64url.
    InvalidBase64,
    /// `type` is not `"public-key"`.
    CredentialTypeMismatch,
    /// `id`, `rawId` and (at registration) the attested credential id disagree.
    CredentialIdMismatch,

    // --- clientDataJSON (§7.1 steps 5-11, §7.2 steps 10-15) ---
    /// clientDataJSON is not UTF-8 JSON with the required members.
    MalformedClientData,
    /// `type` is not `webauthn.create` (registration) or `webauthn.get` (sign-in).
    ClientDataTypeMismatch,
    /// `challenge` differs from the one the relying party issued.
    ChallengeMismatch,
    /// `origin` is not one of the allowed origins.
    OriginMismatch,
    /// `crossOrigin` is true but the policy does not allow cross-origin ceremonies.
    CrossOriginNotAllowed,
    /// `topOrigin` is present but not one of the allowed top-level origins.
    TopOriginNotAllowed,

    // --- authenticatorData (§6.1) ---
    /// authenticatorData is truncated or its attested credential data is malformed.
    MalformedAuthenticatorData,
    /// authenticatorData has bytes after its last declared member.
    AuthenticatorDataTrailingBytes,
    /// The extensions map (ED flag) is missing, not a CBOR map, or has non-text keys.
    MalformedExtensions,
    /// `rpIdHash` is not SHA-256 of the expected RP ID.
    RpIdHashMismatch,
    /// The UP (user present) flag is clear.
    UserNotPresent,
    /// User verification was required but the UV flag is clear.
    UserNotVerified,
    /// BS (backup state) is set while BE (backup eligible) is clear.
    BackupStateWithoutEligibility,
    /// A registration without the AT flag / attested credential data.
    AttestedCredentialDataMissing,
    /// The attested credential id is longer than 1023 bytes.
    CredentialIdTooLong,

    // --- credential public key (COSE_Key) ---
    /// The credential public key is not a well-formed COSE_Key of a supported type.
    MalformedPublicKey,
    /// The COSE algorithm is not one this crate verifies (e.g. Ed448).
    UnsupportedAlgorithm,
    /// The credential's algorithm is not among those the caller requested.
    AlgorithmNotRequested,
    /// The key's type or curve does not belong to its declared algorithm.
    KeyAlgorithmMismatch,
    /// An RSA modulus outside 2048-4096 bits.
    RsaKeySizeOutOfRange,

    // --- attestation (§8) ---
    /// The attestationObject is not a CBOR map with `fmt`, `attStmt`, `authData`.
    MalformedAttestationObject,
    /// `fmt` names a format this crate does not verify (yet).
    UnsupportedAttestationFormat,
    /// The attestation statement lacks a member or has one of the wrong type.
    MalformedAttestationStatement,
    /// The attestation signature does not verify.
    AttestationSignatureInvalid,
    /// The statement's `alg` does not fit the signing key (self attestation: the
    /// credential's algorithm; x5c: the certificate's key).
    AttestationAlgorithmMismatch,
    /// An x5c certificate cannot be parsed.
    MalformedAttestationCertificate,
    /// The attestation certificate breaks a requirement of its format
    /// (version, subject, basic constraints, key type).
    AttestationCertificateRequirement,
    /// The certificate's id-fido-gen-ce-aaguid extension differs from the AAGUID.
    AttestationAaguidMismatch,
    /// The statement does not commit to this registration (apple nonce,
    /// android-key attestationChallenge, SafetyNet nonce, TPM extraData).
    AttestationNonceMismatch,
    /// The key the statement attests (certificate key, TPM pubArea) is not
    /// the credential public key.
    AttestationKeyMismatch,
    /// TPM: certInfo is not a TPM-generated certification of this pubArea
    /// (magic, type, or attested name wrong).
    TpmCertInfoInvalid,
    /// android-key: the key's authorisations break §8.4 (usable by all
    /// applications, not generated in the keystore, or not a signing key).
    AndroidKeyAuthorizationInvalid,
    /// android-safetynet: the device failed the CTS profile match.
    SafetyNetIntegrityFailed,
    /// android-safetynet: the response is older than allowed, or from the
    /// future.
    SafetyNetStale,
    /// tpm: the statement is signed with RS1 (SHA-1) and the expectation does
    /// not allow it ([`crate::RegistrationExpectation::allow_sha1_tpm_attestation`]).
    Sha1TpmAttestationNotAllowed,

    // --- assertion (§7.2) ---
    /// The credential is not in the ceremony's allowCredentials.
    CredentialNotAllowed,
    /// The response's credential id is not the stored credential passed in.
    UnknownCredential,
    /// A username-less ceremony without a userHandle.
    UserHandleMissing,
    /// The userHandle is not the stored owner of the credential.
    UserHandleMismatch,
    /// The assertion signature does not verify with the stored public key.
    SignatureInvalid,
    /// BE differs from the value recorded at registration.
    BackupEligibilityChanged,
    /// The signature counter did not increase: a possible cloned authenticator.
    /// Distinct from [`Error::SignatureInvalid`]: it is only reported for a
    /// response whose signature verified.
    CloneSuspected {
        /// The counter stored from the previous ceremony.
        stored: u32,
        /// The counter the authenticator reported now.
        received: u32,
    },
}

impl Error {
    /// A stable snake_case reason for audit logs and metrics.
    ///
    /// This is the one place a verification failure becomes text; the strings
    /// never change meaning once released.
    pub fn reason(&self) -> &'static str {
        match self {
            Error::MalformedResponse => "malformed_response",
            Error::InvalidBase64 => "invalid_base64",
            Error::CredentialTypeMismatch => "credential_type_mismatch",
            Error::CredentialIdMismatch => "credential_id_mismatch",
            Error::MalformedClientData => "malformed_client_data",
            Error::ClientDataTypeMismatch => "client_data_type_mismatch",
            Error::ChallengeMismatch => "challenge_mismatch",
            Error::OriginMismatch => "origin_mismatch",
            Error::CrossOriginNotAllowed => "cross_origin_not_allowed",
            Error::TopOriginNotAllowed => "top_origin_not_allowed",
            Error::MalformedAuthenticatorData => "malformed_authenticator_data",
            Error::AuthenticatorDataTrailingBytes => "authenticator_data_trailing_bytes",
            Error::MalformedExtensions => "malformed_extensions",
            Error::RpIdHashMismatch => "rp_id_hash_mismatch",
            Error::UserNotPresent => "user_not_present",
            Error::UserNotVerified => "user_not_verified",
            Error::BackupStateWithoutEligibility => "backup_state_without_eligibility",
            Error::AttestedCredentialDataMissing => "attested_credential_data_missing",
            Error::CredentialIdTooLong => "credential_id_too_long",
            Error::MalformedPublicKey => "malformed_public_key",
            Error::UnsupportedAlgorithm => "unsupported_algorithm",
            Error::AlgorithmNotRequested => "algorithm_not_requested",
            Error::KeyAlgorithmMismatch => "key_algorithm_mismatch",
            Error::RsaKeySizeOutOfRange => "rsa_key_size_out_of_range",
            Error::MalformedAttestationObject => "malformed_attestation_object",
            Error::UnsupportedAttestationFormat => "unsupported_attestation_format",
            Error::MalformedAttestationStatement => "malformed_attestation_statement",
            Error::AttestationSignatureInvalid => "attestation_signature_invalid",
            Error::AttestationAlgorithmMismatch => "attestation_algorithm_mismatch",
            Error::MalformedAttestationCertificate => "malformed_attestation_certificate",
            Error::AttestationCertificateRequirement => "attestation_certificate_requirement",
            Error::AttestationAaguidMismatch => "attestation_aaguid_mismatch",
            Error::AttestationNonceMismatch => "attestation_nonce_mismatch",
            Error::AttestationKeyMismatch => "attestation_key_mismatch",
            Error::TpmCertInfoInvalid => "tpm_cert_info_invalid",
            Error::AndroidKeyAuthorizationInvalid => "android_key_authorization_invalid",
            Error::SafetyNetIntegrityFailed => "safetynet_integrity_failed",
            Error::SafetyNetStale => "safetynet_stale",
            Error::Sha1TpmAttestationNotAllowed => "sha1_tpm_attestation_not_allowed",
            Error::CredentialNotAllowed => "credential_not_allowed",
            Error::UnknownCredential => "unknown_credential",
            Error::UserHandleMissing => "user_handle_missing",
            Error::UserHandleMismatch => "user_handle_mismatch",
            Error::SignatureInvalid => "signature_invalid",
            Error::BackupEligibilityChanged => "backup_eligibility_changed",
            Error::CloneSuspected { .. } => "clone_suspected",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::CloneSuspected { stored, received } => write!(
                f,
                "clone_suspected: sign count {received} does not exceed stored {stored}"
            ),
            other => f.write_str(other.reason()),
        }
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests;
