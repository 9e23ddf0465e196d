//! A test FIDO Metadata Service (MDS3): BLOBs signed the way the real
//! service signs them, under a root the tests configure.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rcgen::{CertificateParams, DnType, KeyPair, SigningKey, PKCS_RSA_SHA256};

use crate::formats::TestCa;

/// A test FIDO Metadata Service: a root and an RS256 signing certificate
/// that make MDS3 BLOBs (JWTs) the way the real service does.
pub struct TestMds {
    /// The root a relying party configures as the FIDO root.
    pub root_der: Vec<u8>,
    signer_key: KeyPair,
    signer_der: Vec<u8>,
}

impl TestMds {
    /// A fresh root and signer.
    pub fn new() -> Self {
        let ca = TestCa::new("keybound test FIDO MDS root");
        let signer_key = KeyPair::generate_for(&PKCS_RSA_SHA256).expect("rsa key");
        let mut params = CertificateParams::new(vec!["mds.test".into()]).expect("params");
        params
            .distinguished_name
            .push(DnType::CommonName, "keybound test MDS signer");
        let signer_der = ca.certify(&params, &signer_key);
        TestMds {
            root_der: ca.root_der,
            signer_key,
            signer_der,
        }
    }

    /// A BLOB with serial `no`, due `next_update` (YYYY-MM-DD), holding
    /// `entries` (MDS3 JSON metadata BLOB payload entries).
    pub fn blob(&self, no: u64, next_update: &str, entries: serde_json::Value) -> String {
        let header = serde_json::json!({
            "alg": "RS256",
            "typ": "JWT",
            "x5c": [STANDARD.encode(&self.signer_der)],
        });
        let payload = serde_json::json!({
            "legalHeader": "keybound tests",
            "no": no,
            "nextUpdate": next_update,
            "entries": entries,
        });
        let signed = format!(
            "{}.{}",
            crate::b64(header.to_string().as_bytes()),
            crate::b64(payload.to_string().as_bytes())
        );
        let sig = self.signer_key.sign(signed.as_bytes()).expect("sign");
        format!("{signed}.{}", crate::b64(&sig))
    }

    /// One entry: `aaguid` (8-4-4-4-12) attested under `roots` (DER), with
    /// these status reports, oldest first.
    pub fn entry(aaguid: &str, roots: &[Vec<u8>], statuses: &[&str]) -> serde_json::Value {
        serde_json::json!({
            "aaguid": aaguid,
            "metadataStatement": {
                "description": format!("test model {aaguid}"),
                "attestationRootCertificates": roots.iter().map(|r| STANDARD.encode(r)).collect::<Vec<_>>(),
            },
            "statusReports": statuses.iter().map(|s| serde_json::json!({"status": s})).collect::<Vec<_>>(),
        })
    }
}

impl TestMds {
    /// A U2F entry: attestation certificates known by their key
    /// identifiers (hex SHA-1 of the public key bits) instead of an AAGUID.
    pub fn u2f_entry(
        key_identifiers: &[String],
        roots: &[Vec<u8>],
        statuses: &[&str],
    ) -> serde_json::Value {
        serde_json::json!({
            "attestationCertificateKeyIdentifiers": key_identifiers,
            "metadataStatement": {
                "description": "test U2F model",
                "attestationRootCertificates": roots.iter().map(|r| STANDARD.encode(r)).collect::<Vec<_>>(),
            },
            "statusReports": statuses.iter().map(|s| serde_json::json!({"status": s})).collect::<Vec<_>>(),
        })
    }
}

impl Default for TestMds {
    fn default() -> Self {
        Self::new()
    }
}
