//! MDS3 BLOBs made by a test FIDO root: accepted when signed and current,
//! refused when tampered with, signed under another root, or stale.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use keybound_metadata::*;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, SigningKey};
use serde_json::json;

/// 2026-11-22.
const NOW: u64 = 1_795_325_460;

struct Fido {
    root_der: Vec<u8>,
    signer_key: KeyPair,
    signer_der: Vec<u8>,
}

fn fido(name: &str) -> Fido {
    let root_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let root = params.self_signed(&root_key).unwrap();
    let issuer = Issuer::new(params, root_key);
    let signer_key = KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
    let mut leaf = CertificateParams::new(vec!["mds.test".into()]).unwrap();
    leaf.distinguished_name
        .push(DnType::CommonName, "mds signer");
    let signer = leaf.signed_by(&signer_key, &issuer).unwrap();
    Fido {
        root_der: root.der().to_vec(),
        signer_key,
        signer_der: signer.der().to_vec(),
    }
}

fn payload(no: u64, next_update: &str) -> serde_json::Value {
    json!({
        "legalHeader": "test",
        "no": no,
        "nextUpdate": next_update,
        "entries": [
            {
                "aaguid": "4B4B4B4B-4B4B-4B4B-4B4B-4B4B4B4B4B4B",
                "metadataStatement": {
                    "description": "keybound soft key",
                    "attestationRootCertificates": [STANDARD.encode([1, 2, 3])]
                },
                "statusReports": [{"status": "FIDO_CERTIFIED_L1", "effectiveDate": "2026-01-01"}],
            },
            {
                "attestationCertificateKeyIdentifiers": ["ABCDEF0123"],
                "metadataStatement": {"description": "a u2f key"},
                "statusReports": [{"status": "FIDO_CERTIFIED"}, {"status": "USER_KEY_REMOTE_COMPROMISE"}],
            }
        ]
    })
}

fn jwt(fido: &Fido, payload: &serde_json::Value) -> String {
    let header = json!({"alg": "RS256", "typ": "JWT", "x5c": [STANDARD.encode(&fido.signer_der)]});
    let signed = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(payload.to_string())
    );
    let sig = fido.signer_key.sign(signed.as_bytes()).unwrap();
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(sig))
}

#[test]
fn a_signed_current_blob_is_indexed() {
    let f = fido("test FIDO root");
    let blob = verify_blob(
        jwt(&f, &payload(7, "2026-12-01")).as_bytes(),
        &f.root_der,
        NOW,
    )
    .unwrap();
    assert_eq!(blob.no, 7);
    let soft = blob
        .by_aaguid("4b4b4b4b-4b4b-4b4b-4b4b-4b4b4b4b4b4b")
        .unwrap();
    assert_eq!(soft.description, "keybound soft key");
    assert_eq!(soft.roots, vec![vec![1, 2, 3]]);
    assert_eq!(soft.certification(), Some("FIDO_CERTIFIED_L1"));
    assert_eq!(soft.adverse_status(), None);
    let u2f = blob.by_key_identifier("abcdef0123").unwrap();
    assert_eq!(u2f.adverse_status(), Some("USER_KEY_REMOTE_COMPROMISE"));
    assert!(blob
        .by_aaguid("00000000-0000-0000-0000-000000000000")
        .is_none());
    assert_eq!(blob.entries().len(), 2);
    // Due today is still current.
    assert!(verify_blob(
        jwt(&f, &payload(7, "2026-11-22")).as_bytes(),
        &f.root_der,
        NOW
    )
    .is_ok());
}

#[test]
fn a_tampered_blob_is_refused() {
    let f = fido("test FIDO root");
    let good = jwt(&f, &payload(7, "2026-12-01"));
    let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
    parts[1] = URL_SAFE_NO_PAD.encode(payload(8, "2026-12-01").to_string());
    assert_eq!(
        verify_blob(parts.join(".").as_bytes(), &f.root_der, NOW).unwrap_err(),
        MetadataError::BadSignature
    );
    for junk in ["", "a.b", "a.b.c.d", "!!.!!.!!"] {
        assert!(matches!(
            verify_blob(junk.as_bytes(), &f.root_der, NOW).unwrap_err(),
            MetadataError::Malformed(_)
        ));
    }
}

#[test]
fn a_blob_under_another_root_is_refused() {
    let f = fido("test FIDO root");
    let other = fido("another root");
    assert!(matches!(
        verify_blob(
            jwt(&f, &payload(7, "2026-12-01")).as_bytes(),
            &other.root_der,
            NOW
        )
        .unwrap_err(),
        MetadataError::UntrustedSigner(_)
    ));
}

#[test]
fn a_stale_blob_is_refused() {
    let f = fido("test FIDO root");
    assert_eq!(
        verify_blob(
            jwt(&f, &payload(7, "2026-11-21")).as_bytes(),
            &f.root_der,
            NOW
        )
        .unwrap_err(),
        MetadataError::Expired {
            next_update: "2026-11-21".into()
        }
    );
}

#[test]
fn only_rs256_is_accepted() {
    let f = fido("test FIDO root");
    let header = URL_SAFE_NO_PAD.encode(json!({"alg": "none", "x5c": []}).to_string());
    let body = URL_SAFE_NO_PAD.encode(payload(7, "2026-12-01").to_string());
    assert_eq!(
        verify_blob(format!("{header}.{body}.").as_bytes(), &f.root_der, NOW).unwrap_err(),
        MetadataError::UnsupportedAlgorithm("none".into())
    );
}
