//! Hostile bytes: truncations, bit flips, deep nesting and absurd lengths
//! must produce errors, never panics or huge allocations.

use crate::support::*;
use keybound_soft_authenticator::{
    b64, AndroidKeyProfile, AppleProfile, AttestationMode, Authenticator, SafetyNetProfile, TestCa,
    TestPki, TpmProfile,
};
use keybound_webauthn::*;
use serde_json::json;

fn registration_json(auth: &Authenticator, c: &[u8]) -> serde_json::Value {
    auth.register(
        keybound_soft_authenticator::Algorithm::Es256,
        &ceremony(c),
        USER,
    )
    .1
}

fn field(json: &serde_json::Value, name: &str) -> Vec<u8> {
    keybound_webauthn::b64::decode(json["response"][name].as_str().unwrap()).unwrap()
}

/// A deterministic xorshift stream, so a failure names a reproducible case.
struct Xorshift(u64);
impl Xorshift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn every_truncation_and_bit_flip_of_an_attestation_object_is_an_error() {
    let pki = TestPki::new([0x4b; 16]);
    let ca = TestCa::new("hostile test root");
    const NOW: u64 = 1_800_000_000;
    for mode in [
        AttestationMode::None,
        AttestationMode::Packed(pki.attestation.clone()),
        AttestationMode::Tpm(TpmProfile::new(ca.clone())),
        AttestationMode::AndroidKey(AndroidKeyProfile::new(ca.clone())),
        AttestationMode::Apple(AppleProfile::new(ca.clone())),
        AttestationMode::SafetyNet(SafetyNetProfile::new(ca.clone(), NOW * 1000)),
        AttestationMode::Compound(vec![
            AttestationMode::Packed(pki.attestation.clone()),
            AttestationMode::Apple(AppleProfile::new(ca.clone())),
        ]),
    ] {
        let auth = Authenticator {
            attestation: mode,
            ..Authenticator::default()
        };
        let c = challenge();
        let json = registration_json(&auth, &c);
        let original = field(&json, "attestationObject");
        let rp = Rp {
            anchors: TrustAnchors::new([ca.root_der.clone()], NOW).unwrap(),
            ..Rp::default()
        };
        rp.register(&c, &json).unwrap();
        for len in 0..original.len() {
            let mut j = json.clone();
            j["response"]["attestationObject"] = json!(b64(&original[..len]));
            assert!(rp.register(&c, &j).is_err(), "truncated to {len}");
        }
        let mut rng = Xorshift(0x9e37_79b9_7f4a_7c15);
        for _ in 0..2000 {
            let mut bytes = original.clone();
            let at = (rng.next() as usize) % bytes.len();
            bytes[at] ^= 1 << (rng.next() % 8);
            let mut j = json.clone();
            j["response"]["attestationObject"] = json!(b64(&bytes));
            // Some flips land in unchecked bytes (e.g. the AAGUID with
            // `none`); the point is that nothing panics.
            let _ = rp.register(&c, &j);
        }
    }
}

#[test]
fn every_truncation_of_authenticator_data_in_an_assertion_is_an_error() {
    let auth = Authenticator::default();
    let (mut cred, stored) = enrolled(&auth);
    let c = challenge();
    let json = auth.assert(&mut cred, &ceremony(&c));
    let data = field(&json, "authenticatorData");
    for len in 0..data.len() {
        let mut j = json.clone();
        j["response"]["authenticatorData"] = json!(b64(&data[..len]));
        assert!(Rp::default().authenticate(&c, &j, &stored, &[]).is_err());
    }
}

#[test]
fn random_bytes_in_every_binary_field_are_errors() {
    let auth = Authenticator::default();
    let c = challenge();
    let json = registration_json(&auth, &c);
    let mut rng = Xorshift(42);
    for round in 0..3000 {
        let len = (rng.next() % 300) as usize;
        let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        let name = ["clientDataJSON", "attestationObject"][round % 2];
        let mut j = json.clone();
        j["response"][name] = json!(b64(&bytes));
        assert!(Rp::default().register(&c, &j).is_err());
        let _ = AuthenticatorData::parse(&bytes);
        let _ = CredentialPublicKey::from_cose(&bytes);
    }
}

#[test]
fn deeply_nested_cbor_is_refused_without_overflowing_the_stack() {
    let mut nested = vec![0x81u8; 100_000]; // array(1) of array(1) of ...
    nested.push(0x00);
    assert!(CredentialPublicKey::from_cose(&nested).is_err());
    let c = challenge();
    let mut json = registration_json(&Authenticator::default(), &c);
    json["response"]["attestationObject"] = json!(b64(&nested));
    assert_eq!(
        Rp::default().register(&c, &json).unwrap_err(),
        Error::MalformedAttestationObject
    );
    // The same inside authenticator-data extensions.
    let mut auth_data = vec![0u8; 32];
    auth_data.push(0x81);
    auth_data.extend_from_slice(&[0, 0, 0, 1]);
    auth_data.extend_from_slice(&nested);
    assert_eq!(
        AuthenticatorData::parse(&auth_data).unwrap_err(),
        Error::MalformedExtensions
    );
}

#[test]
fn absurd_declared_lengths_are_refused_without_allocating_them() {
    // A byte string claiming 2^62 bytes, an array claiming 2^62 items,
    // a map claiming 2^32 entries.
    for header in [
        vec![0x5b, 0x40, 0, 0, 0, 0, 0, 0, 0],
        vec![0x9b, 0x40, 0, 0, 0, 0, 0, 0, 0],
        vec![0xba, 0xff, 0xff, 0xff, 0xff],
    ] {
        assert!(CredentialPublicKey::from_cose(&header).is_err());
        let mut auth_data = vec![0u8; 32];
        auth_data.push(0x81);
        auth_data.extend_from_slice(&[0, 0, 0, 1]);
        auth_data.extend_from_slice(&header);
        assert!(AuthenticatorData::parse(&auth_data).is_err());
    }
}

#[test]
fn hostile_json_is_an_error() {
    let deep = "[".repeat(100_000);
    for doc in [
        "",
        "null",
        "{}",
        "[]",
        deep.as_str(),
        "{\"id\":1}",
        "{\"id\":\"AA\",\"rawId\":\"AA\",\"type\":\"public-key\",\"response\":{}}",
    ] {
        assert!(RegistrationResponse::from_json(doc.as_bytes()).is_err());
        assert!(AuthenticationResponse::from_json(doc.as_bytes()).is_err());
    }
}

#[test]
fn hostile_client_data_is_an_error() {
    let c = challenge();
    let origins = OriginPolicy::exact([ORIGIN]).unwrap();
    let expectation = RegistrationExpectation {
        challenge: &c,
        rp_id: RP_ID,
        origins: &origins,
        algorithms: &CoseAlgorithm::ALL,
        user_verification: UserVerificationRequirement::Preferred,
        trust_anchors: &TrustAnchors::none(),
        allow_sha1_tpm_attestation: true,
    };
    let json = registration_json(&Authenticator::default(), &c);
    let good = RegistrationResponse::from_json(json.to_string().as_bytes()).unwrap();
    for cdj in [
        &b"\xff\xfe"[..],
        b"{\"type\":\"webauthn.create\",\"challenge\":5,\"origin\":\"x\"}",
        b"{\"type\":\"webauthn.create\",\"challenge\":\"!!\",\"origin\":\"x\"}",
        b"{\"type\":\"webauthn.create\",\"origin\":\"https://login.example.com\"}",
    ] {
        let response = RegistrationResponse {
            client_data_json: cdj.to_vec(),
            ..good.clone()
        };
        assert_eq!(
            verify_registration(&expectation, response).unwrap_err(),
            Error::MalformedClientData
        );
    }
}

#[test]
fn challenge_of_reads_only_the_challenge() {
    let c = challenge();
    let json = registration_json(&Authenticator::default(), &c);
    assert_eq!(challenge_of(&field(&json, "clientDataJSON")).unwrap(), c);
    for bad in [&b"{}"[..], b"{\"challenge\":\"***\"}", b"\xff"] {
        assert_eq!(challenge_of(bad).unwrap_err(), Error::MalformedClientData);
    }
}
