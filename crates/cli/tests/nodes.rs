//! Several `keybound serve` processes on one PostgreSQL database, as behind
//! a load balancer: ceremonies cross nodes, a challenge is accepted once
//! however many nodes race for it, a revocation anywhere holds everywhere at
//! once, and the audit chain stays one chain. Then SIGKILL in the middle of
//! load, on both backends: no acknowledged registration is lost, and after
//! a restart every one of them is in a signed checkpoint (issue 19; the
//! sealer's other acceptance tests are in nodes/sealing.rs).
//!
//! The PostgreSQL server is started by `keybound-testdb` for this test
//! binary; without a PostgreSQL installation those tests say so loudly and
//! skip (under `CI` they fail).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

#[path = "nodes/sealing.rs"]
mod sealing;
mod support;

use std::sync::{Arc, Barrier, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use keybound_soft_authenticator::{b64, Algorithm, Authenticator, Credential};
use serde_json::json;
use support::http::{ceremony, challenge, decode, enrol_across, Browser};
use support::Server;

/// Limits off: the tests below are many requests from one address.
const NODE_FLAGS: &[&str] = &[
    "--rate-limit-per-minute",
    "0",
    "--rate-limit-per-identity",
    "0",
];

fn database(test: &str) -> Option<String> {
    Some(keybound_testdb::shared(test)?.fresh_database())
}

fn two_nodes(url: &str) -> (Server, Server) {
    (Server::node(url, NODE_FLAGS), Server::node(url, NODE_FLAGS))
}

/// One sign-in as `name` ("" for username-less): options from `start`, the
/// assertion to `finish`; the HTTP status.
fn sign_in_across(
    start: &Server,
    finish: &Server,
    browser: &mut Browser,
    auth: &Authenticator,
    cred: &mut Credential,
    name: &str,
) -> u16 {
    browser.port = start.port;
    let (status, options) = browser.post_json("/assertion/options", &json!({"username": name}));
    assert_eq!(status, 200);
    let answer = auth.assert(cred, &ceremony(&challenge(&options)));
    browser.port = finish.port;
    browser.post_json("/assertion/result", &answer).0
}

fn verified_events(server: &Server) -> usize {
    let (ok, out) = server.cli(&["audit", "verify"]);
    assert!(ok, "{out}");
    // The chain's line first; the checkpoints' lines follow it.
    out.lines()
        .next()
        .unwrap_or_default()
        .strip_prefix("audit chain verified: ")
        .and_then(|r| r.strip_suffix(" events"))
        .unwrap_or_else(|| panic!("{out}"))
        .parse()
        .unwrap()
}

#[test]
fn a_ceremony_started_on_one_node_finishes_on_the_other() {
    let Some(url) = database("a_ceremony_started_on_one_node_finishes_on_the_other") else {
        return;
    };
    let (a, b) = two_nodes(&url);
    let auth = Authenticator::default();
    let mut browser = a.browser();
    let mut cred = enrol_across(&a, &b, &mut browser, &auth, "ada").0;
    for (start, finish, name) in [(&b, &a, "ada"), (&a, &b, ""), (&b, &a, "")] {
        assert_eq!(
            sign_in_across(start, finish, &mut browser, &auth, &mut cred, name),
            200,
            "options from :{}, answer to :{}, name {name:?}",
            start.port,
            finish.port
        );
    }
    // A browser session is one session on every node.
    browser.port = b.port;
    let (status, _) = browser.post_json("/attestation/options", &json!({}));
    assert_eq!(status, 200, "signed in on a, recognised by b");
    assert_eq!(
        verified_events(&a),
        7,
        "two node starts, invite, enrol, three sign-ins"
    );
}

#[test]
fn a_challenge_answered_on_both_nodes_at_once_is_accepted_once() {
    let Some(url) = database("a_challenge_answered_on_both_nodes_at_once_is_accepted_once") else {
        return;
    };
    let (a, b) = two_nodes(&url);
    let auth = Authenticator::default();
    let mut browser = a.browser();
    let mut cred = enrol_across(&a, &b, &mut browser, &auth, "ada").0;
    const ROUNDS: usize = 25;
    const RACERS: usize = 8;
    for round in 0..ROUNDS {
        browser.port = a.port;
        let (_, options) = browser.post_json("/assertion/options", &json!({"username": "ada"}));
        let answer = auth.assert(&mut cred, &ceremony(&challenge(&options)));
        let start = Arc::new(Barrier::new(RACERS));
        let racers: Vec<_> = (0..RACERS)
            .map(|i| {
                let mut browser = browser.clone();
                browser.port = if i % 2 == 0 { a.port } else { b.port };
                let answer = answer.clone();
                let start = start.clone();
                thread::spawn(move || {
                    start.wait();
                    browser.post_json("/assertion/result", &answer).0
                })
            })
            .collect();
        let statuses: Vec<u16> = racers.into_iter().map(|r| r.join().unwrap()).collect();
        if statuses.iter().filter(|s| **s == 200).count() != 1 {
            let (_, export) = a.cli(&["audit", "export"]);
            let tail: Vec<&str> = export.lines().rev().take(RACERS).collect();
            panic!("round {round}: {statuses:?}; last events: {tail:#?}");
        }
        let (_, creds) = a.cli(&["admin", "credentials", "ada"]);
        if !creds.contains("active") {
            panic!("round {round}: a lost race must not look like a clone: {creds}");
        }
        assert!(
            statuses.iter().all(|s| *s == 200 || *s == 400),
            "{statuses:?}"
        );
    }
    let (_, export) = a.cli(&["audit", "export"]);
    let signed_in = export
        .lines()
        .filter(|l| l.contains("\"kind\":\"authentication\"") && l.contains("\"success\""))
        .count();
    assert_eq!(signed_in, ROUNDS, "one success per challenge");
    assert_eq!(
        verified_events(&b),
        // Each node's start (server.start), the invitation and enrolment,
        // then every answer.
        2 + 2 + ROUNDS * RACERS,
        "every answer recorded once, in one chain"
    );
}

#[test]
fn a_credential_revoked_through_one_node_is_refused_at_once_by_the_other() {
    let Some(url) =
        database("a_credential_revoked_through_one_node_is_refused_at_once_by_the_other")
    else {
        return;
    };
    let (a, b) = two_nodes(&url);
    let auth = Authenticator::default();
    // Ada enrols on a and is signed in there; her phone signs in on b.
    let mut on_a = a.browser();
    let mut cred = enrol_across(&a, &a, &mut on_a, &auth, "ada").0;
    let mut on_b = b.browser();
    assert_eq!(
        sign_in_across(&b, &b, &mut on_b, &auth, &mut cred, "ada"),
        200
    );
    let (status, _) = on_b.post_json("/attestation/options", &json!({}));
    assert_eq!(status, 200, "b's session works");

    // Revoked in a's /me ...
    let path = format!("/me/credentials/{}/revoke", b64(&cred.id));
    let (status, _) = on_a.post_form(&path, "confirm=yes");
    assert_eq!(status, 303);

    // ... b refuses it at once: no sign-in, and its session is dead.
    assert_eq!(
        sign_in_across(&b, &b, &mut on_b, &auth, &mut cred, "ada"),
        400
    );
    let (status, _) = on_b.post_json("/attestation/options", &json!({}));
    assert_eq!(status, 403, "the session made with it ended everywhere");
    assert!(verified_events(&b) >= 5);
}

/// Forward-auth decides from each node's memory; a revocation committed
/// through one node must be seen by the other within a second (it follows
/// the audit log every 200 ms), and by the node that made it at once.
#[test]
fn forward_auth_on_another_node_refuses_a_revoked_credential_within_a_second() {
    let Some(url) = database("forward_auth_on_another_node_refuses_a_revoked_credential") else {
        return;
    };
    let policies = support::policy_dir(&support::app_policies("app.kb.test"));
    let flags: Vec<&str> = NODE_FLAGS
        .iter()
        .copied()
        .chain(["--trusted-proxy", "127.0.0.1"])
        .chain(["--policy-dir", policies.path().to_str().unwrap()])
        .collect();
    let (a, b) = (Server::node(&url, &flags), Server::node(&url, &flags));
    let auth = Authenticator::default();
    let mut on_a = a.browser();
    let cred = enrol_across(&a, &a, &mut on_a, &auth, "ada").0;
    let asks = [("X-Original-URL", "https://app.kb.test/page")];
    let mut on_b = on_a.clone();
    on_b.port = b.port;
    for _ in 0..3 {
        let (status, head) = on_b.get("/api/authz/auth-request", &asks);
        assert_eq!(status, 200, "{head}");
        assert!(head.contains("remote-user: ada"), "{head}");
    }
    assert_eq!(on_a.get("/api/authz/auth-request", &asks).0, 200);

    let path = format!("/me/credentials/{}/revoke", b64(&cred.id));
    let (status, _) = on_a.post_form(&path, "confirm=yes");
    assert_eq!(status, 303);
    let revoked = Instant::now();
    // The node that revoked refuses the very next request.
    on_a.cookies = on_b.cookies.clone();
    assert_eq!(on_a.get("/api/authz/auth-request", &asks).0, 401);
    // The other within a second.
    loop {
        let (status, _) = on_b.get("/api/authz/auth-request", &asks);
        if status == 401 {
            break;
        }
        assert_eq!(status, 200);
        assert!(
            revoked.elapsed() < Duration::from_secs(1),
            "node b still granted a revoked credential after a second"
        );
        thread::sleep(Duration::from_millis(20));
    }
    eprintln!("node b refused after {:?}", revoked.elapsed());
}

#[test]
fn the_audit_chain_stays_one_chain_with_both_nodes_writing() {
    let Some(url) = database("the_audit_chain_stays_one_chain_with_both_nodes_writing") else {
        return;
    };
    let (a, b) = two_nodes(&url);
    let nodes = Arc::new((a, b));
    const PEOPLE: usize = 4;
    const SIGN_INS: usize = 15;
    let workers: Vec<_> = (0..PEOPLE)
        .map(|p| {
            let nodes = nodes.clone();
            thread::spawn(move || {
                let (a, b) = (&nodes.0, &nodes.1);
                let auth = Authenticator::default();
                let mut browser = a.browser();
                let name = format!("person{p}");
                let mut cred = enrol_across(a, b, &mut browser, &auth, &name).0;
                for i in 0..SIGN_INS {
                    let (start, finish) = if (i + p) % 2 == 0 { (a, b) } else { (b, a) };
                    let who = if i % 3 == 0 { "" } else { name.as_str() };
                    assert_eq!(
                        sign_in_across(start, finish, &mut browser, &auth, &mut cred, who),
                        200
                    );
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    // Each node's start (server.start), then every person's.
    assert_eq!(verified_events(&nodes.0), 2 + PEOPLE * (2 + SIGN_INS));
}

/// Registers as fast as `threads` clients can until the node dies; the
/// names the node acknowledged with "ok".
fn register_until_killed(server: &mut Server, threads: usize, load_for: Duration) -> Vec<String> {
    let acked = Arc::new(Mutex::new(Vec::new()));
    let port = server.port;
    let clients: Vec<_> = (0..threads)
        .map(|t| {
            let acked = acked.clone();
            thread::spawn(move || {
                let auth = Authenticator::default();
                for i in 0.. {
                    let mut browser = Browser {
                        port,
                        cookies: Vec::new(),
                    };
                    let name = format!("load-{t}-{i}");
                    let Ok((200, options)) =
                        browser.try_post_json("/attestation/options", &json!({"username": name}))
                    else {
                        return;
                    };
                    let user = decode(options["user"]["id"].as_str().unwrap());
                    let c = challenge(&options);
                    let (_, answer) = auth.register(Algorithm::Es256, &ceremony(&c), &user);
                    match browser.try_post_json("/attestation/result", &answer) {
                        Ok((200, reply)) if reply["status"] == "ok" => {
                            acked.lock().unwrap().push(name)
                        }
                        Ok(_) => {}
                        Err(_) => return,
                    }
                }
            })
        })
        .collect();
    let started = Instant::now();
    while started.elapsed() < load_for {
        thread::sleep(Duration::from_millis(50));
    }
    server.kill();
    for c in clients {
        c.join().unwrap();
    }
    let names = acked.lock().unwrap().clone();
    names
}

/// SIGKILL under load: nothing acknowledged is lost, and once restarted
/// with `flags` the node seals every acknowledged event.
fn no_acknowledged_registration_is_lost(mut server: Server, db: sealing::Db, flags: &[&str]) {
    let acked = register_until_killed(&mut server, 6, Duration::from_millis(2500));
    assert!(
        acked.len() >= 20,
        "the load ran: {} registrations",
        acked.len()
    );
    let (ok, users) = server.cli(&["admin", "users", "--json"]);
    assert!(ok, "{users}");
    let users: Vec<serde_json::Value> = serde_json::from_str(&users).expect(&users);
    let present: std::collections::HashSet<&str> =
        users.iter().filter_map(|u| u["name"].as_str()).collect();
    let lost: Vec<&String> = acked
        .iter()
        .filter(|n| !present.contains(n.as_str()))
        .collect();
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
    let events = verified_events(&server);
    assert!(
        events >= acked.len(),
        "{events} events for {} registrations",
        acked.len()
    );
    sealing::every_acknowledged_event_is_sealed_after_restart(&mut server, &db, &acked, flags);
}

#[test]
fn sigkill_under_load_loses_no_acknowledged_registration_on_sqlite() {
    let mut flags = vec!["--open-registration"];
    flags.extend_from_slice(NODE_FLAGS);
    let server = Server::start_on(
        "127.0.0.1:0",
        support::http::RP_ID,
        support::http::ORIGIN,
        &flags,
    );
    let db = sealing::Db::sqlite(&server);
    no_acknowledged_registration_is_lost(server, db, &flags);
}

#[test]
fn sigkill_under_load_loses_no_acknowledged_registration_on_postgres() {
    let Some(url) = database("sigkill_under_load_loses_no_acknowledged_registration_on_postgres")
    else {
        return;
    };
    // The log's key sealed under a key-encryption key the restarted
    // process has too, so its checkpoints verify under the same key.
    let keys = tempfile::tempdir().unwrap();
    let kek = keys.path().join("kek");
    std::fs::write(&kek, "33".repeat(32)).unwrap();
    let mut flags = vec![
        "--open-registration",
        "--ca-key-encryption-key-file",
        kek.to_str().unwrap(),
    ];
    flags.extend_from_slice(NODE_FLAGS);
    let db = sealing::Db::Postgres(url.clone());
    no_acknowledged_registration_is_lost(Server::node(&url, &flags), db, &flags);
}
