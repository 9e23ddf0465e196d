//! A deterministic passkey: an Ed25519 key from a fixed seed and a fixed
//! credential id, so the seed corpus `make-seeds` writes signs for the same
//! credential the fuzz targets enrol (the software authenticator draws
//! fresh keys and ids, which a corpus cannot follow). Device-bound, user
//! verified, `none` attestation: tier 2.

use aws_lc_rs::digest;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use keybound_webauthn::b64;
use serde_json::{json, Value};

use crate::{ORIGIN, RP_ID};

/// User present, user verified.
const UP_UV: u8 = 0x05;
/// Attested credential data follows.
const AT: u8 = 0x40;

/// A credential with a fixed key and id.
pub struct Passkey {
    id: Vec<u8>,
    key: Ed25519KeyPair,
    sign_count: u32,
}

fn sha256(data: &[u8]) -> Vec<u8> {
    digest::digest(&digest::SHA256, data).as_ref().to_vec()
}

/// The challenge of creation or request options (base64url text).
fn challenge(options: &Value) -> String {
    options["challenge"].as_str().unwrap_or_default().to_owned()
}

fn client_data(kind: &str, options: &Value) -> Vec<u8> {
    json!({
        "type": kind,
        "challenge": challenge(options),
        "origin": ORIGIN,
        "crossOrigin": false,
    })
    .to_string()
    .into_bytes()
}

impl Passkey {
    /// The passkey numbered `n`.
    pub fn new(n: u8) -> Passkey {
        Passkey {
            id: vec![n; 16],
            key: Ed25519KeyPair::from_seed_unchecked(&[n; 32]).expect("ed25519 seed"),
            sign_count: 0,
        }
    }

    /// Its credential id.
    pub fn id(&self) -> &[u8] {
        &self.id
    }

    /// The COSE_Key (OKP, EdDSA, Ed25519).
    fn cose_key(&self) -> Vec<u8> {
        let x = self.key.public_key().as_ref().to_vec();
        let mut out = vec![0xa4, 0x01, 0x01, 0x03, 0x27, 0x20, 0x06, 0x21, 0x58, 0x20];
        out.extend_from_slice(&x);
        out
    }

    fn auth_data(&self, flags: u8, attested: bool) -> Vec<u8> {
        let mut out = sha256(RP_ID.as_bytes());
        out.push(flags | if attested { AT } else { 0 });
        out.extend_from_slice(&self.sign_count.to_be_bytes());
        if attested {
            out.extend_from_slice(&[0x4b; 16]);
            out.extend_from_slice(&(self.id.len() as u16).to_be_bytes());
            out.extend_from_slice(&self.id);
            out.extend_from_slice(&self.cose_key());
        }
        out
    }

    /// `RegistrationResponseJSON` answering creation `options`.
    pub fn register(&self, options: &Value) -> Value {
        let auth_data = self.auth_data(UP_UV, true);
        // {"fmt": "none", "attStmt": {}, "authData": h'…'}
        let mut attestation = vec![0xa3, 0x63];
        attestation.extend_from_slice(b"fmt");
        attestation.push(0x64);
        attestation.extend_from_slice(b"none");
        attestation.push(0x67);
        attestation.extend_from_slice(b"attStmt");
        attestation.extend_from_slice(&[0xa0, 0x68]);
        attestation.extend_from_slice(b"authData");
        attestation.push(0x58);
        attestation.push(u8::try_from(auth_data.len()).expect("short authData"));
        attestation.extend_from_slice(&auth_data);
        json!({
            "id": b64::encode(&self.id),
            "rawId": b64::encode(&self.id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64::encode(&client_data("webauthn.create", options)),
                "attestationObject": b64::encode(&attestation),
                "transports": ["usb"],
            },
            "authenticatorAttachment": "cross-platform",
            "clientExtensionResults": {},
        })
    }

    /// `AuthenticationResponseJSON` answering request `options`, with the
    /// user handle when given (username-less sign-in needs it).
    pub fn assert(&mut self, options: &Value, user_handle: Option<&str>) -> Value {
        self.sign_count += 1;
        let auth_data = self.auth_data(UP_UV, false);
        let cdj = client_data("webauthn.get", options);
        let mut signed = auth_data.clone();
        signed.extend_from_slice(&sha256(&cdj));
        let signature = self.key.sign(&signed);
        let mut response = json!({
            "clientDataJSON": b64::encode(&cdj),
            "authenticatorData": b64::encode(&auth_data),
            "signature": b64::encode(signature.as_ref()),
        });
        if let Some(handle) = user_handle {
            response["userHandle"] = json!(handle);
        }
        json!({
            "id": b64::encode(&self.id),
            "rawId": b64::encode(&self.id),
            "type": "public-key",
            "response": response,
            "authenticatorAttachment": "cross-platform",
            "clientExtensionResults": {},
        })
    }
}
