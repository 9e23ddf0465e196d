//! `--policy-dir` through the real binary: an invalid policy stops `serve`
//! and `check-config` naming the file; while serving, an invalid change is
//! refused with a log line and the last valid set kept, a valid one
//! replaces it, each load audited with the set's hash; `policy check`
//! explains a decision and refuses nonsense without a panic.

use super::*;
use std::path::Path;
use std::time::{Duration, Instant};

const APP: &str = r#"
@id("app-users")
permit (principal in Keybound::Group::"user", action in Keybound::Action::"http",
        resource in Keybound::App::"app.example.com");
@id("app-admin-tier3")
forbid (principal, action, resource in Keybound::App::"app.example.com")
when { resource.path like "/admin*" && context.tier < 3 };
"#;

/// `keybound ARGS --data-dir DIR`: (exit code, stdout, stderr).
fn run(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env_remove("KEYBOUND_DATABASE_URL")
        .env_remove("KEYBOUND_POLICY_DIR")
        .env_remove("KEYBOUND_CONFIG")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn policy_loads(data: &Path) -> Vec<serde_json::Value> {
    let (code, export, err) = run(data, &["audit", "export"]);
    assert_eq!(code, 0, "{err}");
    export
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["kind"] == "policy.load")
        .collect()
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "waited for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn an_invalid_policy_dir_stops_the_start_naming_the_file() {
    let data = tempfile::tempdir().unwrap();
    let policies = tempfile::tempdir().unwrap();
    std::fs::write(policies.path().join("ok.cedar"), APP).unwrap();
    std::fs::write(
        policies.path().join("broken.cedar"),
        "permit (principal, action, resource) when { context.tierr > 1 };",
    )
    .unwrap();
    let dir = policies.path().to_str().unwrap();
    let (code, out, err) = run(data.path(), &["check-config", "--policy-dir", dir]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("broken.cedar") || err.contains("broken.cedar"),
        "{out}{err}"
    );
    let (code, out, err) = run(
        data.path(),
        &["serve", "--listen", "127.0.0.1:0", "--policy-dir", dir],
    );
    assert_ne!(code, 0, "{out}");
    assert!(
        (out.clone() + &err).contains("broken.cedar") && (out + &err).contains("schema"),
        "the file and the problem are named"
    );
    let (code, _, err) = run(
        data.path(),
        &["check-config", "--policy-dir", "/nonexistent/policies"],
    );
    assert_eq!(code, 1, "{err}");
}

#[test]
fn a_bad_reload_keeps_the_last_valid_set_and_a_good_one_replaces_it() {
    let data = tempfile::tempdir().unwrap();
    let policies = tempfile::tempdir().unwrap();
    std::fs::write(policies.path().join("app.cedar"), APP).unwrap();
    let log = data.path().join("serve.log");
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--policy-dir"])
        .arg(policies.path())
        .arg("--data-dir")
        .arg(data.path())
        .env_remove("KEYBOUND_DATABASE_URL")
        .env_remove("KEYBOUND_CONFIG")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let _server = Server(child);
    assert!(first.contains("listening"), "{first}");

    let loads = policy_loads(data.path());
    assert_eq!(loads.len(), 1, "the start's load: {loads:?}");
    let start_hash = loads[0]["details"]["hash"].as_str().unwrap().to_owned();
    assert_eq!(start_hash.len(), 64);
    assert_eq!(loads[0]["outcome"], "success");

    // A bad file: refused, logged, audited; the start's set is kept.
    std::fs::write(
        policies.path().join("zz-bad.cedar"),
        "permit (principal, action, resource",
    )
    .unwrap();
    wait_for("the refusal's log line", || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("policy reload refused")
    });
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains("zz-bad.cedar"), "{logged}");
    let loads = policy_loads(data.path());
    let refused = loads.last().unwrap();
    assert_eq!(refused["outcome"], "failure");
    assert!(refused["reason"].as_str().unwrap().contains("zz-bad.cedar"));
    assert_eq!(
        refused["details"]["kept"],
        start_hash.as_str(),
        "the last valid set stays"
    );

    // A good change: loaded, with a new hash.
    std::fs::remove_file(policies.path().join("zz-bad.cedar")).unwrap();
    std::fs::write(
        policies.path().join("more.cedar"),
        "@id(\"no-delete\") forbid (principal, action == Keybound::Action::\"DELETE\", resource);",
    )
    .unwrap();
    wait_for("the reload", || {
        policy_loads(data.path())
            .iter()
            .filter(|e| e["outcome"] == "success")
            .count()
            == 2
    });
    let loads = policy_loads(data.path());
    let reloaded = loads.last().unwrap();
    assert_eq!(reloaded["details"]["load"], "reload");
    assert_ne!(reloaded["details"]["hash"], start_hash.as_str());
    let (code, verified, _) = run(data.path(), &["audit", "verify"]);
    assert_eq!(code, 0, "{verified}");
}

#[test]
fn policy_check_explains_and_refuses_nonsense() {
    let data = tempfile::tempdir().unwrap();
    let policies = tempfile::tempdir().unwrap();
    std::fs::write(policies.path().join("app.cedar"), APP).unwrap();
    let dir = policies.path().to_str().unwrap();
    // No database yet: refused as the admin commands refuse it.
    let check = |extra: &[&str]| {
        let mut args = vec!["policy", "check", "--policy-dir", dir];
        args.extend_from_slice(extra);
        run(data.path(), &args)
    };
    let (code, _, err) = check(&[
        "--principal",
        "ann",
        "--action",
        "GET",
        "--resource",
        "app.example.com/",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("no keybound database"), "{err}");
    assert_eq!(run(data.path(), &["init"]).0, 0);
    assert_eq!(run(data.path(), &["admin", "invite", "ann"]).0, 0);

    let (code, out, err) = check(&[
        "--principal",
        "ann",
        "--action",
        "GET",
        "--resource",
        "https://app.example.com/x",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("allowed") && out.contains("app-users"),
        "{out}"
    );

    let (code, out, _) = check(&[
        "--principal",
        "ann",
        "--action",
        "GET",
        "--resource",
        "https://app.example.com/admin/x",
        "--context",
        "{\"tier\": 2}",
        "--json",
    ]);
    assert_eq!(code, 3, "step-up: {out}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["decision"], "step_up");
    assert_eq!(report["step_up_tier"], 3);
    assert_eq!(report["policies"][0], "app-admin-tier3");

    let (code, out, _) = check(&[
        "--principal",
        "ann",
        "--action",
        "GET",
        "--resource",
        "other.example.com/",
    ]);
    assert_eq!(code, 2, "denied: {out}");
    assert!(out.contains("default deny"), "{out}");

    for (args, said) in [
        (
            [
                "--principal",
                "nobody",
                "--action",
                "GET",
                "--resource",
                "app.example.com/",
            ],
            "no identity named",
        ),
        (
            [
                "--principal",
                "ann",
                "--action",
                "FETCH",
                "--resource",
                "app.example.com/",
            ],
            "unknown action",
        ),
        (
            [
                "--principal",
                "ann",
                "--action",
                "GET",
                "--resource",
                "https:///",
            ],
            "resource",
        ),
    ] {
        let (code, _, err) = check(&args);
        assert_eq!(code, 1, "{args:?}");
        assert!(err.contains(said), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    for context in ["{", "{\"tier\": \"high\"}", "{\"tierr\": 2}", "[]"] {
        let (code, _, err) = check(&[
            "--principal",
            "ann",
            "--action",
            "GET",
            "--resource",
            "app.example.com/",
            "--context",
            context,
        ]);
        assert_eq!(code, 1, "{context}");
        assert!(err.contains("--context"), "{context}: {err}");
    }
}

#[test]
fn policy_check_asks_the_task_actions() {
    let data = tempfile::tempdir().unwrap();
    let policies = tempfile::tempdir().unwrap();
    std::fs::write(
        policies.path().join("tasks.cedar"),
        r#"@id("pay-tier3") forbid (principal, action == Keybound::Action::"task:approve",
              resource == Keybound::Api::"https://pay.example.test/") when { context.tier < 3 };"#,
    )
    .unwrap();
    let dir = policies.path().to_str().unwrap();
    assert_eq!(run(data.path(), &["init"]).0, 0);
    assert_eq!(run(data.path(), &["admin", "invite", "ann"]).0, 0);
    let check = |action: &str, context: &str| {
        run(
            data.path(),
            &[
                "policy",
                "check",
                "--policy-dir",
                dir,
                "--principal",
                "ann",
                "--action",
                action,
                "--resource",
                "api:https://pay.example.test/",
                "--context",
                context,
                "--json",
            ],
        )
    };
    // No task:request permit: the default deny.
    let (code, out, err) = check("task:request", r#"{"actions": ["pay"]}"#);
    assert_eq!(code, 2, "{out}{err}");
    // A tier-2 approval is denied by the forbid, not offered a step-up.
    let (code, out, err) = check(
        "task:approve",
        r#"{"actions": ["pay"], "delegator": "ann", "tier": 2, "user_verified": true}"#,
    );
    assert_eq!(code, 2, "{out}{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["decision"], "deny");
    assert_eq!(report["policies"][0], "pay-tier3");
    let (code, out, err) = check(
        "task:approve",
        r#"{"actions": ["pay"], "tier": 3, "user_verified": true}"#,
    );
    assert_eq!(code, 0, "{out}{err}");
    // Task facts on another action are refused.
    let (code, _, err) = run(
        data.path(),
        &[
            "policy",
            "check",
            "--policy-dir",
            dir,
            "--principal",
            "ann",
            "--action",
            "GET",
            "--resource",
            "app.example.com/",
            "--context",
            r#"{"actions": ["pay"]}"#,
        ],
    );
    assert_eq!(code, 1);
    assert!(err.contains("task actions"), "{err}");
}
