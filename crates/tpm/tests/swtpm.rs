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

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use keybound_tpm::*;
use keybound_workload_api::wire::{TpmAttestFinish, TpmAttestStart, TpmChallenge};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

fn installed() -> bool {
    let ok = ["swtpm", "swtpm_setup", "swtpm_localca", "tpm2_createek"]
        .iter()
        .all(|tool| {
            Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        });
    if !ok {
        eprintln!("SKIPPED: swtpm, swtpm-tools or tpm2-tools is not installed");
    }
    ok
}

/// A local manufacturer CA (`swtpm_localca`'s root and issuing CA).
struct Manufacturer {
    dir: PathBuf,
}

impl Manufacturer {
    fn new(base: &Path, name: &str) -> Self {
        let dir = base.join(name);
        std::fs::create_dir_all(dir.join("ca")).unwrap();
        std::fs::write(
            dir.join("localca.conf"),
            format!(
                "statedir = {d}/ca\nsigningkey = {d}/ca/signkey.pem\n\
                 issuercert = {d}/ca/issuercert.pem\ncertserial = {d}/ca/certserial\n",
                d = dir.display()
            ),
        )
        .unwrap();
        std::fs::write(
            dir.join("localca.options"),
            "--platform-manufacturer keybound\n--platform-version 2.1\n--platform-model test\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("setup.conf"),
            format!(
                "create_certs_tool = swtpm_localca\ncreate_certs_tool_config = {d}/localca.conf\n\
                 create_certs_tool_options = {d}/localca.options\n",
                d = dir.display()
            ),
        )
        .unwrap();
        Manufacturer { dir }
    }

    /// The roots a server configures for this manufacturer: its root and
    /// its issuing CA (TPMs carry only the EK certificate).
    fn roots(&self) -> EkRoots {
        let mut roots = EkRoots::new();
        for file in ["swtpm-localca-rootca-cert.pem", "issuercert.pem"] {
            roots
                .add_file(&std::fs::read(self.dir.join("ca").join(file)).unwrap())
                .unwrap();
        }
        roots
    }
}

/// A running swtpm.
struct Swtpm {
    child: Child,
    tcti: String,
}

impl Drop for Swtpm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Two consecutive free TCP ports (swtpm's server and control channel).
fn free_ports() -> u16 {
    loop {
        let a = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = a.local_addr().unwrap().port();
        if port < u16::MAX && TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return port;
        }
    }
}

impl Swtpm {
    /// Manufactures a TPM under `maker` and starts it.
    fn start(base: &Path, name: &str, maker: &Manufacturer) -> Self {
        let state = base.join(name);
        std::fs::create_dir_all(&state).unwrap();
        let out = Command::new("swtpm_setup")
            .args([
                "--tpm2",
                "--create-ek-cert",
                "--create-platform-cert",
                "--overwrite",
            ])
            .arg("--tpmstate")
            .arg(&state)
            .arg("--config")
            .arg(maker.dir.join("setup.conf"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "swtpm_setup: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let port = free_ports();
        let child = Command::new("swtpm")
            .args(["socket", "--tpm2", "--flags", "startup-clear"])
            .arg("--tpmstate")
            .arg(format!("dir={}", state.display()))
            .arg("--server")
            .arg(format!("type=tcp,port={port},bindaddr=127.0.0.1"))
            .arg("--ctrl")
            .arg(format!("type=tcp,port={},bindaddr=127.0.0.1", port + 1))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "swtpm did not listen"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Swtpm {
            child,
            tcti: format!("swtpm:host=127.0.0.1,port={port}"),
        }
    }

    fn agent(&self, dir: &Path, ek: agent::EkKind) -> agent::Tpm {
        std::fs::create_dir_all(dir).unwrap();
        agent::Tpm::new(Some(self.tcti.clone()), dir, ek)
    }
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
    let node = tpm.agent(&tmp.path().join("node"), agent::EkKind::Rsa);

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
    let node = tpm.agent(&tmp.path().join("node"), agent::EkKind::Rsa);

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
    let genuine_node = genuine.agent(&tmp.path().join("genuine-node"), agent::EkKind::Rsa);
    let other_node = other.agent(&tmp.path().join("other-node"), agent::EkKind::Rsa);

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
    let node = tpm.agent(&tmp.path().join("node"), agent::EkKind::Rsa);

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
    let node = tpm.agent(&tmp.path().join("node"), agent::EkKind::Ecc);
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
