//! One test per registration check (§7.1): each response violates exactly
//! that check and must be refused with that check's error. Each test also
//! shows the same response minus the violation is accepted, so none can pass
//! vacuously.

use crate::support::*;
use keybound_soft_authenticator::{
    b64, Algorithm, AttestationMode, Authenticator, Ceremony, CertProfile, TestPki, Tweaks,
};
use keybound_webauthn::*;
use serde_json::{json, Value};

fn none_auth() -> Authenticator {
    Authenticator::default()
}

fn expect(auth: &Authenticator, alg: Algorithm, tweaks: Tweaks, err: Error) {
    assert_eq!(register_tweaked(auth, alg, &tweaks).unwrap_err(), err);
    // The control: without the tweak the same authenticator registers fine.
    register_tweaked(auth, alg, &Tweaks::default()).unwrap();
}

/// A fresh response, edited as JSON by `edit`, verified against a matching
/// expectation.
fn with_json(edit: impl FnOnce(&mut Value)) -> Result<VerifiedRegistration, Error> {
    let c = challenge();
    let ceremony = ceremony(&c);
    let (_, mut json) = none_auth().register(Algorithm::Es256, &ceremony, USER);
    edit(&mut json);
    Rp::default().register(&c, &json)
}

/// Edits the CBOR attestation object of a fresh response.
fn with_attestation_object(
    auth: &Authenticator,
    edit: impl FnOnce(&mut Vec<(ciborium::Value, ciborium::Value)>),
) -> Result<VerifiedRegistration, Error> {
    let c = challenge();
    let ceremony = ceremony(&c);
    let (_, mut json) = auth.register(Algorithm::Es256, &ceremony, USER);
    let bytes = b64_decode(json["response"]["attestationObject"].as_str().unwrap());
    let ciborium::Value::Map(mut map) = ciborium::from_reader(bytes.as_slice()).unwrap() else {
        panic!("not a map")
    };
    edit(&mut map);
    let mut out = Vec::new();
    ciborium::into_writer(&ciborium::Value::Map(map), &mut out).unwrap();
    json["response"]["attestationObject"] = json!(b64(&out));
    Rp::default().register(&c, &json)
}

fn b64_decode(s: &str) -> Vec<u8> {
    keybound_webauthn::b64::decode(s).unwrap()
}

fn statement(
    map: &mut [(ciborium::Value, ciborium::Value)],
) -> &mut Vec<(ciborium::Value, ciborium::Value)> {
    let entry = map
        .iter_mut()
        .find(|(k, _)| k.as_text() == Some("attStmt"))
        .unwrap();
    entry.1.as_map_mut().unwrap()
}

// --- envelope ---

#[test]
fn envelope_checks() {
    with_json(|_| {}).unwrap();
    assert_eq!(
        with_json(|j| j["type"] = json!("password")).unwrap_err(),
        Error::CredentialTypeMismatch
    );
    assert_eq!(
        with_json(|j| j["id"] = json!(b64(b"another id"))).unwrap_err(),
        Error::CredentialIdMismatch
    );
    assert_eq!(
        with_json(|j| j["response"]["clientDataJSON"] = json!("not*base64")).unwrap_err(),
        Error::InvalidBase64
    );
    assert_eq!(
        with_json(|j| {
            j.as_object_mut().unwrap().remove("response");
        })
        .unwrap_err(),
        Error::MalformedResponse
    );
}

#[test]
fn raw_id_must_be_the_attested_credential_id() {
    let other = b64(b"a different credential id");
    assert_eq!(
        with_json(|j| {
            j["id"] = json!(other);
            j["rawId"] = json!(other);
        })
        .unwrap_err(),
        Error::CredentialIdMismatch
    );
}

// --- clientDataJSON ---

#[test]
fn client_data_must_be_json() {
    let tweaks = Tweaks {
        client_data_json: Some(b"{\"type\":".to_vec()),
        ..Tweaks::default()
    };
    expect(
        &none_auth(),
        Algorithm::Es256,
        tweaks,
        Error::MalformedClientData,
    );
}

#[test]
fn client_data_type_must_be_create() {
    let tweaks = Tweaks {
        client_data_type: Some("webauthn.get".into()),
        ..Tweaks::default()
    };
    expect(
        &none_auth(),
        Algorithm::Es256,
        tweaks,
        Error::ClientDataTypeMismatch,
    );
}

#[test]
fn challenge_must_match() {
    let c = challenge();
    let ceremony = ceremony(&c);
    let (_, json) = none_auth().register(Algorithm::Es256, &ceremony, USER);
    let mut wrong = c.clone();
    wrong[31] ^= 1;
    assert_eq!(
        Rp::default().register(&wrong, &json).unwrap_err(),
        Error::ChallengeMismatch
    );
    // A prefix of the right challenge is still wrong.
    assert_eq!(
        Rp::default().register(&c[..16], &json).unwrap_err(),
        Error::ChallengeMismatch
    );
    Rp::default().register(&c, &json).unwrap();
}

#[test]
fn origin_must_match_exactly() {
    for origin in [
        "https://example.com",
        "https://a.login.example.com",
        "http://login.example.com",
        "https://login.example.com:8443",
        "https://login.example.com/",
        "https://login.example.com.evil.net",
        "https://LOGIN.example.com",
        "null",
    ] {
        let c = challenge();
        let ceremony = Ceremony {
            rp_id: RP_ID,
            origin,
            challenge: &c,
        };
        let (_, json) = none_auth().register(Algorithm::Es256, &ceremony, USER);
        assert_eq!(
            Rp::default().register(&c, &json).unwrap_err(),
            Error::OriginMismatch,
            "{origin}"
        );
    }
    register_tweaked(&none_auth(), Algorithm::Es256, &Tweaks::default()).unwrap();
}

#[test]
fn cross_origin_refused_unless_allowed() {
    let tweaks = Tweaks {
        cross_origin: Some(true),
        ..Tweaks::default()
    };
    expect(
        &none_auth(),
        Algorithm::Es256,
        tweaks.clone(),
        Error::CrossOriginNotAllowed,
    );
    let rp = Rp {
        origins: OriginPolicy::exact([ORIGIN])
            .unwrap()
            .allow_cross_origin(["https://portal.example.net"])
            .unwrap(),
        ..Rp::default()
    };
    let reg = register_with_rp(&rp, &none_auth(), Algorithm::Es256, &tweaks).unwrap();
    assert!(reg.client_data.cross_origin);
}

#[test]
fn top_origin_must_be_allowed() {
    let rp = Rp {
        origins: OriginPolicy::exact([ORIGIN])
            .unwrap()
            .allow_cross_origin(["https://portal.example.net"])
            .unwrap(),
        ..Rp::default()
    };
    let tweaks = |top: &str| Tweaks {
        cross_origin: Some(true),
        top_origin: Some(top.into()),
        ..Tweaks::default()
    };
    assert_eq!(
        register_with_rp(
            &rp,
            &none_auth(),
            Algorithm::Es256,
            &tweaks("https://evil.example")
        )
        .unwrap_err(),
        Error::TopOriginNotAllowed
    );
    let reg = register_with_rp(
        &rp,
        &none_auth(),
        Algorithm::Es256,
        &tweaks("https://portal.example.net"),
    )
    .unwrap();
    assert_eq!(
        reg.client_data.top_origin.as_deref(),
        Some("https://portal.example.net")
    );
    // Without cross-origin permission a topOrigin is refused too.
    let only_top = Tweaks {
        top_origin: Some("https://portal.example.net".into()),
        ..Tweaks::default()
    };
    expect(
        &none_auth(),
        Algorithm::Es256,
        only_top,
        Error::TopOriginNotAllowed,
    );
}

// --- authenticator data ---

#[test]
fn rp_id_hash_must_match() {
    let tweaks = Tweaks {
        rp_id_hash_of: Some("evil.example".into()),
        ..Tweaks::default()
    };
    expect(
        &none_auth(),
        Algorithm::Es256,
        tweaks,
        Error::RpIdHashMismatch,
    );
}

#[test]
fn user_presence_required() {
    let tweaks = Tweaks {
        flags: Some(0x04),
        ..Tweaks::default()
    };
    expect(
        &none_auth(),
        Algorithm::Es256,
        tweaks,
        Error::UserNotPresent,
    );
}

#[test]
fn user_verification_enforced_only_when_required() {
    let no_uv = Authenticator {
        user_verified: false,
        ..none_auth()
    };
    let required = Rp {
        uv: UserVerificationRequirement::Required,
        ..Rp::default()
    };
    assert_eq!(
        register_with_rp(&required, &no_uv, Algorithm::Es256, &Tweaks::default()).unwrap_err(),
        Error::UserNotVerified
    );
    register_with_rp(
        &required,
        &none_auth(),
        Algorithm::Es256,
        &Tweaks::default(),
    )
    .unwrap();
    let reg =
        register_with_rp(&Rp::default(), &no_uv, Algorithm::Es256, &Tweaks::default()).unwrap();
    assert!(!reg.user_verified);
}

#[test]
fn backup_state_needs_backup_eligibility() {
    let tweaks = Tweaks {
        flags: Some(0x01 | 0x10),
        ..Tweaks::default()
    };
    expect(
        &none_auth(),
        Algorithm::Es256,
        tweaks,
        Error::BackupStateWithoutEligibility,
    );
    let synced = Authenticator {
        backup_eligible: true,
        backup_state: true,
        ..none_auth()
    };
    let reg = register_tweaked(&synced, Algorithm::Es256, &Tweaks::default()).unwrap();
    assert!(reg.backup_eligible && reg.backup_state);
}

#[test]
fn attested_credential_data_required() {
    let tweaks = Tweaks {
        omit_attested: true,
        ..Tweaks::default()
    };
    expect(
        &none_auth(),
        Algorithm::Es256,
        tweaks,
        Error::AttestedCredentialDataMissing,
    );
}

#[test]
fn attested_flag_without_data_is_malformed() {
    let tweaks = Tweaks {
        omit_attested: true,
        flags: Some(0x41),
        raw_flags: true,
        ..Tweaks::default()
    };
    expect(
        &none_auth(),
        Algorithm::Es256,
        tweaks,
        Error::MalformedAuthenticatorData,
    );
}

#[test]
fn no_trailing_bytes() {
    let tweaks = Tweaks {
        auth_data_suffix: vec![0],
        ..Tweaks::default()
    };
    expect(
        &none_auth(),
        Algorithm::Es256,
        tweaks,
        Error::AuthenticatorDataTrailingBytes,
    );
    // Attested data present but AT clear: the data is trailing.
    let no_at = Tweaks {
        flags: Some(0x05),
        raw_flags: true,
        ..Tweaks::default()
    };
    expect(
        &none_auth(),
        Algorithm::Es256,
        no_at,
        Error::AuthenticatorDataTrailingBytes,
    );
}

#[test]
fn extensions_must_be_a_text_keyed_map() {
    let mut array = Vec::new();
    ciborium::into_writer(&ciborium::Value::Array(vec![]), &mut array).unwrap();
    let mut int_keys = Vec::new();
    ciborium::into_writer(
        &ciborium::Value::Map(vec![(1.into(), 2.into())]),
        &mut int_keys,
    )
    .unwrap();
    let mut bad_type = Vec::new();
    ciborium::into_writer(
        &ciborium::Value::Map(vec![("credProtect".into(), "high".into())]),
        &mut bad_type,
    )
    .unwrap();
    for ext in [array, int_keys, bad_type] {
        let tweaks = Tweaks {
            extensions: Some(ext),
            ..Tweaks::default()
        };
        expect(
            &none_auth(),
            Algorithm::Es256,
            tweaks,
            Error::MalformedExtensions,
        );
    }
    // ED set and nothing follows.
    let missing = Tweaks {
        flags: Some(0x01 | 0x04 | 0x80),
        ..Tweaks::default()
    };
    expect(
        &none_auth(),
        Algorithm::Es256,
        missing,
        Error::MalformedExtensions,
    );
}

#[test]
fn credential_id_at_most_1023_bytes() {
    let long = Authenticator {
        credential_id_len: 1024,
        ..none_auth()
    };
    assert_eq!(
        register_tweaked(&long, Algorithm::Es256, &Tweaks::default()).unwrap_err(),
        Error::CredentialIdTooLong
    );
    let longest = Authenticator {
        credential_id_len: 1023,
        ..none_auth()
    };
    register_tweaked(&longest, Algorithm::Es256, &Tweaks::default()).unwrap();
}

// --- credential public key ---

fn cose(entries: Vec<(i64, ciborium::Value)>) -> Vec<u8> {
    let map = entries.into_iter().map(|(k, v)| (k.into(), v)).collect();
    let mut out = Vec::new();
    ciborium::into_writer(&ciborium::Value::Map(map), &mut out).unwrap();
    out
}

fn ec2(alg: i64, crv: i64, x: Vec<u8>, y: Vec<u8>) -> Vec<u8> {
    cose(vec![
        (1, 2.into()),
        (3, alg.into()),
        (-1, crv.into()),
        (-2, ciborium::Value::Bytes(x)),
        (-3, ciborium::Value::Bytes(y)),
    ])
}

/// An RSA COSE_Key with modulus `n` and exponent 65537.
fn rsa_cose(alg: i64, n: Vec<u8>) -> Vec<u8> {
    cose(vec![
        (1, 3.into()),
        (3, alg.into()),
        (-1, ciborium::Value::Bytes(n)),
        (-2, ciborium::Value::Bytes(vec![1, 0, 1])),
    ])
}

fn with_key(key: Vec<u8>) -> Tweaks {
    Tweaks {
        cose_key: Some(key),
        ..Tweaks::default()
    }
}

#[test]
fn public_key_must_be_well_formed() {
    let garbage = with_key(vec![0xa1, 0x01]);
    expect(
        &none_auth(),
        Algorithm::Es256,
        garbage,
        Error::MalformedPublicKey,
    );
    // (1, 1) is not on P-256.
    let mut one = vec![0u8; 32];
    one[31] = 1;
    let off_curve = with_key(ec2(-7, 1, one.clone(), one.clone()));
    expect(
        &none_auth(),
        Algorithm::Es256,
        off_curve,
        Error::MalformedPublicKey,
    );
    let short = with_key(ec2(-7, 1, vec![1; 31], vec![1; 32]));
    expect(
        &none_auth(),
        Algorithm::Es256,
        short,
        Error::MalformedPublicKey,
    );
    let no_alg = with_key(cose(vec![
        (1, 2.into()),
        (-1, 1.into()),
        (-2, ciborium::Value::Bytes(one.clone())),
        (-3, ciborium::Value::Bytes(one)),
    ]));
    expect(
        &none_auth(),
        Algorithm::Es256,
        no_alg,
        Error::MalformedPublicKey,
    );
}

#[test]
fn unsupported_algorithms_are_named() {
    // ES256K (-47) on secp256k1.
    let es256k = with_key(ec2(-47, 8, vec![1; 32], vec![1; 32]));
    expect(
        &none_auth(),
        Algorithm::Es256,
        es256k,
        Error::UnsupportedAlgorithm,
    );
    // Ed448: no well-kept crate verifies it, so it is refused by name.
    let ed448 = with_key(cose(vec![
        (1, 1.into()),
        (3, (-8).into()),
        (-1, 7.into()),
        (-2, ciborium::Value::Bytes(vec![9; 57])),
    ]));
    expect(
        &none_auth(),
        Algorithm::Es256,
        ed448,
        Error::UnsupportedAlgorithm,
    );
}

#[test]
fn algorithm_must_have_been_requested() {
    let rp = Rp {
        algorithms: vec![CoseAlgorithm::EdDsa, CoseAlgorithm::Es384],
        ..Rp::default()
    };
    assert_eq!(
        register_with_rp(&rp, &none_auth(), Algorithm::Es256, &Tweaks::default()).unwrap_err(),
        Error::AlgorithmNotRequested
    );
    register_with_rp(&rp, &none_auth(), Algorithm::Es384, &Tweaks::default()).unwrap();
}

#[test]
fn key_type_and_curve_must_fit_the_algorithm() {
    let p256 = keybound_soft_authenticator::CredentialKey::generate(Algorithm::Es256);
    let point = p256.ec_point().unwrap();
    let (x, y) = (point[1..33].to_vec(), point[33..].to_vec());
    // ES384 declared on a P-256 key.
    let mismatch = with_key(ec2(-35, 1, x.clone(), y.clone()));
    expect(
        &none_auth(),
        Algorithm::Es256,
        mismatch,
        Error::KeyAlgorithmMismatch,
    );
    // EdDSA declared on an EC2 key.
    let eddsa_on_ec2 = with_key(ec2(-8, 1, x.clone(), y.clone()));
    expect(
        &none_auth(),
        Algorithm::Es256,
        eddsa_on_ec2,
        Error::KeyAlgorithmMismatch,
    );
    // An RSA algorithm on an OKP key.
    let rs_on_okp = with_key(cose(vec![
        (1, 1.into()),
        (3, (-257).into()),
        (-1, 6.into()),
        (-2, ciborium::Value::Bytes(vec![9; 32])),
    ]));
    expect(
        &none_auth(),
        Algorithm::Es256,
        rs_on_okp,
        Error::KeyAlgorithmMismatch,
    );
    // The same point declared correctly is accepted.
    register_tweaked(&none_auth(), Algorithm::Es256, &with_key(ec2(-7, 1, x, y))).unwrap();
}

#[test]
fn rsa_modulus_that_is_empty_or_zero_is_out_of_range() {
    for n in [vec![], vec![0; 256]] {
        let key = with_key(rsa_cose(-257, n));
        expect(
            &none_auth(),
            Algorithm::Rs256,
            key,
            Error::RsaKeySizeOutOfRange,
        );
    }
}

#[test]
fn rsa_modulus_between_2048_and_4096_bits() {
    for bits in [1024usize, 4104] {
        let mut n = vec![0xc5; bits / 8];
        n[0] = 0xff;
        let key = with_key(rsa_cose(-257, n));
        expect(
            &none_auth(),
            Algorithm::Rs256,
            key,
            Error::RsaKeySizeOutOfRange,
        );
    }
}

// --- attestation object and statements ---

#[test]
fn attestation_object_shape() {
    let auth = none_auth();
    with_attestation_object(&auth, |_| {}).unwrap();
    assert_eq!(
        with_attestation_object(&auth, |m| m.retain(|(k, _)| k.as_text() != Some("fmt")))
            .unwrap_err(),
        Error::MalformedAttestationObject
    );
    assert_eq!(
        with_attestation_object(&auth, |m| m.push(("fmt".into(), "none".into()))).unwrap_err(),
        Error::MalformedAttestationObject,
        "duplicate keys"
    );
    assert_eq!(
        with_json(|j| {
            let bytes = b64_decode(j["response"]["attestationObject"].as_str().unwrap());
            let mut longer = bytes.clone();
            longer.push(0);
            j["response"]["attestationObject"] = json!(b64(&longer));
        })
        .unwrap_err(),
        Error::MalformedAttestationObject,
        "trailing bytes"
    );
}

#[test]
fn unknown_formats_are_refused_by_name() {
    let set_fmt = |m: &mut Vec<(ciborium::Value, ciborium::Value)>| {
        for (k, v) in m.iter_mut() {
            if k.as_text() == Some("fmt") {
                *v = "x-vendor-format".into();
            }
        }
    };
    assert_eq!(
        with_attestation_object(&none_auth(), set_fmt).unwrap_err(),
        Error::UnsupportedAttestationFormat
    );
}

#[test]
fn none_statement_must_be_empty() {
    assert_eq!(
        with_attestation_object(&none_auth(), |m| statement(m)
            .push(("alg".into(), (-7).into())))
        .unwrap_err(),
        Error::MalformedAttestationStatement
    );
}

#[test]
fn packed_statement_members_are_required() {
    let auth = Authenticator {
        attestation: AttestationMode::PackedSelf,
        ..none_auth()
    };
    with_attestation_object(&auth, |_| {}).unwrap();
    for member in ["sig", "alg"] {
        assert_eq!(
            with_attestation_object(&auth, |m| statement(m)
                .retain(|(k, _)| k.as_text() != Some(member)))
            .unwrap_err(),
            Error::MalformedAttestationStatement,
            "{member}"
        );
    }
}

#[test]
fn attestation_signatures_must_verify() {
    let pki = TestPki::new([0x4b; 16]);
    for mode in [
        AttestationMode::PackedSelf,
        AttestationMode::Packed(pki.attestation.clone()),
        AttestationMode::FidoU2f(pki.attestation.clone()),
    ] {
        let auth = Authenticator {
            attestation: mode,
            ..none_auth()
        };
        let tweaks = Tweaks {
            corrupt_signature: true,
            ..Tweaks::default()
        };
        expect(
            &auth,
            Algorithm::Es256,
            tweaks,
            Error::AttestationSignatureInvalid,
        );
    }
}

#[test]
fn attestation_algorithm_must_fit_the_key() {
    let self_att = Authenticator {
        attestation: AttestationMode::PackedSelf,
        ..none_auth()
    };
    let tweaks = Tweaks {
        attestation_alg: Some(-35),
        ..Tweaks::default()
    };
    expect(
        &self_att,
        Algorithm::Es256,
        tweaks,
        Error::AttestationAlgorithmMismatch,
    );
    let pki = TestPki::new([0x4b; 16]);
    let x5c = Authenticator {
        attestation: AttestationMode::Packed(pki.attestation),
        ..none_auth()
    };
    let rsa_alg = Tweaks {
        attestation_alg: Some(-257),
        ..Tweaks::default()
    };
    expect(
        &x5c,
        Algorithm::Es256,
        rsa_alg,
        Error::AttestationAlgorithmMismatch,
    );
}

#[test]
fn attestation_certificate_must_parse() {
    let pki = TestPki::new([0x4b; 16]);
    let mut broken = pki.attestation.clone();
    broken.chain = vec![vec![0x30, 0x03, 0x02, 0x01, 0x01]];
    let auth = Authenticator {
        attestation: AttestationMode::Packed(broken),
        ..none_auth()
    };
    assert_eq!(
        register_tweaked(&auth, Algorithm::Es256, &Tweaks::default()).unwrap_err(),
        Error::MalformedAttestationCertificate
    );
}

fn register_with_cert(profile: &CertProfile) -> Result<VerifiedRegistration, Error> {
    let pki = TestPki::with_profile(profile);
    let auth = Authenticator {
        aaguid: [0x4b; 16],
        attestation: AttestationMode::Packed(pki.attestation),
        ..none_auth()
    };
    register_tweaked(&auth, Algorithm::Es256, &Tweaks::default())
}

#[test]
fn packed_certificate_requirements() {
    let good = CertProfile::compliant(Some([0x4b; 16]));
    register_with_cert(&good).unwrap();
    // The AAGUID extension is optional.
    register_with_cert(&CertProfile {
        aaguid: None,
        ..good.clone()
    })
    .unwrap();
    let s = |v: &str| Some(v.to_owned());
    let broken: Vec<(&str, CertProfile)> = vec![
        (
            "no C",
            CertProfile {
                country: None,
                ..good.clone()
            },
        ),
        (
            "C not a country code",
            CertProfile {
                country: s("AAA"),
                ..good.clone()
            },
        ),
        (
            "no O",
            CertProfile {
                organization: None,
                ..good.clone()
            },
        ),
        (
            "empty O",
            CertProfile {
                organization: s(""),
                ..good.clone()
            },
        ),
        (
            "no OU",
            CertProfile {
                organizational_unit: None,
                ..good.clone()
            },
        ),
        (
            "wrong OU",
            CertProfile {
                organizational_unit: s("Marketing"),
                ..good.clone()
            },
        ),
        (
            "no CN",
            CertProfile {
                common_name: None,
                ..good.clone()
            },
        ),
        (
            "empty CN",
            CertProfile {
                common_name: s(""),
                ..good.clone()
            },
        ),
        (
            "CA=true",
            CertProfile {
                basic_constraints_ca: Some(true),
                ..good.clone()
            },
        ),
        (
            "no basic constraints",
            CertProfile {
                basic_constraints_ca: None,
                ..good.clone()
            },
        ),
        (
            "critical AAGUID",
            CertProfile {
                aaguid_critical: true,
                ..good.clone()
            },
        ),
    ];
    for (name, profile) in broken {
        assert_eq!(
            register_with_cert(&profile).unwrap_err(),
            Error::AttestationCertificateRequirement,
            "{name}"
        );
    }
}

#[test]
fn packed_certificate_must_be_version_3() {
    let pki = TestPki::new([0x4b; 16]);
    let mut key = pki.attestation.clone();
    // The TBS starts with [0] EXPLICIT INTEGER 2 (v3); make it 1 (v2). The
    // signature statement still verifies: it is the attestation key's.
    let cert = &mut key.chain[0];
    let at = cert
        .windows(5)
        .position(|w| w == [0xa0, 0x03, 0x02, 0x01, 0x02])
        .unwrap();
    cert[at + 4] = 0x01;
    let auth = Authenticator {
        aaguid: [0x4b; 16],
        attestation: AttestationMode::Packed(key),
        ..none_auth()
    };
    assert_eq!(
        register_tweaked(&auth, Algorithm::Es256, &Tweaks::default()).unwrap_err(),
        Error::AttestationCertificateRequirement
    );
}

#[test]
fn packed_certificate_aaguid_must_match() {
    let pki = TestPki::new([0x22; 16]);
    let auth = Authenticator {
        aaguid: [0x33; 16],
        attestation: AttestationMode::Packed(pki.attestation.clone()),
        ..none_auth()
    };
    assert_eq!(
        register_tweaked(&auth, Algorithm::Es256, &Tweaks::default()).unwrap_err(),
        Error::AttestationAaguidMismatch
    );
    let matching = Authenticator {
        aaguid: [0x22; 16],
        ..auth
    };
    register_tweaked(&matching, Algorithm::Es256, &Tweaks::default()).unwrap();
}

#[test]
fn fido_u2f_rules() {
    let pki = TestPki::new([0; 16]);
    let auth = Authenticator {
        attestation: AttestationMode::FidoU2f(pki.attestation.clone()),
        ..none_auth()
    };
    // Credential keys other than P-256 are not U2F.
    assert_eq!(
        register_tweaked(&auth, Algorithm::Es384, &Tweaks::default()).unwrap_err(),
        Error::KeyAlgorithmMismatch
    );
    register_tweaked(&auth, Algorithm::Es256, &Tweaks::default()).unwrap();
    // x5c must hold exactly one certificate.
    let mut two = pki.attestation.clone();
    two.chain.push(pki.root_der.clone());
    let auth = Authenticator {
        attestation: AttestationMode::FidoU2f(two),
        ..none_auth()
    };
    // The authenticator only sends the first; add the second by hand.
    let result = with_attestation_object(&auth, |m| {
        for (k, v) in statement(m).iter_mut() {
            if k.as_text() == Some("x5c") {
                v.as_array_mut()
                    .unwrap()
                    .push(ciborium::Value::Bytes(pki.root_der.clone()));
            }
        }
    });
    assert_eq!(result.unwrap_err(), Error::MalformedAttestationStatement);
    // The certificate key must be P-256.
    let p384 = TestPki::with_leaf(
        &CertProfile::compliant(None),
        &rcgen::PKCS_ECDSA_P384_SHA384,
    );
    let auth = Authenticator {
        attestation: AttestationMode::FidoU2f(p384.attestation),
        ..none_auth()
    };
    assert_eq!(
        register_tweaked(&auth, Algorithm::Es256, &Tweaks::default()).unwrap_err(),
        Error::AttestationCertificateRequirement
    );
}

// --- gaps found by mutation testing (cargo mutants) ---

#[test]
fn ec2_coordinates_must_each_have_the_curve_length() {
    // A valid point split at the wrong place: 31-byte x, 33-byte y. The bytes
    // concatenated are a valid point, so only the per-coordinate length
    // check refuses it.
    let key = keybound_soft_authenticator::CredentialKey::generate(Algorithm::Es256);
    let point = key.ec_point().unwrap();
    let shifted = with_key(ec2(-7, 1, point[1..32].to_vec(), point[32..].to_vec()));
    expect(
        &none_auth(),
        Algorithm::Es256,
        shifted,
        Error::MalformedPublicKey,
    );
}

#[test]
fn rsa_algorithm_on_an_rsa_key_only() {
    // ES256 declared on an RSA key.
    let key = with_key(rsa_cose(-7, vec![0xc5; 256]));
    expect(
        &none_auth(),
        Algorithm::Rs256,
        key,
        Error::KeyAlgorithmMismatch,
    );
}

#[test]
fn rsa_modulus_bit_length_is_exact() {
    let modulus = |bytes: usize, top: u8| {
        let mut n = vec![0xc5; bytes];
        n[0] = top;
        with_key(rsa_cose(-257, n))
    };
    // 2047 bits (256 bytes, top bit clear) is too short...
    expect(
        &none_auth(),
        Algorithm::Rs256,
        modulus(256, 0x7f),
        Error::RsaKeySizeOutOfRange,
    );
    // ...4089 bits (512 bytes, top byte 0x01) is in range.
    register_tweaked(&none_auth(), Algorithm::Rs256, &modulus(512, 0x01)).unwrap();
}

#[test]
fn extensions_followed_by_garbage_are_trailing_bytes() {
    let mut ext = Vec::new();
    ciborium::into_writer(
        &ciborium::Value::Map(vec![("minPinLength".into(), 6.into())]),
        &mut ext,
    )
    .unwrap();
    let with_ext = Tweaks {
        extensions: Some(ext.clone()),
        ..Tweaks::default()
    };
    let reg = register_tweaked(&none_auth(), Algorithm::Es256, &with_ext).unwrap();
    assert_eq!(
        reg.authenticator_extensions.unwrap().min_pin_length,
        Some(6)
    );
    let trailing = Tweaks {
        extensions: Some(ext),
        auth_data_suffix: vec![0xf6],
        ..Tweaks::default()
    };
    expect(
        &none_auth(),
        Algorithm::Es256,
        trailing,
        Error::AuthenticatorDataTrailingBytes,
    );
}

#[test]
fn credential_public_keys_compare_by_their_cose_bytes() {
    let a = keybound_soft_authenticator::CredentialKey::generate(Algorithm::Es256);
    let b = keybound_soft_authenticator::CredentialKey::generate(Algorithm::Es256);
    let ka = CredentialPublicKey::from_cose(&a.cose_public_key()).unwrap();
    let ka2 = CredentialPublicKey::from_cose(&a.cose_public_key()).unwrap();
    let kb = CredentialPublicKey::from_cose(&b.cose_public_key()).unwrap();
    assert_eq!(ka, ka2);
    assert_ne!(ka, kb);
}

#[test]
fn formats_and_aaguids_have_their_spec_spelling() {
    assert_eq!(AttestationFormat::None.as_str(), "none");
    assert_eq!(AttestationFormat::Packed.as_str(), "packed");
    assert_eq!(AttestationFormat::FidoU2f.as_str(), "fido-u2f");
    let aaguid = Aaguid(core::array::from_fn(|i| i as u8 + 1));
    assert_eq!(aaguid.to_string(), "01020304-0506-0708-090a-0b0c0d0e0f10");
}

#[test]
fn packed_x5c_with_every_attestation_key_type() {
    let cases: [(&'static rcgen::SignatureAlgorithm, i64, i64, Error); 3] = [
        // P-384 key: ES384 verifies; ES256 names the wrong curve.
        (
            &rcgen::PKCS_ECDSA_P384_SHA384,
            -35,
            -7,
            Error::AttestationAlgorithmMismatch,
        ),
        // RSA key: RS256 verifies; PS256 over a PKCS#1 v1.5 signature does not.
        (
            &rcgen::PKCS_RSA_SHA256,
            -257,
            -37,
            Error::AttestationSignatureInvalid,
        ),
        // Ed25519 key: EdDSA verifies; ES256 names the wrong key type.
        (
            &rcgen::PKCS_ED25519,
            -8,
            -7,
            Error::AttestationAlgorithmMismatch,
        ),
    ];
    for (leaf, alg, wrong_alg, wrong_err) in cases {
        let pki = TestPki::with_leaf(&CertProfile::compliant(Some([0x4b; 16])), leaf);
        let auth = Authenticator {
            aaguid: [0x4b; 16],
            attestation: AttestationMode::Packed(pki.attestation),
            ..none_auth()
        };
        let with_alg = |a: i64| Tweaks {
            attestation_alg: Some(a),
            ..Tweaks::default()
        };
        register_tweaked(&auth, Algorithm::Es256, &with_alg(alg)).unwrap();
        assert_eq!(
            register_tweaked(&auth, Algorithm::Es256, &with_alg(wrong_alg)).unwrap_err(),
            wrong_err,
            "{alg} key with {wrong_alg}"
        );
    }
    // EdDSA claimed for a P-256 certificate key.
    let p256 = Authenticator {
        attestation: AttestationMode::Packed(TestPki::new([0x4b; 16]).attestation),
        ..none_auth()
    };
    let eddsa = Tweaks {
        attestation_alg: Some(-8),
        ..Tweaks::default()
    };
    expect(
        &p256,
        Algorithm::Es256,
        eddsa,
        Error::AttestationAlgorithmMismatch,
    );
}
