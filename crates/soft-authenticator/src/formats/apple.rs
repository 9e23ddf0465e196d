//! `apple` (WebAuthn §8.8): a certificate for the credential key whose
//! nonce extension commits to what was signed.

use ciborium::Value;
use rcgen::{CertificateParams, CustomExtension, DnType};

use super::{sha256, subject_key, text, tlv, x5c, Subject, TestCa};
use crate::keys::CredentialKey;

/// How to make an `apple` statement.
#[derive(Clone)]
pub struct AppleProfile {
    /// Issues the per-credential certificate.
    pub ca: TestCa,
    /// Put this in the nonce extension instead of the right nonce.
    pub nonce: Option<Vec<u8>>,
    /// Leave the nonce extension out.
    pub omit_nonce: bool,
    /// Certify a different key than the credential's.
    pub other_key: bool,
}

impl AppleProfile {
    /// A correct profile under `ca`.
    pub fn new(ca: TestCa) -> Self {
        AppleProfile {
            ca,
            nonce: None,
            omit_nonce: false,
            other_key: false,
        }
    }

    pub(crate) fn statement(&self, s: &Subject<'_>) -> Value {
        let nonce = self.nonce.clone().unwrap_or_else(|| sha256(&s.signed()));
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params
            .distinguished_name
            .push(DnType::CommonName, "keybound soft apple credential");
        if !self.omit_nonce {
            let value = tlv(&[0x30], &tlv(&[0xa1], &tlv(&[0x04], &nonce)));
            params
                .custom_extensions
                .push(CustomExtension::from_oid_content(
                    &[1, 2, 840, 113635, 100, 8, 2],
                    value,
                ));
        }
        let leaf = if self.other_key {
            let other = CredentialKey::generate(s.key.algorithm());
            self.ca.certify(&params, &subject_key(&other))
        } else {
            self.ca.certify(&params, &subject_key(s.key))
        };
        Value::Map(vec![(text("x5c"), x5c(&[leaf]))])
    }
}
