//! Issue 18's approval, as a person meets it: an agent (this test, with a
//! registered key) asks for two tasks for alice; alice sees the first on
//! `/me` in full and approves it with her passkey; the approval's
//! assertion, captured as the page sent it and posted to approve the
//! second task, is refused: it signed the first task, the second stays
//! pending, and the audit log names the refusal.
//!
//! The screenshot `docs/screenshots/tasks-me.png` comes from this test
//! (its `tasks-me-1280.png`).

use keybound_jose::{Algorithm as JoseAlg, SigningKey};
use serde_json::{json, Value};

use super::*;

const API: &str = "https://api.example.test/";

const POLICIES: &str = r#"
@id("agents-on-api")
permit (principal, action == Keybound::Action::"task:request",
        resource == Keybound::Api::"https://api.example.test/")
when { principal.kind == "agent" };
"#;

/// The agent's side: its key and the proofs it signs.
struct Agent {
    key: SigningKey,
    issuer: String,
    n: u32,
}

impl Agent {
    fn proof(&mut self) -> String {
        self.n += 1;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let mut header = serde_json::Map::new();
        header.insert("typ".into(), "JWT".into());
        keybound_jose::sign(
            &header,
            &json!({"iss": "report-bot", "sub": "report-bot", "aud": self.issuer,
                    "iat": now, "exp": now + 120, "jti": format!("proof-{}", self.n)}),
            &self.key,
            &aws_lc_rs::rand::SystemRandom::new(),
        )
        .unwrap()
    }

    /// Asks for a task; its id.
    fn ask(&mut self, server: &Server, purpose: &str) -> String {
        let bearer = format!("Bearer {}", self.proof());
        let (status, reply) = server.browser().post_json_with(
            "/agents/v1/tasks",
            &json!({"delegator": "alice", "resources": [API], "actions": ["read"],
                    "lifetime_s": 900, "purpose": purpose}),
            &[("Authorization", &bearer)],
        );
        assert_eq!(status, 201, "{reply}");
        let body = reply.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        let created: Value = serde_json::from_str(body).unwrap();
        assert_eq!(created["status"], "pending");
        created["task_id"].as_str().unwrap().to_owned()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_approved_with_a_passkey_and_a_copied_approval_refused() {
    let policies = support::policy_dir(POLICIES);
    let (server, origin) = serve(&["--policy-dir", policies.path().to_str().unwrap()]);
    let Some(mut chrome) = Chrome::launch("tasks", &origin, passkey_authenticator()).await else {
        return;
    };
    chrome.goto(&invite(&server, "alice")).await;
    chrome.click("#enroll-passkey").await;
    chrome.wait_path("/me").await;

    // The agent is registered with its public key, then asks twice.
    let pkcs8 = SigningKey::generate_pkcs8(JoseAlg::Es256).unwrap();
    let key = SigningKey::from_pkcs8(JoseAlg::Es256, &pkcs8).unwrap();
    let files = tempfile::tempdir().unwrap();
    let jwk = files.path().join("agent.jwk.json");
    std::fs::write(&jwk, key.public_jwk(None).unwrap().to_json().to_string()).unwrap();
    let (ok, out) = server.cli(&[
        "agents",
        "add",
        "report-bot",
        "--owner",
        "alice",
        "--key-file",
        jwk.to_str().unwrap(),
    ]);
    assert!(ok, "{out}");
    let mut agent = Agent {
        key,
        issuer: origin.clone(),
        n: 0,
    };
    let first = agent.ask(&server, "weekly report");
    let second = agent.ask(&server, "export every customer record");

    // alice sees the first in full.
    chrome.goto("/me").await;
    let one = format!("#task-{first}");
    let shown = chrome.wait_text(&one, "weekly report").await;
    for part in ["report-bot", API, "read", "15 minute(s)", "Approve by"] {
        assert!(shown.contains(part), "{part} not shown: {shown}");
    }
    assert!(chrome
        .text(&format!("#task-{second}"))
        .await
        .contains("export every customer record"));
    chrome.shot("tasks-me").await;

    // The page's approval, as it goes to the server, kept aside (an
    // attacker with script in the page, or a copy of the request).
    chrome
        .eval(
            r#"(() => {
                const send = window.fetch;
                window.fetch = (url, init) => {
                    if (String(url).endsWith("/approve")) sessionStorage.setItem("kept", init.body);
                    return send(url, init);
                };
            })()"#,
        )
        .await;
    chrome.click(&format!("{one} button.approve-task")).await;
    chrome.wait_text("#notice", "Task approved").await;
    chrome.wait_text(&one, "Running").await;

    // The kept assertion, sent to approve the second task.
    let status = chrome
        .eval(&format!(
            r#"fetch("/me/tasks/{second}/approve", {{
                method: "POST", credentials: "same-origin",
                headers: {{ "Content-Type": "application/json" }},
                body: sessionStorage.getItem("kept"),
            }}).then(r => r.status)"#
        ))
        .await;
    assert_eq!(status, Some(json!(400)));
    chrome.goto("/me").await;
    chrome
        .wait_text(&format!("#task-{second}"), "Waiting for your approval")
        .await;
    chrome.wait_text(&one, "Running").await;

    let (_, audit) = server.cli(&["audit", "export"]);
    let refusal = audit
        .lines()
        .find(|l| l.contains("task.approve") && l.contains(&second))
        .unwrap_or_else(|| panic!("no refusal for the second task:\n{audit}"));
    assert!(
        refusal.contains("task_approval_challenge_mismatch"),
        "{refusal}"
    );
    assert!(audit
        .lines()
        .any(|l| l.contains("task.approve") && l.contains(&first) && l.contains("approval_tier")));
    chrome.close().await;
}
