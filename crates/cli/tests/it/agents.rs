//! Issue 18: `keybound agents …` and `keybound task …` against a database
//! where `ada` (an active person) can own agents.

use super::devices::run;
use super::workloads::with_ada;
use keybound_jose::{Algorithm, SigningKey};
use keybound_service::policies::PolicySet;
use keybound_service::{Config, PolicyLoad, Service, SystemClock, TaskRequest};
use serde_json::{json, Value};

/// An ES256 key: its PKCS#8 and its public JWK.
fn key() -> (SigningKey, Value) {
    let pkcs8 = SigningKey::generate_pkcs8(Algorithm::Es256).unwrap();
    let key = SigningKey::from_pkcs8(Algorithm::Es256, &pkcs8).unwrap();
    let jwk = key.public_jwk(None).unwrap().to_json();
    (key, jwk)
}

/// `agent` (signing with `key`) asks for a read task on the test API, in
/// process on the database under `dir`, as the agent API would.
fn ask_for_task(dir: &std::path::Path, agent: &str, key: &SigningKey) -> String {
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
        let policies = PolicySet::load(&[(
            "tasks.cedar",
            r#"@id("agents-on-api")
               permit (principal, action == Keybound::Action::"task:request",
                       resource == Keybound::Api::"https://api.example.test/");"#,
        )])
        .unwrap();
        service
            .install_policies(policies, PolicyLoad::Start, None)
            .await
            .unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let claims = json!({"iss": agent, "sub": agent, "aud": "http://localhost:8080",
                            "iat": now, "exp": now + 60, "jti": "cli-test-1"});
        let proof = keybound_jose::sign(
            &serde_json::Map::new(),
            &claims,
            key,
            &aws_lc_rs::rand::SystemRandom::new(),
        )
        .unwrap();
        let request = TaskRequest {
            delegator: Some("ada".into()),
            resources: vec!["https://api.example.test/".into()],
            actions: vec!["read".into()],
            lifetime_s: None,
            purpose: "weekly report".into(),
        };
        service
            .request_task(&proof, &request, &Default::default())
            .await
            .unwrap()
            .id
    })
}

#[test]
fn agents_are_added_listed_shown_and_removed_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    with_ada(dir.path());
    let (signing, jwk) = key();
    let key_file = dir.path().join("agent.jwk.json");
    std::fs::write(&key_file, jwk.to_string()).unwrap();
    let key_path = key_file.to_str().unwrap();
    let (code, out, err) = run(
        dir.path(),
        &[
            "agents",
            "add",
            "report-bot",
            "--owner",
            "ada",
            "--key-file",
            key_path,
            "--description",
            "weekly report",
            "--json",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let added: Value = serde_json::from_str(&out).expect(&out);
    assert_eq!(added["name"], "report-bot");
    assert_eq!(added["owner"], "ada");
    assert_eq!(added["proof"], "key");
    let (code, out, err) = run(
        dir.path(),
        &[
            "agents",
            "add",
            "svid-bot",
            "--owner",
            "ada",
            "--spiffe-id",
            "spiffe://localhost/agents/svid-bot",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(
            "added agent svid-bot owned by ada (SPIFFE ID spiffe://localhost/agents/svid-bot)"
        ),
        "{out}"
    );

    let (code, out, _) = run(dir.path(), &["agents", "list"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("NAME") && out.contains("report-bot") && out.contains("svid-bot"));
    let (code, out, _) = run(dir.path(), &["agents", "list", "--json"]);
    assert_eq!(code, 0);
    let listed: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2);
    let (code, out, _) = run(dir.path(), &["agents", "show", "report-bot"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("owner: ada") && out.contains("status: active"),
        "{out}"
    );

    // The agent asks for a task; the operator sees and ends it.
    let task = ask_for_task(dir.path(), "report-bot", &signing);
    let (code, out, _) = run(dir.path(), &["task", "list", "--json"]);
    assert_eq!(code, 0);
    let tasks: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(tasks[0]["id"], task.as_str());
    assert_eq!(tasks[0]["status"], "pending");
    assert_eq!(tasks[0]["delegator"], "ada");
    let (code, out, _) = run(dir.path(), &["task", "list", "--agent", "svid-bot"]);
    assert_eq!(code, 0);
    assert!(!out.contains(&task), "{out}");
    let (code, out, _) = run(dir.path(), &["task", "list", "--status", "pending"]);
    assert_eq!(code, 0);
    assert!(out.contains(&task), "{out}");
    let (code, out, _) = run(dir.path(), &["task", "show", &task]);
    assert_eq!(code, 0);
    assert!(out.contains("purpose: weekly report"), "{out}");
    let (code, out, err) = run(
        dir.path(),
        &["task", "end", &task, "--reason", "not needed"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("ended task") && out.contains("report-bot"),
        "{out}"
    );
    let (code, _, err) = run(dir.path(), &["task", "end", &task]);
    assert_ne!(code, 0);
    assert!(err.contains("the task has ended already"), "{err}");
    let (code, out, _) = run(dir.path(), &["task", "show", &task, "--json"]);
    assert_eq!(code, 0);
    let shown: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(shown["status"], "ended");
    assert_eq!(shown["end_reason"], "not needed");

    let (code, out, err) = run(dir.path(), &["agents", "remove", "report-bot"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("removed agent report-bot; 0 tasks ended"),
        "{out}"
    );
    let (code, out, _) = run(dir.path(), &["agents", "show", "report-bot", "--json"]);
    assert_eq!(code, 0);
    let shown: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(shown["status"], "removed");
}

#[test]
fn the_cli_says_why_it_refuses() {
    let dir = tempfile::tempdir().unwrap();
    with_ada(dir.path());
    let (_, mut jwk) = key();
    jwk["d"] = json!("AAAA");
    let private = dir.path().join("private.jwk.json");
    std::fs::write(&private, jwk.to_string()).unwrap();
    let (code, _, err) = run(
        dir.path(),
        &[
            "agents",
            "add",
            "bot",
            "--owner",
            "ada",
            "--key-file",
            private.to_str().unwrap(),
        ],
    );
    assert_ne!(code, 0);
    assert!(err.contains("not a public JWK"), "{err}");
    let (code, _, err) = run(
        dir.path(),
        &[
            "agents",
            "add",
            "bot",
            "--owner",
            "nobody",
            "--spiffe-id",
            "spiffe://localhost/bot",
        ],
    );
    assert_ne!(code, 0);
    assert!(err.contains("the owner must be an active person"), "{err}");
    let (code, _, err) = run(
        dir.path(),
        &[
            "agents",
            "add",
            "bot",
            "--owner",
            "ada",
            "--spiffe-id",
            "spiffe://elsewhere/bot",
        ],
    );
    assert_ne!(code, 0);
    assert!(
        err.contains("not a SPIFFE ID in this trust domain"),
        "{err}"
    );
    let (code, _, _) = run(dir.path(), &["agents", "add", "bot", "--owner", "ada"]);
    assert_ne!(code, 0, "a proof is required");
    let missing = dir.path().join("missing.json");
    let (code, _, err) = run(
        dir.path(),
        &[
            "agents",
            "add",
            "bot",
            "--owner",
            "ada",
            "--key-file",
            missing.to_str().unwrap(),
        ],
    );
    assert_ne!(code, 0);
    assert!(err.contains("missing.json"), "{err}");
    let (code, _, err) = run(dir.path(), &["agents", "show", "ghost"]);
    assert_ne!(code, 0);
    assert!(err.contains("agent ghost: not found"), "{err}");
    let (code, _, err) = run(dir.path(), &["task", "list", "--status", "bogus"]);
    assert_ne!(code, 0);
    assert!(err.contains("one of pending, active"), "{err}");
    let (code, _, err) = run(dir.path(), &["task", "end", "nope"]);
    assert_ne!(code, 0);
    assert!(err.contains("task nope: not found"), "{err}");
    let (code, out, _) = run(dir.path(), &["agents", "list", "--json"]);
    assert_eq!(code, 0);
    assert_eq!(out.trim(), "[]");
}
