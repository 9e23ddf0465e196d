//! Sign-in verification on arbitrary bytes: authenticator data, client data,
//! signature, the stored COSE key, or the whole AuthenticationResponseJSON.
#![no_main]

use keybound_fuzz::*;
use keybound_webauthn::*;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

struct Fixture {
    origins: OriginPolicy,
    key: CredentialPublicKey,
    response: AuthenticationResponse,
}

/// A genuine credential and response; each input replaces one part of it.
fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let auth = keybound_soft_authenticator::Authenticator::default();
        let ceremony = keybound_soft_authenticator::Ceremony {
            rp_id: RP_ID,
            origin: ORIGIN,
            challenge: &CHALLENGE,
        };
        let (mut cred, _) = auth.register(
            keybound_soft_authenticator::Algorithm::Es256,
            &ceremony,
            USER,
        );
        let json = auth.assert(&mut cred, &ceremony);
        Fixture {
            origins: OriginPolicy::exact([ORIGIN]).unwrap(),
            key: CredentialPublicKey::from_cose(&cred.key.cose_public_key()).unwrap(),
            response: AuthenticationResponse::from_json(json.to_string().as_bytes()).unwrap(),
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((mode, rest)) = split(data) else {
        return;
    };
    let f = fixture();
    let expectation = AuthenticationExpectation {
        challenge: &CHALLENGE,
        rp_id: RP_ID,
        origins: &f.origins,
        user_verification: UserVerificationRequirement::Preferred,
        allowed_credentials: &[],
    };
    let verify = |response: &AuthenticationResponse, key: &CredentialPublicKey| {
        let _ = verify_authentication(
            &expectation,
            response,
            &StoredCredential {
                credential_id: &response.raw_id,
                public_key: key,
                user_handle: USER,
                sign_count: 0,
                backup_eligible: false,
            },
        );
    };
    let mut response = f.response.clone();
    match mode % 5 {
        0 => response.authenticator_data = rest.to_vec(),
        1 => response.client_data_json = rest.to_vec(),
        2 => response.signature = rest.to_vec(),
        3 => {
            if let Ok(key) = CredentialPublicKey::from_cose(rest) {
                verify(&response, &key);
            }
            return;
        }
        _ => match AuthenticationResponse::from_json(rest) {
            Ok(r) => response = r,
            Err(_) => return,
        },
    }
    verify(&response, &f.key);
});
