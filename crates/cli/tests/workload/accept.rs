//! The acceptance item of issue 17: the published SPIFFE clients,
//! unchanged — the `spiffe` crate 0.19's 61 `#[ignore]`d integration tests
//! and py-spiffe's `pyspiffe_check.py` — against the real stack: `keybound
//! serve` (SQLite in a temporary directory, trust domain `example.org`)
//! and `keybound node` attested with a join token, every registration
//! made through the admin CLI as an operator would.
//!
//! What the clients expect is what SPIRE's `run-spire.sh` sets up: two
//! entries `myservice` and `myservice2` (hints the same) for the test's
//! own uid, both federating with `example-federated.org`, whose bundle is
//! added from a file. The runners are shared with keybound-workload-api's
//! fixture-based acceptance tests (`spiffe_clients`, by `#[path]`). Needs
//! no root: the clients run as this process's uid.

use std::time::Duration;

use base64::Engine as _;
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, KeyUsagePurpose, SanType};

use super::harness::{wait_for, NodeAgent};
use crate::spiffe_clients;
use crate::support;

const TD: &str = "example.org";
const FEDERATED_TD: &str = "example-federated.org";

/// This process's uid: the one the clients connect with.
fn own_uid() -> u32 {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata("/proc/self").unwrap().uid()
}

/// Runs `keybound workload --trust-domain example.org ARGS` on the
/// server's data; its stdout, or a panic naming the command.
fn workload(server: &support::Server, args: &[&str]) -> String {
    let mut all = vec!["workload", "--trust-domain", TD];
    all.extend_from_slice(args);
    let (ok, out) = server.cli(&all);
    assert!(ok, "keybound {all:?} failed");
    out
}

/// The public members (`kty`, `crv`, `x`, `y`) of a P-256 key's JWK.
fn ec_jwk(key: &KeyPair) -> serde_json::Map<String, serde_json::Value> {
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    // 0x04 || x || y
    let raw = key.public_key_raw();
    assert_eq!(raw.len(), 65);
    let mut jwk = serde_json::Map::new();
    jwk.insert("kty".into(), "EC".into());
    jwk.insert("crv".into(), "P-256".into());
    jwk.insert("x".into(), b64(&raw[1..33]).into());
    jwk.insert("y".into(), b64(&raw[33..]).into());
    jwk
}

/// A SPIFFE bundle of `example-federated.org`: one X.509 authority (a
/// fresh self-signed CA) and one JWT authority, as its server would
/// publish them.
fn federated_bundle() -> String {
    let ca_key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.subject_alt_names = vec![SanType::URI(
        format!("spiffe://{FEDERATED_TD}").try_into().unwrap(),
    )];
    let cert = params.self_signed(&ca_key).unwrap();
    let mut x509 = ec_jwk(&ca_key);
    x509.insert("use".into(), "x509-svid".into());
    x509.insert(
        "x5c".into(),
        serde_json::json!([base64::engine::general_purpose::STANDARD.encode(cert.der())]),
    );
    let mut jwt = ec_jwk(&KeyPair::generate().unwrap());
    jwt.insert("use".into(), "jwt-svid".into());
    jwt.insert("kid".into(), "fed-jwt-1".into());
    serde_json::json!({
        "keys": [x509, jwt],
        "spiffe_sequence": 1,
        "spiffe_refresh_hint": 300,
    })
    .to_string()
}

/// The server, registered as SPIRE's test set-up is, and an agent on it
/// that already serves both SVIDs and the federated bundle.
fn spire_like_stack() -> (support::Server, NodeAgent) {
    let server = support::Server::start_in(tempfile::tempdir().unwrap(), &["--trust-domain", TD]);
    let auth = keybound_soft_authenticator::Authenticator::default();
    support::http::enrol_across(&server, &server, &mut server.browser(), &auth, "ada");
    let token = workload(&server, &["token", "create", "n1"]);
    let bundle = server.dir.path().join("federated.json");
    std::fs::write(&bundle, federated_bundle()).unwrap();
    let bundle = bundle.to_str().unwrap().to_owned();
    workload(
        &server,
        &["federation", "add", FEDERATED_TD, "--bundle-file", &bundle],
    );
    let selector = format!("unix:uid:{}", own_uid());
    for name in ["myservice", "myservice2"] {
        let id = format!("spiffe://{TD}/{name}");
        workload(
            &server,
            &[
                "entry",
                "add",
                "--spiffe-id",
                &id,
                "--parent",
                "n1",
                "--selector",
                &selector,
                "--owner",
                "ada",
                "--hint",
                name,
                "--federates-with",
                FEDERATED_TD,
            ],
        );
    }
    let agent = NodeAgent::start(&[format!("http://127.0.0.1:{}", server.port)], token.trim());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let endpoint = format!("unix:{}", agent.socket.display());
    wait_for(
        Duration::from_secs(30),
        "both SVIDs and the federated bundle on the agent's socket",
        || {
            rt.block_on(async {
                let Ok(client) = spiffe::WorkloadApiClient::connect_to(&endpoint).await else {
                    return false;
                };
                let Ok(ctx) = client.fetch_x509_context().await else {
                    return false;
                };
                let fed = spiffe::TrustDomain::try_from(FEDERATED_TD).unwrap();
                ctx.svids().len() == 2 && ctx.bundle_set().get(&fed).is_some()
            })
        },
    );
    (server, agent)
}

#[test]
fn real_serve_the_spiffe_crates_integration_tests_pass() {
    let (_server, agent) = spire_like_stack();
    spiffe_clients::spiffe_crate_tests_pass(&agent.socket, "spiffe-acceptance-real");
}

/// py-spiffe with an absolute socket path (gRPC C-core percent-encodes it
/// into `:authority`) and a relative one (plain authority `api.sock`).
#[test]
fn real_serve_py_spiffe_checks_pass() {
    let (_server, agent) = spire_like_stack();
    let absolute = format!("unix://{}", agent.socket.display());
    spiffe_clients::pyspiffe_check(&absolute, "/".as_ref());
    spiffe_clients::pyspiffe_check("unix:api.sock", agent.socket.parent().unwrap());
}
