//! tpm, android-key, android-safetynet, apple and compound statements made
//! by the soft authenticator: each verifies with its chain, and each breaks
//! exactly one requirement in turn and is refused for that reason.

use crate::support::*;
use keybound_soft_authenticator::{
    Algorithm, AndroidKeyProfile, AppleProfile, AttestationMode, Authenticator, SafetyNetProfile,
    TestCa, TestPki, TpmProfile, Tweaks,
};
use keybound_webauthn::*;

const NOW: u64 = 1_800_000_000;

fn authenticator(attestation: AttestationMode) -> Authenticator {
    Authenticator {
        aaguid: [0x4b; 16],
        attestation,
        ..Authenticator::default()
    }
}

/// Registers with `mode`, trusting `root`.
fn register(
    mode: AttestationMode,
    root: &[u8],
    tweaks: &Tweaks,
) -> Result<VerifiedRegistration, Error> {
    let rp = Rp {
        anchors: TrustAnchors::new([root.to_vec()], NOW).unwrap(),
        ..Rp::default()
    };
    register_with_rp(&rp, &authenticator(mode), Algorithm::Es256, tweaks)
}

/// Registers with a statement made from `new`'s profile bent by `bend`,
/// under a fresh root that the relying party trusts.
fn attest<P>(
    new: impl FnOnce(TestCa) -> P,
    bend: impl FnOnce(&mut P),
    mode: fn(P) -> AttestationMode,
    tweaks: &Tweaks,
) -> Result<VerifiedRegistration, Error> {
    let ca = TestCa::new("format test root");
    let mut profile = new(ca.clone());
    bend(&mut profile);
    register(mode(profile), &ca.root_der, tweaks)
}

fn verified(reg: &VerifiedRegistration) -> bool {
    matches!(reg.attestation.trust, AttestationTrust::Verified { .. })
}

// ---------------------------------------------------------------- apple --

fn apple(bend: impl FnOnce(&mut AppleProfile)) -> Result<VerifiedRegistration, Error> {
    attest(
        AppleProfile::new,
        bend,
        AttestationMode::Apple,
        &Tweaks::default(),
    )
}

#[test]
fn apple_verifies_as_anonymous_ca() {
    let reg = apple(|_| {}).unwrap();
    assert_eq!(reg.attestation.format, AttestationFormat::Apple);
    assert_eq!(reg.attestation.attestation_type, AttestationType::AnonCa);
    assert!(verified(&reg));
}

#[test]
fn apple_checks_nonce_and_key() {
    assert_eq!(
        apple(|p| p.nonce = Some(vec![0; 32])).unwrap_err(),
        Error::AttestationNonceMismatch
    );
    assert_eq!(
        apple(|p| p.omit_nonce = true).unwrap_err(),
        Error::AttestationCertificateRequirement
    );
    assert_eq!(
        apple(|p| p.other_key = true).unwrap_err(),
        Error::AttestationKeyMismatch
    );
}

#[test]
fn apple_under_another_root_is_unverified() {
    let ca = TestCa::new("apple test root");
    let other = TestCa::new("another root");
    let reg = register(
        AttestationMode::Apple(AppleProfile::new(ca)),
        &other.root_der,
        &Tweaks::default(),
    )
    .unwrap();
    assert!(matches!(
        reg.attestation.trust,
        AttestationTrust::Unverified {
            reason: UnverifiedReason::UnknownIssuer,
            ..
        }
    ));
}

// ---------------------------------------------------------- android-key --

fn android(bend: impl FnOnce(&mut AndroidKeyProfile)) -> Result<VerifiedRegistration, Error> {
    android_tweaked(bend, &Tweaks::default())
}

fn android_tweaked(
    bend: impl FnOnce(&mut AndroidKeyProfile),
    tweaks: &Tweaks,
) -> Result<VerifiedRegistration, Error> {
    attest(
        AndroidKeyProfile::new,
        bend,
        AttestationMode::AndroidKey,
        tweaks,
    )
}

#[test]
fn android_key_reports_where_the_key_lives() {
    let reg = android(|_| {}).unwrap();
    assert_eq!(reg.attestation.format, AttestationFormat::AndroidKey);
    assert_eq!(
        reg.attestation.key_storage,
        Some(KeyStorage::TrustedEnvironment)
    );
    assert!(verified(&reg));
    let strongbox = android(|p| p.security_level = 2).unwrap();
    assert_eq!(
        strongbox.attestation.key_storage,
        Some(KeyStorage::StrongBox)
    );
    let software = android(|p| p.security_level = 0).unwrap();
    assert_eq!(software.attestation.key_storage, Some(KeyStorage::Software));
}

#[test]
fn android_key_silent_lists_prove_only_software() {
    let reg = android(|p| {
        p.origin = None;
        p.purposes.clear();
    })
    .unwrap();
    assert_eq!(reg.attestation.key_storage, Some(KeyStorage::Software));
}

#[test]
fn android_key_checks_challenge_key_signature_and_authorisations() {
    assert_eq!(
        android(|p| p.challenge = Some(vec![1; 32])).unwrap_err(),
        Error::AttestationNonceMismatch
    );
    assert_eq!(
        android(|p| p.other_key = true).unwrap_err(),
        Error::AttestationKeyMismatch
    );
    assert_eq!(
        android_tweaked(
            |_| {},
            &Tweaks {
                corrupt_signature: true,
                ..Tweaks::default()
            }
        )
        .unwrap_err(),
        Error::AttestationSignatureInvalid
    );
    for (what, bend) in [
        (
            "all applications",
            (|p: &mut AndroidKeyProfile| p.all_applications = true) as fn(&mut AndroidKeyProfile),
        ),
        ("imported, not generated", |p| p.origin = Some(2)),
        ("not a signing key", |p| p.purposes = vec![3]),
    ] {
        assert_eq!(
            android(bend).unwrap_err(),
            Error::AndroidKeyAuthorizationInvalid,
            "{what}"
        );
    }
}

#[test]
fn android_key_description_must_have_its_shape() {
    for (what, bend) in [
        (
            "challenge not an OCTET STRING",
            (|p: &mut AndroidKeyProfile| p.challenge_tag = 0x0c) as fn(&mut AndroidKeyProfile),
        ),
        ("authorisation lists not SEQUENCEs", |p| p.list_tag = 0x31),
    ] {
        assert_eq!(
            android(bend).unwrap_err(),
            Error::MalformedAttestationCertificate,
            "{what}"
        );
    }
    assert_eq!(
        android(|p| p.purpose_set_tag = 0x30).unwrap_err(),
        Error::AndroidKeyAuthorizationInvalid,
        "purposes not a SET"
    );
}

#[test]
fn android_key_hardware_storage_needs_the_hardware_list_to_say_so() {
    let reg = android(|p| p.purposes_in_software = true).unwrap();
    assert_eq!(
        reg.attestation.key_storage,
        Some(KeyStorage::Software),
        "purpose only software-enforced"
    );
}

// ------------------------------------------------------------------ tpm --

fn tpm(bend: impl FnOnce(&mut TpmProfile)) -> Result<VerifiedRegistration, Error> {
    tpm_tweaked(bend, &Tweaks::default())
}

fn tpm_tweaked(
    bend: impl FnOnce(&mut TpmProfile),
    tweaks: &Tweaks,
) -> Result<VerifiedRegistration, Error> {
    attest(TpmProfile::new, bend, AttestationMode::Tpm, tweaks)
}

#[test]
fn tpm_verifies_as_attestation_ca() {
    let reg = tpm(|_| {}).unwrap();
    assert_eq!(reg.attestation.format, AttestationFormat::Tpm);
    assert_eq!(reg.attestation.attestation_type, AttestationType::AttCa);
    assert!(verified(&reg));
}

#[test]
fn tpm_rsa_keys_verify_and_must_match() {
    let ca = TestCa::new("tpm test root");
    let rp = Rp {
        anchors: TrustAnchors::new([ca.root_der.clone()], NOW).unwrap(),
        ..Rp::default()
    };
    let mode = |other_key| {
        let mut profile = TpmProfile::new(ca.clone());
        profile.other_key = other_key;
        authenticator(AttestationMode::Tpm(profile))
    };
    let reg = register_with_rp(&rp, &mode(false), Algorithm::Rs256, &Tweaks::default()).unwrap();
    assert_eq!(reg.attestation.format, AttestationFormat::Tpm);
    assert!(verified(&reg));
    assert_eq!(
        register_with_rp(&rp, &mode(true), Algorithm::Rs256, &Tweaks::default()).unwrap_err(),
        Error::AttestationKeyMismatch
    );
}

#[test]
fn tpm_checks_cert_info_pub_area_and_signature() {
    assert_eq!(
        tpm(|p| p.version = "1.2".into()).unwrap_err(),
        Error::UnsupportedAttestationFormat
    );
    assert_eq!(
        tpm(|p| p.magic = 0x1234_5678).unwrap_err(),
        Error::TpmCertInfoInvalid
    );
    assert_eq!(
        tpm(|p| p.attest_type = 0x8018).unwrap_err(),
        Error::TpmCertInfoInvalid
    );
    assert_eq!(
        tpm(|p| p.name = Some(vec![0, 0x0b, 1, 2, 3])).unwrap_err(),
        Error::TpmCertInfoInvalid
    );
    assert_eq!(
        tpm(|p| p.extra_data = Some(vec![9; 32])).unwrap_err(),
        Error::AttestationNonceMismatch
    );
    assert_eq!(
        tpm(|p| p.other_key = true).unwrap_err(),
        Error::AttestationKeyMismatch
    );
    assert_eq!(
        tpm_tweaked(
            |_| {},
            &Tweaks {
                corrupt_signature: true,
                ..Tweaks::default()
            }
        )
        .unwrap_err(),
        Error::AttestationSignatureInvalid
    );
}

#[test]
fn tpm_extra_data_uses_the_statement_algorithm_hash() {
    for bits in [384, 521] {
        let reg = tpm(|p| p.aik_bits = bits).unwrap();
        assert!(verified(&reg), "P-{bits}");
    }
}

#[test]
fn tpm_ec_keys_of_every_curve_and_names_of_every_hash() {
    let ca = TestCa::new("tpm test root");
    let rp = Rp {
        anchors: TrustAnchors::new([ca.root_der.clone()], NOW).unwrap(),
        ..Rp::default()
    };
    for alg in [Algorithm::Es256, Algorithm::Es384, Algorithm::Es512] {
        let auth = authenticator(AttestationMode::Tpm(TpmProfile::new(ca.clone())));
        let reg = register_with_rp(&rp, &auth, alg, &Tweaks::default());
        assert!(verified(&reg.unwrap()), "{alg:?}");
    }
    for name_alg in [0x0004, 0x000b, 0x000c, 0x000d] {
        assert!(
            tpm(|p| p.name_alg = name_alg).is_ok(),
            "nameAlg {name_alg:#06x}"
        );
    }
    assert_eq!(
        tpm(|p| p.name_alg = 0x0012).unwrap_err(),
        Error::TpmCertInfoInvalid,
        "an unknown nameAlg (SM3)"
    );
    assert_eq!(
        tpm(|p| p.curve_id = Some(0x0004)).unwrap_err(),
        Error::AttestationKeyMismatch,
        "P-256 point under the P-384 curve ID"
    );
}

#[test]
fn tpm_structures_have_nothing_after_them() {
    assert_eq!(
        tpm(|p| p.pub_area_suffix = vec![0]).unwrap_err(),
        Error::MalformedAttestationStatement
    );
}

#[test]
fn tpm_aik_certificate_requirements() {
    for (what, bend) in [
        (
            "no TPM version in the SAN",
            (|p: &mut TpmProfile| p.aik_san_without_version = true) as fn(&mut TpmProfile),
        ),
        ("a subject", |p| p.aik_subject = true),
        ("no SAN naming the TPM", |p| p.aik_omit_san = true),
        ("no AIK purpose", |p| p.aik_omit_eku = true),
        ("a CA certificate", |p| p.aik_is_ca = true),
    ] {
        assert_eq!(
            tpm(bend).unwrap_err(),
            Error::AttestationCertificateRequirement,
            "{what}"
        );
    }
}

// ---------------------------------------------------- android-safetynet --

fn safetynet(bend: impl FnOnce(&mut SafetyNetProfile)) -> Result<VerifiedRegistration, Error> {
    safetynet_tweaked(bend, &Tweaks::default())
}

fn safetynet_tweaked(
    bend: impl FnOnce(&mut SafetyNetProfile),
    tweaks: &Tweaks,
) -> Result<VerifiedRegistration, Error> {
    let new = |ca| SafetyNetProfile::new(ca, NOW * 1000);
    attest(new, bend, AttestationMode::SafetyNet, tweaks)
}

#[test]
fn safetynet_verifies_when_fresh_and_compatible() {
    let reg = safetynet(|_| {}).unwrap();
    assert_eq!(reg.attestation.format, AttestationFormat::AndroidSafetyNet);
    assert!(verified(&reg));
    let edge = SAFETYNET_MAX_AGE_SECS * 1000;
    assert!(safetynet(|p| p.timestamp_ms -= edge).is_ok(), "at the edge");
}

#[test]
fn safetynet_host_may_be_named_by_san_or_common_name() {
    assert!(
        safetynet(|p| p.common_name = "something else".into()).is_ok(),
        "SAN"
    );
    assert!(
        safetynet(|p| p.hostname = "other.example".into()).is_ok(),
        "CN"
    );
    assert_eq!(
        safetynet(|p| p.version = String::new()).unwrap_err(),
        Error::MalformedAttestationStatement,
        "an empty ver"
    );
}

#[test]
fn safetynet_checks_time_integrity_nonce_host_and_signature() {
    let late = (SAFETYNET_MAX_AGE_SECS + 1) * 1000;
    assert_eq!(
        safetynet(|p| p.timestamp_ms -= late).unwrap_err(),
        Error::SafetyNetStale
    );
    assert_eq!(
        safetynet(|p| p.timestamp_ms += late).unwrap_err(),
        Error::SafetyNetStale
    );
    assert_eq!(
        safetynet(|p| p.cts_profile_match = false).unwrap_err(),
        Error::SafetyNetIntegrityFailed
    );
    assert_eq!(
        safetynet(|p| p.nonce = Some(vec![2; 32])).unwrap_err(),
        Error::AttestationNonceMismatch
    );
    assert_eq!(
        safetynet(|p| {
            p.hostname = "attest.example.com".into();
            p.common_name = "attest.example.com".into();
        })
        .unwrap_err(),
        Error::AttestationCertificateRequirement
    );
    assert_eq!(
        safetynet_tweaked(
            |_| {},
            &Tweaks {
                corrupt_signature: true,
                ..Tweaks::default()
            }
        )
        .unwrap_err(),
        Error::AttestationSignatureInvalid
    );
}

// ------------------------------------------------------------- compound --

#[test]
fn compound_verifies_every_part() {
    let pki = TestPki::new([0x4b; 16]);
    let ca = TestCa::new("apple test root");
    let parts = vec![
        AttestationMode::Packed(pki.attestation.clone()),
        AttestationMode::Apple(AppleProfile::new(ca.clone())),
    ];
    let reg = register(
        AttestationMode::Compound(parts),
        &ca.root_der,
        &Tweaks::default(),
    )
    .unwrap();
    assert_eq!(reg.attestation.format, AttestationFormat::Compound);
    let formats: Vec<_> = reg
        .attestation
        .components
        .iter()
        .map(|c| c.format)
        .collect();
    assert_eq!(
        formats,
        [AttestationFormat::Packed, AttestationFormat::Apple]
    );
    assert!(verified(&reg), "the apple part chains to the trusted root");

    let mut bad = AppleProfile::new(ca.clone());
    bad.nonce = Some(vec![0; 32]);
    let parts = vec![
        AttestationMode::Packed(pki.attestation.clone()),
        AttestationMode::Apple(bad),
    ];
    assert_eq!(
        register(
            AttestationMode::Compound(parts),
            &ca.root_der,
            &Tweaks::default()
        )
        .unwrap_err(),
        Error::AttestationNonceMismatch,
        "one failing part fails the whole"
    );
}

#[test]
fn compound_needs_two_parts_and_no_nesting() {
    let ca = TestCa::new("apple test root");
    let apple = || AttestationMode::Apple(AppleProfile::new(ca.clone()));
    assert_eq!(
        register(
            AttestationMode::Compound(vec![apple()]),
            &ca.root_der,
            &Tweaks::default()
        )
        .unwrap_err(),
        Error::MalformedAttestationStatement
    );
    let nested = AttestationMode::Compound(vec![
        apple(),
        AttestationMode::Compound(vec![apple(), apple()]),
    ]);
    assert_eq!(
        register(nested, &ca.root_der, &Tweaks::default()).unwrap_err(),
        Error::MalformedAttestationStatement
    );
}
