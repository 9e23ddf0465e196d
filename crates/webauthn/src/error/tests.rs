use super::Error;

const ALL: [Error; 46] = [
    Error::MalformedResponse,
    Error::InvalidBase64,
    Error::CredentialTypeMismatch,
    Error::CredentialIdMismatch,
    Error::MalformedClientData,
    Error::ClientDataTypeMismatch,
    Error::ChallengeMismatch,
    Error::OriginMismatch,
    Error::CrossOriginNotAllowed,
    Error::TopOriginNotAllowed,
    Error::MalformedAuthenticatorData,
    Error::AuthenticatorDataTrailingBytes,
    Error::MalformedExtensions,
    Error::RpIdHashMismatch,
    Error::UserNotPresent,
    Error::UserNotVerified,
    Error::BackupStateWithoutEligibility,
    Error::AttestedCredentialDataMissing,
    Error::CredentialIdTooLong,
    Error::MalformedPublicKey,
    Error::UnsupportedAlgorithm,
    Error::AlgorithmNotRequested,
    Error::KeyAlgorithmMismatch,
    Error::RsaKeySizeOutOfRange,
    Error::MalformedAttestationObject,
    Error::UnsupportedAttestationFormat,
    Error::MalformedAttestationStatement,
    Error::AttestationSignatureInvalid,
    Error::AttestationAlgorithmMismatch,
    Error::MalformedAttestationCertificate,
    Error::AttestationCertificateRequirement,
    Error::AttestationAaguidMismatch,
    Error::AttestationNonceMismatch,
    Error::AttestationKeyMismatch,
    Error::TpmCertInfoInvalid,
    Error::AndroidKeyAuthorizationInvalid,
    Error::SafetyNetIntegrityFailed,
    Error::SafetyNetStale,
    Error::Sha1TpmAttestationNotAllowed,
    Error::CredentialNotAllowed,
    Error::UnknownCredential,
    Error::UserHandleMissing,
    Error::UserHandleMismatch,
    Error::SignatureInvalid,
    Error::BackupEligibilityChanged,
    Error::CloneSuspected {
        stored: 2,
        received: 1,
    },
];

#[test]
fn audit_reasons_are_distinct_snake_case() {
    let mut seen = std::collections::HashSet::new();
    for e in &ALL {
        let r = e.reason();
        assert!(seen.insert(r), "duplicate reason {r}");
        assert!(
            r.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
            "{r} is not snake_case"
        );
    }
}

#[test]
fn clone_suspicion_displays_both_counters() {
    let text = Error::CloneSuspected {
        stored: 9,
        received: 4,
    }
    .to_string();
    assert!(text.starts_with("clone_suspected"));
    assert!(text.contains('9') && text.contains('4'));
}
