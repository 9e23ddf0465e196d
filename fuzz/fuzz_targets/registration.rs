//! Registration verification on arbitrary bytes: the attestation object, the
//! client data, or the whole RegistrationResponseJSON.
#![no_main]

use keybound_fuzz::*;
use keybound_webauthn::*;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

struct Rp {
    origins: OriginPolicy,
    anchors: TrustAnchors,
}

fn rp() -> &'static Rp {
    static RP: OnceLock<Rp> = OnceLock::new();
    RP.get_or_init(|| Rp {
        origins: OriginPolicy::exact([ORIGIN]).unwrap(),
        anchors: TrustAnchors::new(
            [keybound_soft_authenticator::TestPki::new([0x4b; 16]).root_der],
            1_800_000_000,
        )
        .unwrap(),
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((mode, rest)) = split(data) else {
        return;
    };
    let rp = rp();
    let expectation = RegistrationExpectation {
        challenge: &CHALLENGE,
        rp_id: RP_ID,
        origins: &rp.origins,
        algorithms: &CoseAlgorithm::ALL,
        user_verification: UserVerificationRequirement::Preferred,
        trust_anchors: &rp.anchors,
        allow_sha1_tpm_attestation: true,
    };
    let response = |client_data_json: &[u8], attestation_object: &[u8]| RegistrationResponse {
        raw_id: b"fuzz".to_vec(),
        client_data_json: client_data_json.to_vec(),
        attestation_object: attestation_object.to_vec(),
        transports: vec![],
        authenticator_attachment: None,
        client_extension_results: Default::default(),
    };
    match mode % 4 {
        0 => {
            let r = response(&good_client_data("webauthn.create"), rest);
            let _ = verify_registration(&expectation, r);
        }
        1 => {
            let r = response(rest, &[0xa0]);
            let _ = verify_registration(&expectation, r);
        }
        2 => {
            let _ = verify_registration_json(&expectation, rest);
        }
        _ => {
            let _ = AuthenticatorData::parse(rest);
        }
    }
});
