//! Creation and request options serialise in the WebAuthn L3 JSON shape.

use keybound_webauthn::*;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use serde_json::json;

fn creation(seed: u64) -> PublicKeyCredentialCreationOptions {
    PublicKeyCredentialCreationOptions::new(
        PublicKeyCredentialRpEntity {
            id: "example.com".into(),
            name: "Example".into(),
        },
        PublicKeyCredentialUserEntity {
            id: vec![1, 2, 3, 4],
            name: "ada@example.com".into(),
            display_name: "Ada".into(),
        },
        &CoseAlgorithm::ALL,
        &mut ChaCha20Rng::seed_from_u64(seed),
    )
}

#[test]
fn challenge_comes_from_the_callers_rng() {
    let mut expected = [0u8; 32];
    ChaCha20Rng::seed_from_u64(7).fill_bytes(&mut expected);
    assert_eq!(creation(7).challenge, expected);
    assert_ne!(creation(7).challenge, creation(8).challenge);
    let request =
        PublicKeyCredentialRequestOptions::new("example.com", &mut ChaCha20Rng::seed_from_u64(7));
    assert_eq!(request.challenge, expected);
    assert_eq!(request.challenge.len(), CHALLENGE_LEN);
}

#[test]
fn creation_options_json_shape() {
    let mut options = creation(1);
    options.exclude_credentials = vec![PublicKeyCredentialDescriptor::new(
        vec![0xfb; 3],
        vec!["usb".into()],
    )];
    options.authenticator_selection = Some(AuthenticatorSelectionCriteria {
        authenticator_attachment: Some(AuthenticatorAttachment::CrossPlatform),
        resident_key: Some(ResidentKeyRequirement::Required),
        require_resident_key: true,
        user_verification: UserVerificationRequirement::Required,
    });
    options.attestation = AttestationConveyancePreference::Direct;
    options.hints = vec![PublicKeyCredentialHint::SecurityKey];
    options.timeout = Some(300_000);
    let v = serde_json::to_value(&options).unwrap();
    assert_eq!(v["rp"], json!({"id": "example.com", "name": "Example"}));
    assert_eq!(
        v["user"],
        json!({"id": "AQIDBA", "name": "ada@example.com", "displayName": "Ada"})
    );
    assert_eq!(
        v["challenge"].as_str().unwrap().len(),
        43,
        "32 bytes, unpadded"
    );
    let algs: Vec<i64> = v["pubKeyCredParams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            assert_eq!(p["type"], "public-key");
            p["alg"].as_i64().unwrap()
        })
        .collect();
    assert_eq!(algs, [-7, -8, -35, -36, -37, -38, -39, -257, -258, -259]);
    assert_eq!(
        v["excludeCredentials"],
        json!([{"type": "public-key", "id": "-_v7", "transports": ["usb"]}])
    );
    assert_eq!(
        v["authenticatorSelection"],
        json!({
            "authenticatorAttachment": "cross-platform",
            "residentKey": "required",
            "requireResidentKey": true,
            "userVerification": "required"
        })
    );
    assert_eq!(v["attestation"], "direct");
    assert_eq!(v["hints"], json!(["security-key"]));
    assert_eq!(v["timeout"], 300_000);
    // Round-trips through its own JSON.
    let back: PublicKeyCredentialCreationOptions = serde_json::from_value(v).unwrap();
    assert_eq!(back, options);
    assert_eq!(back.algorithms(), CoseAlgorithm::ALL);
}

#[test]
fn request_options_json_shape() {
    let mut request =
        PublicKeyCredentialRequestOptions::new("example.com", &mut ChaCha20Rng::seed_from_u64(3));
    let v = serde_json::to_value(&request).unwrap();
    assert_eq!(v["rpId"], "example.com");
    assert_eq!(v["userVerification"], "preferred");
    assert!(
        v.get("allowCredentials").is_none(),
        "username-less: no allow list"
    );
    request.allow_credentials = vec![PublicKeyCredentialDescriptor::new(vec![9; 2], vec![])];
    request.user_verification = UserVerificationRequirement::Discouraged;
    request.hints = vec![
        PublicKeyCredentialHint::ClientDevice,
        PublicKeyCredentialHint::Hybrid,
    ];
    let v = serde_json::to_value(&request).unwrap();
    assert_eq!(
        v["allowCredentials"],
        json!([{"type": "public-key", "id": "CQk"}])
    );
    assert_eq!(v["userVerification"], "discouraged");
    assert_eq!(v["hints"], json!(["client-device", "hybrid"]));
    assert_eq!(request.allowed_credential_ids(), vec![vec![9, 9]]);
}

#[test]
fn unknown_algorithms_do_not_deserialise() {
    let v = json!({"type": "public-key", "alg": -47});
    assert!(serde_json::from_value::<PublicKeyCredentialParameters>(v).is_err());
}
