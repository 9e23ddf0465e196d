//! RS1 (RSASSA-PKCS1-v1_5 with SHA-1, COSE -65535): accepted for `tpm`
//! statements, as Windows Hello laptops send them, and marked; refused when
//! the expectation does not allow it, and refused everywhere else (other
//! formats, credential keys).

use crate::support::*;
use coset::{iana, CborSerializable, CoseKey};
use keybound_soft_authenticator::{
    Algorithm, AttestationMode, Authenticator, CertProfile, CredentialKey, TestCa, TestPki,
    TpmProfile, Tweaks, COSE_RS1,
};
use keybound_webauthn::*;

const NOW: u64 = 1_800_000_000;

/// A Windows Hello-like authenticator: an RSA credential key, attested by a
/// TPM whose AIK signs with RS1.
fn windows_hello(ca: &TestCa, bend: impl FnOnce(&mut TpmProfile)) -> Authenticator {
    let mut profile = TpmProfile::new(ca.clone());
    profile.aik_rs1 = true;
    bend(&mut profile);
    Authenticator {
        aaguid: [0x08; 16],
        attestation: AttestationMode::Tpm(profile),
        ..Authenticator::default()
    }
}

fn trusting(root: &[u8], allow_sha1_tpm_attestation: bool) -> Rp {
    Rp {
        anchors: TrustAnchors::new([root.to_vec()], NOW).unwrap(),
        allow_sha1_tpm_attestation,
        ..Rp::default()
    }
}

#[test]
fn tpm_rs1_is_accepted_and_marked() {
    let ca = TestCa::new("windows hello root");
    let auth = windows_hello(&ca, |_| {});
    for alg in [Algorithm::Rs256, Algorithm::Es256] {
        let reg = register_with_rp(
            &trusting(&ca.root_der, true),
            &auth,
            alg,
            &Tweaks::default(),
        )
        .unwrap();
        assert_eq!(reg.attestation.format, AttestationFormat::Tpm);
        assert_eq!(reg.attestation.attestation_type, AttestationType::AttCa);
        assert!(matches!(
            reg.attestation.trust,
            AttestationTrust::Verified { .. }
        ));
        assert!(reg.attestation.legacy_sha1_signature, "{alg:?}");
        // The credential itself signs as usual.
        assert_eq!(reg.algorithm().id(), alg.cose_id());
    }
}

#[test]
fn tpm_with_a_modern_algorithm_is_not_marked() {
    let ca = TestCa::new("tpm root");
    let auth = Authenticator {
        attestation: AttestationMode::Tpm(TpmProfile::new(ca.clone())),
        ..Authenticator::default()
    };
    let reg = register_with_rp(
        &trusting(&ca.root_der, false),
        &auth,
        Algorithm::Es256,
        &Tweaks::default(),
    )
    .unwrap();
    assert!(!reg.attestation.legacy_sha1_signature);
}

#[test]
fn tpm_rs1_is_refused_when_the_expectation_does_not_allow_it() {
    let ca = TestCa::new("windows hello root");
    let err = register_with_rp(
        &trusting(&ca.root_der, false),
        &windows_hello(&ca, |_| {}),
        Algorithm::Rs256,
        &Tweaks::default(),
    )
    .unwrap_err();
    assert_eq!(err, Error::Sha1TpmAttestationNotAllowed);
    assert_eq!(err.reason(), "sha1_tpm_attestation_not_allowed");
}

#[test]
fn tpm_rs1_is_still_checked_like_any_statement() {
    let ca = TestCa::new("windows hello root");
    let rp = trusting(&ca.root_der, true);
    let register = |auth: &Authenticator, tweaks: &Tweaks| {
        register_with_rp(&rp, auth, Algorithm::Rs256, tweaks).unwrap_err()
    };
    let corrupt = Tweaks {
        corrupt_signature: true,
        ..Tweaks::default()
    };
    assert_eq!(
        register(&windows_hello(&ca, |_| {}), &corrupt),
        Error::AttestationSignatureInvalid
    );
    // extraData must be SHA-1 of what was registered, as RS1 hashes.
    assert_eq!(
        register(
            &windows_hello(&ca, |p| p.extra_data = Some(vec![7; 20])),
            &Tweaks::default()
        ),
        Error::AttestationNonceMismatch
    );
    assert_eq!(
        register(
            &windows_hello(&ca, |p| p.other_key = true),
            &Tweaks::default()
        ),
        Error::AttestationKeyMismatch
    );
    assert_eq!(
        register(
            &windows_hello(&ca, |p| p.aik_omit_eku = true),
            &Tweaks::default()
        ),
        Error::AttestationCertificateRequirement
    );
}

#[test]
fn tpm_rs1_inside_compound_is_marked() {
    let ca = TestCa::new("windows hello root");
    let mut tpm = TpmProfile::new(ca.clone());
    tpm.aik_rs1 = true;
    let auth = Authenticator {
        attestation: AttestationMode::Compound(vec![
            AttestationMode::PackedSelf,
            AttestationMode::Tpm(tpm),
        ]),
        ..Authenticator::default()
    };
    let reg = register_with_rp(
        &trusting(&ca.root_der, true),
        &auth,
        Algorithm::Es256,
        &Tweaks::default(),
    )
    .unwrap();
    assert!(reg.attestation.legacy_sha1_signature);
    assert_eq!(
        register_with_rp(
            &trusting(&ca.root_der, false),
            &auth,
            Algorithm::Es256,
            &Tweaks::default(),
        )
        .unwrap_err(),
        Error::Sha1TpmAttestationNotAllowed
    );
}

#[test]
fn rs1_in_a_packed_statement_is_refused() {
    let pki = TestPki::with_leaf(
        &CertProfile::compliant(Some([0x4b; 16])),
        &rcgen::PKCS_RSA_SHA256,
    );
    let auth = Authenticator {
        attestation: AttestationMode::Packed(pki.attestation.signing_with_rs1()),
        ..Authenticator::default()
    };
    let rs1 = Tweaks {
        attestation_alg: Some(COSE_RS1),
        ..Tweaks::default()
    };
    // A valid RS1 signature under a trusted chain, and still refused, even
    // by a relying party that accepts RS1 from TPMs.
    let rp = trusting(&pki.root_der, true);
    assert_eq!(
        register_with_rp(&rp, &auth, Algorithm::Es256, &rs1).unwrap_err(),
        Error::UnsupportedAlgorithm
    );
    // The same key signing with RS256 verifies, so RS1 is what was refused.
    let auth = Authenticator {
        attestation: AttestationMode::Packed(pki.attestation.clone()),
        ..Authenticator::default()
    };
    let rs256 = Tweaks {
        attestation_alg: Some(Algorithm::Rs256.cose_id()),
        ..Tweaks::default()
    };
    let reg = register_with_rp(&rp, &auth, Algorithm::Es256, &rs256).unwrap();
    assert!(!reg.attestation.legacy_sha1_signature);
}

/// An RSA credential key whose COSE `alg` says RS1.
fn rs1_credential_key() -> Vec<u8> {
    let rsa = CredentialKey::generate(Algorithm::Rs256).cose_public_key();
    let mut key = CoseKey::from_slice(&rsa).unwrap();
    key.alg = Some(coset::Algorithm::Assigned(iana::Algorithm::RS1));
    key.to_vec().unwrap()
}

#[test]
fn rs1_as_a_credential_key_is_refused() {
    let cose = rs1_credential_key();
    assert_eq!(
        CredentialPublicKey::from_cose(&cose).unwrap_err(),
        Error::UnsupportedAlgorithm
    );
    // Nor may a registration carry one, whatever attests it.
    let ca = TestCa::new("windows hello root");
    let tweaks = Tweaks {
        cose_key: Some(cose),
        ..Tweaks::default()
    };
    for auth in [Authenticator::default(), windows_hello(&ca, |_| {})] {
        assert_eq!(
            register_with_rp(
                &trusting(&ca.root_der, true),
                &auth,
                Algorithm::Rs256,
                &tweaks
            )
            .unwrap_err(),
            Error::UnsupportedAlgorithm
        );
    }
    // And no relying party can offer it.
    assert_eq!(CoseAlgorithm::from_id(COSE_RS1), None);
    assert!(serde_json::from_str::<CoseAlgorithm>("-65535").is_err());
}
