//! One test per sign-in check (§7.2), each with its accepted control.

use crate::support::*;
use keybound_soft_authenticator::{b64, Authenticator, Ceremony, Tweaks};
use keybound_webauthn::*;
use serde_json::json;

fn check(tweaks: Tweaks, err: Error) {
    let auth = Authenticator::default();
    let (mut cred, stored) = enrolled(&auth);
    assert_eq!(
        assert_tweaked(&Rp::default(), &auth, &mut cred, &stored, &tweaks).unwrap_err(),
        err
    );
    assert_tweaked(
        &Rp::default(),
        &auth,
        &mut cred,
        &stored,
        &Tweaks::default(),
    )
    .unwrap();
}

/// Runs an assertion whose JSON is edited before verification.
fn with_json(
    edit: impl FnOnce(&mut serde_json::Value),
    allowed: Option<Vec<Vec<u8>>>,
) -> Result<VerifiedAuthentication, Error> {
    let auth = Authenticator::default();
    let (mut cred, stored) = enrolled(&auth);
    let c = challenge();
    let mut json = auth.assert(&mut cred, &ceremony(&c));
    edit(&mut json);
    let allowed = allowed.unwrap_or_else(|| vec![stored.id.clone()]);
    Rp::default().authenticate(&c, &json, &stored, &allowed)
}

#[test]
fn envelope_checks() {
    with_json(|_| {}, None).unwrap();
    assert_eq!(
        with_json(|j| j["type"] = json!("otp"), None).unwrap_err(),
        Error::CredentialTypeMismatch
    );
    assert_eq!(
        with_json(|j| j["id"] = json!(b64(b"x")), None).unwrap_err(),
        Error::CredentialIdMismatch
    );
    assert_eq!(
        with_json(|j| j["response"]["signature"] = json!("%%%"), None).unwrap_err(),
        Error::InvalidBase64
    );
    assert_eq!(
        with_json(|j| j["response"] = json!(7), None).unwrap_err(),
        Error::MalformedResponse
    );
}

#[test]
fn credential_must_be_allowed() {
    assert_eq!(
        with_json(|_| {}, Some(vec![b"some other credential".to_vec()])).unwrap_err(),
        Error::CredentialNotAllowed
    );
}

#[test]
fn credential_must_be_the_stored_one() {
    let auth = Authenticator::default();
    let (mut cred, _) = enrolled(&auth);
    let (_, other) = enrolled(&auth);
    let c = challenge();
    let json = auth.assert(&mut cred, &ceremony(&c));
    assert_eq!(
        Rp::default()
            .authenticate(&c, &json, &other, &[])
            .unwrap_err(),
        Error::UnknownCredential
    );
}

#[test]
fn user_handle_must_match_its_owner() {
    check(
        Tweaks {
            user_handle: Some(Some(b"someone-else".to_vec())),
            ..Tweaks::default()
        },
        Error::UserHandleMismatch,
    );
}

#[test]
fn username_less_sign_in_needs_a_user_handle() {
    let without_handle = |j: &mut serde_json::Value| j["response"]["userHandle"] = json!(null);
    assert_eq!(
        with_json(without_handle, Some(vec![])).unwrap_err(),
        Error::UserHandleMissing
    );
    // With an allow list the user was identified first, so it may be absent.
    with_json(without_handle, None).unwrap();
    // An empty string counts as absent.
    assert_eq!(
        with_json(|j| j["response"]["userHandle"] = json!(""), Some(vec![])).unwrap_err(),
        Error::UserHandleMissing
    );
}

#[test]
fn client_data_checks() {
    check(
        Tweaks {
            client_data_type: Some("webauthn.create".into()),
            ..Tweaks::default()
        },
        Error::ClientDataTypeMismatch,
    );
    check(
        Tweaks {
            client_data_json: Some(b"[]".to_vec()),
            ..Tweaks::default()
        },
        Error::MalformedClientData,
    );
    check(
        Tweaks {
            cross_origin: Some(true),
            ..Tweaks::default()
        },
        Error::CrossOriginNotAllowed,
    );
    check(
        Tweaks {
            top_origin: Some("https://frame.example".into()),
            ..Tweaks::default()
        },
        Error::TopOriginNotAllowed,
    );
}

#[test]
fn challenge_and_origin_must_match() {
    let auth = Authenticator::default();
    let (mut cred, stored) = enrolled(&auth);
    let c = challenge();
    let json = auth.assert(&mut cred, &ceremony(&c));
    let ids = [stored.id.clone()];
    assert_eq!(
        Rp::default()
            .authenticate(&challenge(), &json, &stored, &ids)
            .unwrap_err(),
        Error::ChallengeMismatch
    );
    let c2 = challenge();
    let json = auth.assert(
        &mut cred,
        &Ceremony {
            rp_id: RP_ID,
            origin: "https://login.example.co",
            challenge: &c2,
        },
    );
    assert_eq!(
        Rp::default()
            .authenticate(&c2, &json, &stored, &ids)
            .unwrap_err(),
        Error::OriginMismatch
    );
}

#[test]
fn authenticator_data_checks() {
    check(
        Tweaks {
            rp_id_hash_of: Some("example.org".into()),
            ..Tweaks::default()
        },
        Error::RpIdHashMismatch,
    );
    check(
        Tweaks {
            flags: Some(0x04),
            ..Tweaks::default()
        },
        Error::UserNotPresent,
    );
    check(
        Tweaks {
            flags: Some(0x01 | 0x10),
            ..Tweaks::default()
        },
        Error::BackupStateWithoutEligibility,
    );
    check(
        Tweaks {
            auth_data_suffix: vec![0xa0],
            ..Tweaks::default()
        },
        Error::AuthenticatorDataTrailingBytes,
    );
    assert_eq!(
        with_json(
            |j| j["response"]["authenticatorData"] = json!(b64(&[0; 36])),
            None
        )
        .unwrap_err(),
        Error::MalformedAuthenticatorData
    );
}

#[test]
fn user_verification_when_required() {
    let auth = Authenticator {
        user_verified: false,
        ..Authenticator::default()
    };
    let (mut cred, stored) = enrolled(&auth);
    let required = Rp {
        uv: UserVerificationRequirement::Required,
        ..Rp::default()
    };
    assert_eq!(
        assert_tweaked(&required, &auth, &mut cred, &stored, &Tweaks::default()).unwrap_err(),
        Error::UserNotVerified
    );
    let ok = assert_tweaked(
        &Rp::default(),
        &auth,
        &mut cred,
        &stored,
        &Tweaks::default(),
    )
    .unwrap();
    assert!(!ok.user_verified);
}

#[test]
fn signature_must_verify() {
    check(
        Tweaks {
            corrupt_signature: true,
            ..Tweaks::default()
        },
        Error::SignatureInvalid,
    );
}

/// DER `SEQUENCE { INTEGER r, INTEGER s }` from big-endian magnitudes.
fn der_sig(r: &[u8], s: &[u8]) -> Vec<u8> {
    fn int(v: &[u8]) -> Vec<u8> {
        let mut body = v.to_vec();
        if body.first().is_none_or(|b| b & 0x80 != 0) {
            body.insert(0, 0);
        }
        let mut out = vec![0x02, body.len() as u8];
        out.extend(body);
        out
    }
    let mut inner = int(r);
    inner.extend(int(s));
    let mut out = vec![0x30, inner.len() as u8];
    out.extend(inner);
    out
}

#[test]
fn ecdsa_signatures_with_out_of_range_values_are_refused() {
    // The order n of P-256.
    let n =
        hex::decode("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551").unwrap();
    let one = [1u8];
    let zero = [0u8];
    let mut n_plus_1 = n.clone();
    n_plus_1[31] += 1;
    let too_long = vec![0xff; 33];
    for (name, sig) in [
        ("r=0", der_sig(&zero, &one)),
        ("s=0", der_sig(&one, &zero)),
        ("r=n", der_sig(&n, &one)),
        ("s=n", der_sig(&one, &n)),
        ("s=n+1", der_sig(&one, &n_plus_1)),
        ("r>2^256", der_sig(&too_long, &one)),
        ("empty", vec![]),
        ("raw 64 bytes", vec![1; 64]),
    ] {
        let tweaks = Tweaks {
            signature: Some(sig),
            ..Tweaks::default()
        };
        let auth = Authenticator::default();
        let (mut cred, stored) = enrolled(&auth);
        assert_eq!(
            assert_tweaked(&Rp::default(), &auth, &mut cred, &stored, &tweaks).unwrap_err(),
            Error::SignatureInvalid,
            "{name}"
        );
    }
}

#[test]
fn non_canonical_der_is_refused() {
    let auth = Authenticator::default();
    let (mut cred, stored) = enrolled(&auth);
    // Capture a valid signature, then re-encode its length in long form.
    let c = challenge();
    let ceremony = ceremony(&c);
    let mut json = auth.assert(&mut cred, &ceremony);
    let sig =
        keybound_webauthn::b64::decode(json["response"]["signature"].as_str().unwrap()).unwrap();
    let mut ber = vec![0x30, 0x81];
    ber.extend_from_slice(&sig[1..]);
    json["response"]["signature"] = json!(b64(&ber));
    let ids = [stored.id.clone()];
    assert_eq!(
        Rp::default()
            .authenticate(&c, &json, &stored, &ids)
            .unwrap_err(),
        Error::SignatureInvalid
    );
    json["response"]["signature"] = json!(b64(&sig));
    Rp::default()
        .authenticate(&c, &json, &stored, &ids)
        .unwrap();
}

#[test]
fn backup_eligibility_must_not_change() {
    let auth = Authenticator::default();
    let (mut cred, stored) = enrolled(&auth);
    let now_eligible = Authenticator {
        backup_eligible: true,
        ..Authenticator::default()
    };
    assert_eq!(
        assert_tweaked(
            &Rp::default(),
            &now_eligible,
            &mut cred,
            &stored,
            &Tweaks::default()
        )
        .unwrap_err(),
        Error::BackupEligibilityChanged
    );
}

#[test]
fn counter_must_increase() {
    let auth = Authenticator::default();
    let (mut cred, mut stored) = enrolled(&auth);
    stored.sign_count = 5;
    for (reported, name) in [(3, "went back"), (5, "stood still"), (0, "reset to zero")] {
        let tweaks = Tweaks {
            sign_count: Some(reported),
            ..Tweaks::default()
        };
        assert_eq!(
            assert_tweaked(&Rp::default(), &auth, &mut cred, &stored, &tweaks).unwrap_err(),
            Error::CloneSuspected {
                stored: 5,
                received: reported
            },
            "{name}"
        );
    }
    let tweaks = Tweaks {
        sign_count: Some(6),
        ..Tweaks::default()
    };
    let ok = assert_tweaked(&Rp::default(), &auth, &mut cred, &stored, &tweaks).unwrap();
    assert_eq!(ok.sign_count, 6);
}

#[test]
fn zero_and_zero_is_fine() {
    let auth = Authenticator {
        counter: false,
        ..Authenticator::default()
    };
    let (mut cred, stored) = enrolled(&auth);
    assert_eq!(stored.sign_count, 0);
    let ok = assert_tweaked(
        &Rp::default(),
        &auth,
        &mut cred,
        &stored,
        &Tweaks::default(),
    )
    .unwrap();
    assert_eq!(ok.sign_count, 0);
}

#[test]
fn clone_suspicion_needs_a_valid_signature() {
    let auth = Authenticator::default();
    let (mut cred, mut stored) = enrolled(&auth);
    stored.sign_count = 5;
    let forged = Tweaks {
        sign_count: Some(1),
        corrupt_signature: true,
        ..Tweaks::default()
    };
    assert_eq!(
        assert_tweaked(&Rp::default(), &auth, &mut cred, &stored, &forged).unwrap_err(),
        Error::SignatureInvalid
    );
}
