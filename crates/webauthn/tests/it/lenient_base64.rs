//! Responses whose binary members are padded, or in the standard alphabet,
//! as some clients send them: registration and sign-in still verify, `id`
//! and `rawId` are compared as bytes, and malformed text is still refused.

use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use base64::Engine;
use keybound_soft_authenticator::{Algorithm, Authenticator};
use keybound_webauthn::*;
use serde_json::Value;

use crate::support::*;

/// Every binary member of a response, by JSON path.
const MEMBERS: [&[&str]; 7] = [
    &["id"],
    &["rawId"],
    &["response", "clientDataJSON"],
    &["response", "attestationObject"],
    &["response", "authenticatorData"],
    &["response", "signature"],
    &["response", "userHandle"],
];

fn member<'a>(json: &'a mut Value, path: &[&str]) -> Option<&'a mut Value> {
    path.iter()
        .try_fold(json, |v, key| v.get_mut(*key))
        .filter(|v| v.is_string())
}

/// Re-encodes every binary member of `json` with `engine`.
fn respell(json: &Value, engine: &impl Engine) -> Value {
    let mut out = json.clone();
    for path in MEMBERS {
        if let Some(v) = member(&mut out, path) {
            let bytes = b64::decode(v.as_str().unwrap()).unwrap();
            *v = Value::String(engine.encode(bytes));
        }
    }
    out
}

/// An authenticator whose credential ids and keys need padding and the
/// alphabet-specific characters, whatever the random bytes: ids of 31 bytes
/// (one `=`), and the other members of assorted lengths.
fn authenticator() -> Authenticator {
    Authenticator {
        credential_id_len: 31,
        ..Authenticator::default()
    }
}

#[test]
fn padded_and_standard_alphabet_responses_verify() {
    let auth = authenticator();
    for engine in [&URL_SAFE, &STANDARD] {
        let rp = Rp::default();
        let c = challenge();
        let (mut cred, json) = auth.register(Algorithm::Es256, &ceremony(&c), USER);
        let respelled = respell(&json, engine);
        assert!(respelled["rawId"].as_str().unwrap().ends_with('='));
        let reg = rp.register(&c, &respelled).unwrap();
        assert_eq!(reg.credential_id, cred.id);

        let stored = Stored::from(&reg);
        let c = challenge();
        let json = auth.assert(&mut cred, &ceremony(&c));
        let respelled = respell(&json, engine);
        let verified = rp
            .authenticate(&c, &respelled, &stored, std::slice::from_ref(&stored.id))
            .unwrap();
        assert_eq!(verified.sign_count, 1);
        let response = AuthenticationResponse::from_json(respelled.to_string().as_bytes()).unwrap();
        assert_eq!(response.raw_id, cred.id);
        assert_eq!(response.user_handle.as_deref(), Some(USER));
    }
}

#[test]
fn id_and_raw_id_are_compared_as_bytes() {
    let auth = authenticator();
    let c = challenge();
    let (cred, json) = auth.register(Algorithm::Es256, &ceremony(&c), USER);
    let mut mixed = json.clone();
    mixed["id"] = Value::String(STANDARD.encode(&cred.id));
    mixed["rawId"] = Value::String(URL_SAFE.encode(&cred.id));
    let reg = Rp::default().register(&c, &mixed).unwrap();
    assert_eq!(reg.credential_id, cred.id);

    // Different bytes are still a mismatch, however they are spelled.
    let mut other = cred.id.clone();
    other[0] ^= 1;
    mixed["id"] = Value::String(STANDARD.encode(&other));
    assert_eq!(
        Rp::default().register(&c, &mixed).unwrap_err(),
        Error::CredentialIdMismatch
    );
}

#[test]
fn the_client_data_challenge_may_be_padded_too() {
    // A challenge of 31 bytes needs one '=' when padded, and these bytes
    // need the alphabet-specific characters.
    let c = vec![0xfb; 31];
    let (_, mut json) = authenticator().register(Algorithm::Es256, &ceremony(&c), USER);
    let cdj = b64::decode(json["response"]["clientDataJSON"].as_str().unwrap()).unwrap();
    let text = String::from_utf8(cdj).unwrap();
    let padded = STANDARD.encode(&c);
    assert!(padded.ends_with('=') && padded.contains('+'));
    let bent = text.replace(&b64::encode(&c), &padded);
    assert_ne!(bent, text);
    // `none` attestation signs nothing, so the bent client data still
    // verifies, and the challenge it carries is the one issued.
    json["response"]["clientDataJSON"] = Value::String(b64::encode(bent.as_bytes()));
    Rp::default().register(&c, &json).unwrap();
    assert_eq!(challenge_of(bent.as_bytes()).unwrap(), c);
}

#[test]
fn malformed_base64_is_still_refused() {
    let auth = authenticator();
    let c = challenge();
    let (mut cred, reg_json) = auth.register(Algorithm::Es256, &ceremony(&c), USER);
    let auth_json = auth.assert(&mut cred, &ceremony(&c));
    for json in [&reg_json, &auth_json] {
        for path in MEMBERS {
            for bad in ["-+AA", "AA===", "A", "AB=A", "AA AA", "é", "AR"] {
                let mut doc = json.clone();
                let Some(v) = member(&mut doc, path) else {
                    continue;
                };
                *v = Value::String(bad.to_owned());
                let text = doc.to_string();
                let parsed = if json.get("response").unwrap().get("signature").is_some() {
                    AuthenticationResponse::from_json(text.as_bytes()).map(|_| ())
                } else {
                    RegistrationResponse::from_json(text.as_bytes()).map(|_| ())
                };
                assert_eq!(parsed, Err(Error::InvalidBase64), "{path:?} = {bad:?}");
            }
        }
    }
}
