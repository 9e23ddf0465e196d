//! Issue 17: `keybound workload …` against a database where `ada` (an
//! active person) can own entries: entries, join tokens, nodes,
//! federation, the CA's bundle, and the key-encryption key made beside a
//! SQLite database.

use super::devices::{register, run};
use keybound_service::{Config, Operator, RegistrationStart, Service, SystemClock};
use serde_json::Value;

/// A database under `dir` where `ada` enrolled a passkey.
pub(super) fn with_ada(dir: &std::path::Path) {
    let db = format!("sqlite://{}", dir.join("keybound.db").display());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = keybound_store::Store::open(&db).await.unwrap();
        let config = Config::new(
            "localhost",
            keybound_webauthn::OriginPolicy::exact(["http://localhost:8080"]).unwrap(),
            [3; 32],
        );
        let rng = rand_core::TryRngCore::unwrap_err(rand_core::OsRng);
        let service = Service::new(
            store,
            config,
            std::sync::Arc::new(SystemClock),
            Box::new(rng),
        );
        let invitation = service
            .invite("ada", false, &Operator::local("cli"))
            .await
            .unwrap();
        register(&service, RegistrationStart::Invitation(&invitation.value)).await;
    });
}

#[test]
fn workload_entries_tokens_nodes_and_federation_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    with_ada(dir.path());
    let w = |args: &[&str]| {
        let mut all = vec!["workload"];
        all.extend_from_slice(args);
        run(dir.path(), &all)
    };
    let (code, out, err) = w(&[
        "entry",
        "add",
        "--spiffe-id",
        "spiffe://localhost/web",
        "--parent",
        "node-1",
        "--selector",
        "unix:uid:1000",
        "--selector",
        "unix:path:/usr/bin/web",
        "--owner",
        "ada",
        "--hint",
        "web",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let added: Value = serde_json::from_str(&out).expect(&out);
    let id = added["id"].as_str().unwrap().to_owned();
    assert_eq!(added["x509_ttl_s"], 3600);

    let (code, out, _) = w(&["entry", "list", "--json"]);
    assert_eq!(code, 0);
    let listed: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let (code, out, _) = w(&["entry", "list"]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with("ID") && out.contains("spiffe://localhost/web"),
        "{out}"
    );
    let (code, out, _) = w(&["entry", "show", &id]);
    assert_eq!(code, 0);
    assert!(
        out.contains("owner: ada") && out.contains("unix:uid:1000"),
        "{out}"
    );

    // Refused, with the reason in the message; nothing added.
    let (code, _, err) = w(&[
        "entry",
        "add",
        "--spiffe-id",
        "spiffe://elsewhere.org/web",
        "--parent",
        "node-1",
        "--selector",
        "unix:uid:1",
        "--owner",
        "ada",
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("workload_foreign_trust_domain"), "{err}");
    let (code, _, err) = w(&[
        "entry",
        "add",
        "--spiffe-id",
        "spiffe://localhost/x",
        "--parent",
        "node-1",
        "--selector",
        "unix:uid:1",
        "--owner",
        "nobody",
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("workload_owner_not_active"), "{err}");

    let (code, out, err) = w(&["token", "create", "node-1", "--set", "web", "--ttl", "600"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim().len(), 43, "one base64url token on stdout: {out}");
    let (code, out, _) = w(&["node", "list", "--json"]);
    assert_eq!(code, 0);
    assert_eq!(out.trim(), "[]", "no node until the token is used");
    let (code, _, _) = w(&["node", "decommission", "node-1"]);
    assert_ne!(code, 0);

    let bundle = dir.path().join("fed.json");
    std::fs::write(
        &bundle,
        r#"{"keys": [], "spiffe_sequence": 3, "spiffe_refresh_hint": 60}"#,
    )
    .unwrap();
    let (code, _, err) = w(&[
        "federation",
        "add",
        "example-federated.org",
        "--bundle-file",
        bundle.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = w(&[
        "federation",
        "add",
        "plain.org",
        "--bundle-url",
        "http://plain.org/b",
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("workload_invalid_bundle"), "{err}");
    let (code, out, _) = w(&["federation", "list", "--json"]);
    assert_eq!(code, 0);
    let listed: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(listed[0]["sequence"], 3);
    let (code, _, _) = w(&["federation", "remove", "example-federated.org"]);
    assert_eq!(code, 0);

    let (code, out, err) = w(&["ca", "rotate"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Bootstrap"), "the first authority: {out}");
    let (code, out, err) = w(&["ca", "rotate"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Prepare"), "{out}");
    let (code, out, err) = w(&["ca", "show", "--json"]);
    assert_eq!(code, 0, "{err}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert!(doc["spiffe_refresh_hint"].as_u64().is_some());
    let x509 = doc["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["use"] == "x509-svid")
        .count();
    assert_eq!(x509, 2, "the active and the prepared authority: {doc}");

    let (code, _, _) = w(&["entry", "remove", &id]);
    assert_eq!(code, 0);
    let (code, out, _) = w(&["entry", "list", "--json"]);
    assert_eq!(code, 0);
    assert_eq!(out.trim(), "[]");

    // The key-encryption key was made beside the database, 0600.
    use std::os::unix::fs::PermissionsExt;
    let key = dir.path().join("workload-ca.key");
    let meta = std::fs::metadata(&key).unwrap();
    assert_eq!(meta.len(), 32);
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
}
