//! `android-key` (WebAuthn §8.4): a certificate for the credential key
//! carrying a key description, and a signature by that key.

use ciborium::Value;
use rcgen::{CertificateParams, CustomExtension, DnType};

use super::{subject_key, text, tlv, x5c, Subject, TestCa};
use crate::keys::CredentialKey;

/// How to make an `android-key` statement.
#[derive(Clone)]
pub struct AndroidKeyProfile {
    /// Issues the key's certificate.
    pub ca: TestCa,
    /// attestationSecurityLevel: 0 software, 1 TEE, 2 StrongBox.
    pub security_level: u8,
    /// attestationChallenge instead of the client data hash.
    pub challenge: Option<Vec<u8>>,
    /// Add allApplications to the hardware list.
    pub all_applications: bool,
    /// The origin authorisation (`None`: absent).
    pub origin: Option<u8>,
    /// The purposes (empty: absent).
    pub purposes: Vec<u8>,
    /// Certify a different key than the credential's.
    pub other_key: bool,
    /// The DER tag of attestationChallenge (0x04, OCTET STRING).
    pub challenge_tag: u8,
    /// The DER tag of the two authorisation lists (0x30, SEQUENCE).
    pub list_tag: u8,
    /// The DER tag of the purpose set (0x31, SET).
    pub purpose_set_tag: u8,
    /// Put the purposes in the software-enforced list.
    pub purposes_in_software: bool,
}

impl AndroidKeyProfile {
    /// A correct TEE profile under `ca`: generated, signing, scoped.
    pub fn new(ca: TestCa) -> Self {
        AndroidKeyProfile {
            ca,
            security_level: 1,
            challenge: None,
            all_applications: false,
            origin: Some(0),
            purposes: vec![2],
            other_key: false,
            challenge_tag: 0x04,
            list_tag: 0x30,
            purpose_set_tag: 0x31,
            purposes_in_software: false,
        }
    }

    fn key_description(&self, client_data_hash: &[u8]) -> Vec<u8> {
        // algorithm [2] EC and keySize [3] 256, as real key descriptions
        // carry beside the tags §8.4 looks at.
        let mut hardware = [
            tlv(&[0xa2], &tlv(&[0x02], &[3])),
            tlv(&[0xa3], &tlv(&[0x02], &[0x01, 0x00])),
        ]
        .concat();
        let mut software = Vec::new();
        if !self.purposes.is_empty() {
            let ints: Vec<u8> = self
                .purposes
                .iter()
                .flat_map(|p| tlv(&[0x02], &[*p]))
                .collect();
            let purposes = tlv(&[0xa1], &tlv(&[self.purpose_set_tag], &ints));
            if self.purposes_in_software {
                software.extend(purposes);
            } else {
                hardware.extend(purposes);
            }
        }
        if self.all_applications {
            hardware.extend(tlv(&[0xbf, 0x84, 0x58], &[0x05, 0x00]));
        }
        if let Some(origin) = self.origin {
            hardware.extend(tlv(&[0xbf, 0x85, 0x3e], &tlv(&[0x02], &[origin])));
        }
        let challenge = self
            .challenge
            .clone()
            .unwrap_or_else(|| client_data_hash.to_vec());
        let fields = [
            tlv(&[0x02], &[3]),
            tlv(&[0x0a], &[self.security_level]),
            tlv(&[0x02], &[4]),
            tlv(&[0x0a], &[self.security_level]),
            tlv(&[self.challenge_tag], &challenge),
            tlv(&[0x04], &[]),
            tlv(&[self.list_tag], &software),
            tlv(&[self.list_tag], &hardware),
        ]
        .concat();
        tlv(&[0x30], &fields)
    }

    pub(crate) fn statement(&self, s: &Subject<'_>, sig: impl Fn(Vec<u8>) -> Vec<u8>) -> Value {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params
            .distinguished_name
            .push(DnType::CommonName, "Android Keystore Key");
        params
            .custom_extensions
            .push(CustomExtension::from_oid_content(
                &[1, 3, 6, 1, 4, 1, 11129, 2, 1, 17],
                self.key_description(s.client_data_hash),
            ));
        // other_key: a consistent statement (certificate and signature) by
        // a key that is not the credential's.
        let other = self
            .other_key
            .then(|| CredentialKey::generate(s.key.algorithm()));
        let signer = other.as_ref().unwrap_or(s.key);
        let leaf = self.ca.certify(&params, &subject_key(signer));
        Value::Map(vec![
            (
                text("alg"),
                Value::Integer(s.key.algorithm().cose_id().into()),
            ),
            (text("sig"), Value::Bytes(sig(signer.sign(&s.signed())))),
            (text("x5c"), x5c(&[leaf])),
        ])
    }
}
