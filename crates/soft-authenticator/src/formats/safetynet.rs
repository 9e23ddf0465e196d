//! `android-safetynet` (WebAuthn §8.5): an RS256 JWS whose nonce commits
//! to what was signed.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ciborium::Value;
use rcgen::{CertificateParams, DnType, KeyPair, SigningKey, PKCS_RSA_SHA256};

use super::{sha256, text, Subject, TestCa};

/// How to make an `android-safetynet` statement (an RS256 JWS).
#[derive(Clone)]
pub struct SafetyNetProfile {
    /// Issues the `attest.android.com` certificate.
    pub ca: TestCa,
    /// The payload's `timestampMs` (the relying party judges freshness).
    pub timestamp_ms: u64,
    /// `ctsProfileMatch`.
    pub cts_profile_match: bool,
    /// A nonce instead of the right one.
    pub nonce: Option<Vec<u8>>,
    /// The signing certificate's host name (its SAN).
    pub hostname: String,
    /// The signing certificate's common name.
    pub common_name: String,
    /// `ver`.
    pub version: String,
}

impl SafetyNetProfile {
    /// A correct profile under `ca`, stamped at `timestamp_ms`.
    pub fn new(ca: TestCa, timestamp_ms: u64) -> Self {
        SafetyNetProfile {
            ca,
            timestamp_ms,
            cts_profile_match: true,
            nonce: None,
            hostname: "attest.android.com".into(),
            common_name: "attest.android.com".into(),
            version: "25180000".into(),
        }
    }

    pub(crate) fn statement(&self, s: &Subject<'_>, sig: impl Fn(Vec<u8>) -> Vec<u8>) -> Value {
        let key = KeyPair::generate_for(&PKCS_RSA_SHA256).expect("rsa key");
        let mut params = CertificateParams::new(vec![self.hostname.clone()]).expect("params");
        params
            .distinguished_name
            .push(DnType::CommonName, self.common_name.as_str());
        let leaf = self.ca.certify(&params, &key);
        let url = |b: &[u8]| crate::b64(b);
        let header = serde_json::json!({"alg": "RS256", "x5c": [STANDARD.encode(&leaf)]});
        let nonce = self.nonce.clone().unwrap_or_else(|| sha256(&s.signed()));
        let payload = serde_json::json!({
            "nonce": STANDARD.encode(nonce),
            "timestampMs": self.timestamp_ms,
            "apkPackageName": "com.google.android.gms",
            "ctsProfileMatch": self.cts_profile_match,
            "basicIntegrity": true,
        });
        let signed = format!(
            "{}.{}",
            url(header.to_string().as_bytes()),
            url(payload.to_string().as_bytes())
        );
        let signature = sig(key.sign(signed.as_bytes()).expect("sign"));
        let jws = format!("{signed}.{}", url(&signature));
        Value::Map(vec![
            (text("ver"), text(&self.version)),
            (text("response"), Value::Bytes(jws.into_bytes())),
        ])
    }
}
