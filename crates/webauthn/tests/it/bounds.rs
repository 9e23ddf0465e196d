//! Issue 12 item 10: client-supplied fields are bounded where they are
//! parsed. A credential id over 1023 bytes (WebAuthn L3 §5.8.3) is refused
//! before it is decoded, looked up or recorded; user handles over 64
//! bytes are refused; reported transports are kept short and few.

use crate::support::*;
use keybound_soft_authenticator::{Algorithm, Authenticator};
use keybound_webauthn::*;
use serde_json::Value;

fn with_id(mut json: Value, id: &[u8]) -> Vec<u8> {
    json["id"] = b64::encode(id).into();
    json["rawId"] = b64::encode(id).into();
    json.to_string().into_bytes()
}

#[test]
fn credential_ids_over_1023_bytes_are_refused_when_parsed() {
    let auth = Authenticator::default();
    let (_, registration) = auth.register(Algorithm::Es256, &ceremony(&challenge()), USER);
    let (mut cred, _) = enrolled(&auth);
    let assertion = auth.assert(&mut cred, &ceremony(&challenge()));
    for len in [1024, 350_000] {
        let huge = vec![7u8; len];
        assert_eq!(
            RegistrationResponse::from_json(&with_id(registration.clone(), &huge)),
            Err(Error::CredentialIdTooLong),
            "{len}"
        );
        assert_eq!(
            AuthenticationResponse::from_json(&with_id(assertion.clone(), &huge)),
            Err(Error::CredentialIdTooLong),
            "{len}"
        );
    }
    // Refused on its length as text, whatever it decodes to.
    let mut junk = assertion.clone();
    junk["rawId"] = "!".repeat(400_000).into();
    assert_eq!(
        AuthenticationResponse::from_json(junk.to_string().as_bytes()),
        Err(Error::CredentialIdTooLong)
    );
    // 1023 bytes parses (and then fails as a mismatch with the attested id).
    let parsed = AuthenticationResponse::from_json(&with_id(assertion, &[7u8; 1023]));
    assert_eq!(parsed.unwrap().raw_id.len(), 1023);
}

#[test]
fn user_handles_over_64_bytes_are_refused() {
    let auth = Authenticator::default();
    let (mut cred, _) = enrolled(&auth);
    let mut assertion = auth.assert(&mut cred, &ceremony(&challenge()));
    assertion["response"]["userHandle"] = b64::encode(&[1u8; 65]).into();
    assert_eq!(
        AuthenticationResponse::from_json(assertion.to_string().as_bytes()),
        Err(Error::MalformedResponse)
    );
    assertion["response"]["userHandle"] = b64::encode(&[1u8; 64]).into();
    assert!(AuthenticationResponse::from_json(assertion.to_string().as_bytes()).is_ok());
}

#[test]
fn reported_transports_are_kept_short_and_few() {
    let auth = Authenticator::default();
    let (_, mut registration) = auth.register(Algorithm::Es256, &ceremony(&challenge()), USER);
    let mut reported: Vec<Value> = (0..1000).map(|i| format!("t{i}").into()).collect();
    reported.insert(0, "x".repeat(100_000).into());
    reported.insert(1, "usb".into());
    reported.insert(2, "usb".into());
    reported.insert(3, "new\nline".into());
    registration["response"]["transports"] = reported.into();
    let parsed = RegistrationResponse::from_json(registration.to_string().as_bytes()).unwrap();
    assert_eq!(
        parsed.transports,
        ["usb", "t0", "t1", "t2", "t3", "t4", "t5", "t6"]
    );
}
