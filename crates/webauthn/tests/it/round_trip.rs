//! Fresh registrations and assertions for every algorithm and format.

use crate::support::*;
use keybound_soft_authenticator::{Algorithm, AttestationMode, Authenticator, Ceremony, TestPki};
use keybound_webauthn::*;

fn round_trip(auth: &Authenticator, alg: Algorithm, rp: &Rp) -> VerifiedRegistration {
    let c = challenge();
    let ceremony = ceremony(&c);
    let (mut cred, json) = auth.register(alg, &ceremony, USER);
    let reg = rp
        .register(&c, &json)
        .unwrap_or_else(|e| panic!("{alg:?}: registration refused: {e}"));
    assert_eq!(reg.algorithm().id(), alg.cose_id());
    assert_eq!(reg.credential_id, cred.id);
    assert_eq!(reg.aaguid.0, auth.aaguid);
    assert_eq!(reg.transports, ["internal", "hybrid"]);
    assert!(reg.user_verified);
    let mut stored = Stored::from(&reg);
    // Two sign-ins, by name (allow list) and username-less (empty list).
    for allowed in [vec![stored.id.clone()], vec![]] {
        let c = challenge();
        let ceremony = Ceremony {
            challenge: &c,
            ..ceremony
        };
        let json = auth.assert(&mut cred, &ceremony);
        let ok = rp
            .authenticate(&c, &json, &stored, &allowed)
            .unwrap_or_else(|e| panic!("{alg:?}: assertion refused: {e}"));
        assert_eq!(ok.sign_count, cred.sign_count);
        stored.sign_count = ok.sign_count;
    }
    reg
}

#[test]
fn every_algorithm_round_trips_with_none_attestation() {
    let auth = Authenticator::default();
    for alg in Algorithm::ALL {
        let reg = round_trip(&auth, alg, &Rp::default());
        assert_eq!(reg.attestation.format, AttestationFormat::None);
        assert_eq!(reg.attestation.attestation_type, AttestationType::None);
    }
}

#[test]
fn every_algorithm_round_trips_with_packed_self_attestation() {
    let auth = Authenticator {
        attestation: AttestationMode::PackedSelf,
        ..Authenticator::default()
    };
    for alg in Algorithm::ALL {
        let reg = round_trip(&auth, alg, &Rp::default());
        assert_eq!(reg.attestation.format, AttestationFormat::Packed);
        assert_eq!(
            reg.attestation.attestation_type,
            AttestationType::SelfAttestation
        );
        assert_eq!(reg.attestation.trust, AttestationTrust::NotApplicable);
    }
}

#[test]
fn every_algorithm_round_trips_with_packed_x5c_attestation() {
    let aaguid = [0x11; 16];
    let pki = TestPki::new(aaguid);
    let auth = Authenticator {
        aaguid,
        attestation: AttestationMode::Packed(pki.attestation.clone()),
        ..Authenticator::default()
    };
    let rp = Rp {
        anchors: TrustAnchors::new([pki.root_der.clone()], 1_800_000_000).unwrap(),
        ..Rp::default()
    };
    for alg in Algorithm::ALL {
        let reg = round_trip(&auth, alg, &rp);
        assert_eq!(reg.attestation.attestation_type, AttestationType::Basic);
        let AttestationTrust::Verified { chain } = &reg.attestation.trust else {
            panic!("{alg:?}: chain not verified: {:?}", reg.attestation.trust);
        };
        assert_eq!(
            chain,
            &[pki.attestation.chain[0].clone(), pki.root_der.clone()]
        );
    }
}

#[test]
fn fido_u2f_round_trips() {
    let pki = TestPki::new([0; 16]);
    let auth = Authenticator {
        aaguid: [0; 16],
        attestation: AttestationMode::FidoU2f(pki.attestation.clone()),
        user_verified: false,
        ..Authenticator::default()
    };
    let rp = Rp {
        anchors: TrustAnchors::new([pki.root_der.clone()], 1_800_000_000).unwrap(),
        uv: UserVerificationRequirement::Discouraged,
        ..Rp::default()
    };
    let c = challenge();
    let ceremony = ceremony(&c);
    let (mut cred, json) = auth.register(Algorithm::Es256, &ceremony, USER);
    let reg = rp.register(&c, &json).unwrap();
    assert_eq!(reg.attestation.format, AttestationFormat::FidoU2f);
    assert!(matches!(
        reg.attestation.trust,
        AttestationTrust::Verified { .. }
    ));
    assert!(!reg.user_verified);
    let stored = Stored::from(&reg);
    let c = challenge();
    let json = auth.assert(
        &mut cred,
        &Ceremony {
            challenge: &c,
            ..ceremony
        },
    );
    rp.authenticate(&c, &json, &stored, std::slice::from_ref(&stored.id))
        .unwrap();
}

#[test]
fn synced_passkey_with_zero_counter_and_changing_backup_state() {
    let auth = Authenticator {
        backup_eligible: true,
        backup_state: true,
        counter: false,
        ..Authenticator::default()
    };
    let (mut cred, mut stored) = enrolled(&auth);
    assert!(stored.backup_eligible);
    for _ in 0..2 {
        let ok = assert_tweaked(
            &Rp::default(),
            &auth,
            &mut cred,
            &stored,
            &Default::default(),
        )
        .unwrap();
        assert_eq!(ok.sign_count, 0);
        assert!(ok.backup_state);
        stored.sign_count = ok.sign_count;
    }
    // BS may change between ceremonies and is reported.
    let unsynced = Authenticator {
        backup_state: false,
        ..auth
    };
    let ok = assert_tweaked(
        &Rp::default(),
        &unsynced,
        &mut cred,
        &stored,
        &Default::default(),
    )
    .unwrap();
    assert!(!ok.backup_state);
    assert!(ok.backup_eligible);
}

#[test]
fn extensions_are_parsed_and_reported() {
    let auth = Authenticator::default();
    let mut ext = Vec::new();
    ciborium::into_writer(
        &ciborium::Value::Map(vec![
            ("credProtect".into(), 2.into()),
            ("hmac-secret".into(), true.into()),
        ]),
        &mut ext,
    )
    .unwrap();
    let tweaks = keybound_soft_authenticator::Tweaks {
        extensions: Some(ext.clone()),
        ..Default::default()
    };
    let reg = register_tweaked(&auth, Algorithm::Es256, &tweaks).unwrap();
    let outputs = reg.authenticator_extensions.unwrap();
    assert_eq!(outputs.cred_protect, Some(2));
    assert_eq!(outputs.hmac_secret, Some(true));
    assert_eq!(outputs.raw, ext);
    assert_eq!(
        reg.client_extension_results["credProps"]["rk"],
        serde_json::json!(true)
    );
}

#[test]
fn get_client_extension_results_spelling_is_accepted() {
    let auth = Authenticator::default();
    let c = challenge();
    let ceremony = ceremony(&c);
    let (_, mut json) = auth.register(Algorithm::Es256, &ceremony, USER);
    let results = json["clientExtensionResults"].take();
    json.as_object_mut()
        .unwrap()
        .remove("clientExtensionResults");
    json["getClientExtensionResults"] = results;
    json["unknownMember"] = serde_json::json!({"ignored": true});
    let reg = Rp::default().register(&c, &json).unwrap();
    assert_eq!(reg.client_extension_results["credProps"]["rk"], true);
}

#[test]
fn subdomain_origins_only_when_configured() {
    let auth = Authenticator::default();
    let c = challenge();
    let ceremony = Ceremony {
        rp_id: RP_ID,
        origin: "https://eu.login.example.com",
        challenge: &c,
    };
    let (_, json) = auth.register(Algorithm::Es256, &ceremony, USER);
    assert_eq!(
        Rp::default().register(&c, &json).unwrap_err(),
        Error::OriginMismatch
    );
    let rp = Rp {
        origins: OriginPolicy::exact([ORIGIN])
            .unwrap()
            .allow_subdomains_of("https://login.example.com")
            .unwrap(),
        ..Rp::default()
    };
    rp.register(&c, &json).unwrap();
    // A look-alike host is not a subdomain.
    let c = challenge();
    let (_, json) = auth.register(
        Algorithm::Es256,
        &Ceremony {
            origin: "https://evillogin.example.com",
            challenge: &c,
            ..ceremony
        },
        USER,
    );
    assert_eq!(rp.register(&c, &json).unwrap_err(), Error::OriginMismatch);
}
