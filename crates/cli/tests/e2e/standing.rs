//! Issue 14 item 6 with a running server: the admin role and suspension
//! from the CLI, and what they do to sign-ins and sessions.

use super::*;

/// `admin NAME…` on the server's data; (ok, stdout).
fn admin(server: &Server, args: &[&str]) -> (bool, String) {
    let mut all = vec!["admin"];
    all.extend_from_slice(args);
    server.cli(&all)
}

/// A page only a live session sees.
fn signed_in(browser: &mut Browser) -> bool {
    browser.post_json("/attestation/options", &json!({})).0 == 200
}

#[test]
fn suspend_ends_sessions_refuses_sign_in_and_resume_restores() {
    let server = Server::start();
    let auth = Authenticator::default();
    let mut browser = server.browser();
    let (mut ada_key, _) = enrol(&server, &mut browser, &auth, "ada");
    let mut ada = browser.clone();
    let mut bob_browser = server.browser();
    let (mut bob_key, _) = enrol(&server, &mut bob_browser, &auth, "bob");

    // ada becomes the one administrator: neither demoted nor suspended.
    assert!(admin(&server, &["promote", "ada"]).0);
    let (ok, _) = admin(&server, &["demote", "ada"]);
    assert!(!ok, "the last active administrator");
    let (ok, _) = admin(&server, &["suspend", "ada"]);
    assert!(!ok, "the last active administrator");
    // Nor offboarded (issue 14 review): that too would leave none.
    let (ok, _) = admin(&server, &["offboard", "ada"]);
    assert!(!ok, "the last active administrator is not offboarded");
    let (_, users) = admin(&server, &["users", "--json"]);
    let users: serde_json::Value = serde_json::from_str(&users).unwrap();
    assert_eq!(users[0]["name"], "ada");
    assert_eq!(users[0]["status"], "active");

    // bob is suspended: his session ends, he cannot sign in.
    assert!(signed_in(&mut bob_browser));
    let (ok, out) = admin(&server, &["suspend", "bob"]);
    assert!(ok);
    assert!(out.contains("suspended 'bob': 1 sessions ended"), "{out}");
    assert!(!signed_in(&mut bob_browser), "the session ended");
    for name in ["bob", ""] {
        assert_eq!(
            sign_in(
                &mut bob_browser,
                &auth,
                &mut bob_key,
                name,
                &Tweaks::default()
            ),
            400,
            "suspended"
        );
    }
    let (ok, _) = admin(&server, &["suspend", "bob"]);
    assert!(!ok, "already suspended");
    let (_, users) = admin(&server, &["users", "--json"]);
    let users: serde_json::Value = serde_json::from_str(&users).unwrap();
    assert_eq!(users[1]["name"], "bob");
    assert_eq!(users[1]["status"], "suspended");

    // Resumed, the same passkey signs in again.
    assert!(admin(&server, &["resume", "bob"]).0);
    assert_eq!(
        sign_in(
            &mut bob_browser,
            &auth,
            &mut bob_key,
            "bob",
            &Tweaks::default()
        ),
        200
    );
    assert!(signed_in(&mut bob_browser));

    // With bob an administrator too, ada may be demoted; then bob is last.
    assert!(admin(&server, &["promote", "bob"]).0);
    assert!(admin(&server, &["demote", "ada"]).0);
    assert!(!admin(&server, &["suspend", "bob"]).0, "bob is the last");
    assert!(signed_in(&mut ada), "a demotion ends no session");
    assert_eq!(
        sign_in(&mut ada, &auth, &mut ada_key, "ada", &Tweaks::default()),
        200
    );

    let (_, audit) = server.cli(&["audit", "export"]);
    let kinds: Vec<String> = audit
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["outcome"] == "success")
        .filter_map(|e| e["kind"].as_str().map(str::to_owned))
        .filter(|k| k.starts_with("admin.") && k != "admin.invite")
        .collect();
    assert_eq!(
        kinds,
        [
            "admin.grant_role",
            "admin.suspend",
            "admin.resume",
            "admin.grant_role",
            "admin.revoke_role"
        ]
    );
    let refusals = audit
        .lines()
        .filter(|l| l.contains("\"reason\":\"last_admin\""))
        .count();
    // Three from before, and the refused offboarding.
    assert_eq!(refusals, 4, "each refusal on the record");
    let (_, verified) = server.cli(&["audit", "verify"]);
    assert!(verified.contains("verified"), "{verified}");
}
