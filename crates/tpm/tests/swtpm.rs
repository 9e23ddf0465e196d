//! TPM node attestation against a real software TPM (swtpm) driven by
//! tpm2-tools through the node agent's own driver
//! (`crates/cli/src/node/tpm.rs`, compiled here as is).
//!
//! Each test manufactures its TPMs with `swtpm_setup --create-ek-cert`
//! under a local CA made by `swtpm_localca` (its root is the
//! "manufacturer root"), runs `swtpm socket` on free ports, and checks the
//! server side with this crate. Skipped, with the reason printed, when
//! swtpm or tpm2-tools is not installed (CI installs them: `.ci/run`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

#[path = "../../cli/src/node/tpm.rs"]
#[allow(dead_code)]
mod agent;
#[path = "support/swtpm.rs"]
mod harness;

use std::path::Path;
use std::time::SystemTime;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use keybound_tpm::*;
use keybound_workload_api::wire::{TpmAttestFinish, TpmAttestStart, TpmChallenge};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

use harness::{installed, Manufacturer, Swtpm};

/// The node agent's driver for `tpm`, keeping its files in `dir`.
fn agent_for(tpm: &Swtpm, dir: &Path, ek: agent::EkKind) -> agent::Tpm {
    std::fs::create_dir_all(dir).unwrap();
    agent::Tpm::new(Some(tpm.tcti.clone()), dir, ek)
}

fn b64(s: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(s).unwrap()
}

fn now() -> UnixTime {
    UnixTime::since_unix_epoch(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap(),
    )
}

fn node_key() -> serde_json::Value {
    serde_json::json!({"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"})
}

/// What the server does with step one: check the EK certificate, both
/// public areas, and make the credential.
fn server_start(
    start: &TpmAttestStart,
    roots: &EkRoots,
    secret: &[u8],
) -> Result<(Public, TpmChallenge), Error> {
    let ek = Public::from_tpm2b(&b64(&start.ek_public))?;
    let ak = Public::from_tpm2b(&b64(&start.ak_public))?;
    verify_ek_certificate(&b64(&start.ek_cert), &ek, roots, now())?;
    check_ak_policy(&ak)?;
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let credential = make_credential(&ek, &ak.name(), secret, &mut rng)?;
    Ok((
        ak,
        TpmChallenge {
            attempt: "attempt".into(),
            credential_blob: URL_SAFE_NO_PAD.encode(credential.credential_blob),
            encrypted_secret: URL_SAFE_NO_PAD.encode(credential.encrypted_secret),
        },
    ))
}

/// What the server does with step two.
fn server_finish(
    ak: &Public,
    finish: &TpmAttestFinish,
    secret: &[u8],
    thumbprint: &[u8],
) -> Result<Quote, Error> {
    assert!(
        ct_eq(&b64(&finish.secret), secret),
        "the TPM released another secret"
    );
    verify_quote(
        ak,
        &b64(&finish.quote),
        &b64(&finish.quote_signature),
        &quote_nonce(secret, thumbprint),
    )
}

const SECRET: &[u8; 32] = b"keybound tpm attestation secret!";
const THUMBPRINT: [u8; 32] = [0x5a; 32];

#[test]
fn genuine_tpm_attests_end_to_end() {
    if !installed() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let maker = Manufacturer::new(tmp.path(), "maker");
    let tpm = Swtpm::start(tmp.path(), "tpm", &maker);
    let node = agent_for(&tpm, &tmp.path().join("node"), agent::EkKind::Rsa);

    let start = node.start(node_key()).unwrap();
    assert_eq!(start.node_key, node_key());
    let (ak, challenge) = server_start(&start, &maker.roots(), SECRET).unwrap();
    let finish = node.finish(&challenge, &THUMBPRINT).unwrap();
    assert_eq!(finish.attempt, "attempt");
    let quote = server_finish(&ak, &finish, SECRET, &THUMBPRINT).unwrap();
    assert_eq!(quote.pcr_selection.len(), 1);
    assert_eq!(quote.pcr_digest.len(), 32);
}

#[test]
fn ek_certificate_from_another_root_is_refused() {
    if !installed() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let ours = Manufacturer::new(tmp.path(), "ours");
    let theirs = Manufacturer::new(tmp.path(), "theirs");
    // Make our CA exist (swtpm_localca creates it on first use).
    let _ours_tpm = Swtpm::start(tmp.path(), "ours-tpm", &ours);
    let tpm = Swtpm::start(tmp.path(), "tpm", &theirs);
    let node = agent_for(&tpm, &tmp.path().join("node"), agent::EkKind::Rsa);

    let start = node.start(node_key()).unwrap();
    assert_eq!(
        server_start(&start, &ours.roots(), SECRET).err(),
        Some(Error::EkCertificateUntrusted)
    );
    // The same certificate passes under its own maker's roots: the
    // refusal above is the root, not the certificate.
    assert!(server_start(&start, &theirs.roots(), SECRET).is_ok());
}

#[test]
fn genuine_ek_with_another_tpms_ak_cannot_activate() {
    if !installed() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let maker = Manufacturer::new(tmp.path(), "maker");
    let genuine = Swtpm::start(tmp.path(), "genuine", &maker);
    let other = Swtpm::start(tmp.path(), "other", &maker);
    let genuine_node = agent_for(
        &genuine,
        &tmp.path().join("genuine-node"),
        agent::EkKind::Rsa,
    );
    let other_node = agent_for(&other, &tmp.path().join("other-node"), agent::EkKind::Rsa);

    // The attacker shows the genuine TPM's EK (certificate and public
    // area) but an AK of another TPM it controls.
    let genuine_start = genuine_node.start(node_key()).unwrap();
    let other_start = other_node.start(node_key()).unwrap();
    let forged = TpmAttestStart {
        ak_public: other_start.ak_public.clone(),
        ..genuine_start.clone()
    };
    let (_, challenge) = server_start(&forged, &maker.roots(), SECRET).unwrap();
    // The other TPM lacks the EK's private key; the genuine TPM has it but
    // its AK's name is not the one the credential is bound to.
    let err = other_node.finish(&challenge, &THUMBPRINT).unwrap_err();
    assert_eq!(err.step, "activatecredential", "{err}");
    let err = genuine_node.finish(&challenge, &THUMBPRINT).unwrap_err();
    assert_eq!(err.step, "activatecredential", "{err}");
}

#[test]
fn quote_over_another_nonce_is_refused() {
    if !installed() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let maker = Manufacturer::new(tmp.path(), "maker");
    let tpm = Swtpm::start(tmp.path(), "tpm", &maker);
    let node = agent_for(&tpm, &tmp.path().join("node"), agent::EkKind::Rsa);

    let start = node.start(node_key()).unwrap();
    let (ak, challenge) = server_start(&start, &maker.roots(), SECRET).unwrap();
    // The node quotes for another node key than the server expects.
    let finish = node.finish(&challenge, &[0xa5; 32]).unwrap();
    assert_eq!(
        server_finish(&ak, &finish, SECRET, &THUMBPRINT).err(),
        Some(Error::QuoteNonceMismatch)
    );
    // A quote signed by this TPM's AK, but verified with another TPM
    // object's key (the EK is not a signing key: refused by algorithm).
    let ek = Public::from_tpm2b(&b64(&start.ek_public)).unwrap();
    assert!(server_finish(&ek, &finish, SECRET, &[0xa5; 32]).is_err());
}

#[test]
fn ecc_ek_credential_activates() {
    if !installed() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let maker = Manufacturer::new(tmp.path(), "maker");
    let tpm = Swtpm::start(tmp.path(), "tpm", &maker);
    // swtpm_setup 0.7 certifies a P-384 ECC EK only, so the P-256 EK from
    // the TCG template has no certificate: this checks the ECDH/KDFe
    // credential path, not the chain.
    let node = agent_for(&tpm, &tmp.path().join("node"), agent::EkKind::Ecc);
    let (ek_public, ak_public) = node.create_keys().unwrap();
    let ek = Public::from_tpm2b(&ek_public).unwrap();
    assert!(matches!(ek.key(), PublicKey::EccP256 { .. }));
    let ak = Public::from_tpm2b(&ak_public).unwrap();
    check_ak_policy(&ak).unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(9);
    let credential = make_credential(&ek, &ak.name(), SECRET, &mut rng).unwrap();
    let challenge = TpmChallenge {
        attempt: "a".into(),
        credential_blob: URL_SAFE_NO_PAD.encode(credential.credential_blob),
        encrypted_secret: URL_SAFE_NO_PAD.encode(credential.encrypted_secret),
    };
    let finish = node.finish(&challenge, &THUMBPRINT).unwrap();
    server_finish(&ak, &finish, SECRET, &THUMBPRINT).unwrap();
}
