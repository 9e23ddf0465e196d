//! The hostile list of issue 18 against two `keybound serve` nodes on one
//! PostgreSQL database (keybound-testdb): each attempt is refused with
//! the RFC's error, issues nothing, and leaves a failure in the audit log.
//! Proofs and assertions are made by hand here so that each is wrong in
//! exactly one way; the agent is registered with its key.

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use keybound_jose::SigningKey;
use keybound_soft_authenticator::Authenticator;
use serde_json::{json, Value};

use super::stack::*;
use crate::support::http::{enrol_across, ORIGIN, RP_ID};
use crate::support::{policy_dir, Server};

const API: &str = "https://api.kb.test/reports/";
const OTHER_API: &str = "https://billing.kb.test/";
const AGENT: &str = "report-bot";

/// The limits off: many requests from one address.
const NODE_FLAGS: &[&str] = &[
    "--rate-limit-per-minute",
    "0",
    "--rate-limit-per-identity",
    "0",
    "--trusted-proxy",
    "127.0.0.1",
];

struct Stack {
    a: Server,
    b: Server,
    agent_key: SigningKey,
    alice_token: String,
    bob_token: String,
    /// A nonce per node port, fetched outside the attempts (fetching one
    /// is itself a refused token request, audited).
    nonces: RefCell<HashMap<u16, (String, Instant)>>,
}

impl Stack {
    fn assertion(&self, overrides: Value) -> String {
        agent_assertion(&self.agent_key, AGENT, ORIGIN, overrides)
    }

    /// Fetches a nonce from each node where the one kept is over 20 s old
    /// (every token-endpoint answer carries one; they last two minutes).
    fn refresh_nonces(&self) {
        for node in [&self.a, &self.b] {
            let fresh = self
                .nonces
                .borrow()
                .get(&node.port)
                .is_some_and(|(_, at)| at.elapsed() < Duration::from_secs(20));
            if !fresh {
                let reply = post_form(node, "/oauth2/token", &[], "grant_type=none");
                let nonce = reply
                    .header("dpop-nonce")
                    .unwrap_or_else(|| panic!("no DPoP-Nonce: {reply:?}"))
                    .to_owned();
                self.nonces
                    .borrow_mut()
                    .insert(node.port, (nonce, Instant::now()));
            }
        }
    }

    /// The nonce kept for `node`.
    fn nonce(&self, node: &Server) -> String {
        self.refresh_nonces();
        self.nonces.borrow()[&node.port].0.clone()
    }

    /// The agent asks `node` for a task for alice on both APIs.
    fn task(&self, node: &Server) -> String {
        let body = json!({
            "delegator": "alice",
            "resources": [API, OTHER_API],
            "actions": ["read"],
            "lifetime_s": 600,
            "purpose": "hostile test",
        });
        let bearer = format!("Bearer {}", self.assertion(json!({})));
        let reply = raw(
            node.port,
            "POST",
            "/agents/v1/tasks",
            &[
                ("Authorization", &bearer),
                ("Content-Type", "application/json"),
            ],
            body.to_string().as_bytes(),
        );
        assert_eq!(reply.status, 201, "{}", reply.body);
        let task = reply.json();
        assert_eq!(task["status"], "active", "unattended by policy: {task}");
        task["task_id"].as_str().unwrap().to_owned()
    }

    /// A token-exchange form for `task` (alice's delegation, the agent's
    /// fresh assertion as actor, resource A).
    fn form(&self, task: &str, subject: &str, actor: &str) -> String {
        format!(
            "grant_type={}&subject_token={}&subject_token_type={}&actor_token={}\
             &actor_token_type={}&resource={}&scope=read&task_id={}",
            enc(TOKEN_EXCHANGE),
            enc(subject),
            enc(ACCESS_TOKEN_TYPE),
            enc(actor),
            enc(JWT_TYPE),
            enc(API),
            enc(task)
        )
    }

    fn exchange(&self, node: &Server, form: &str, proof: &str) -> Reply {
        post_form(node, "/oauth2/token", &[("DPoP", proof)], form)
    }

    /// A good proof for the token endpoint of `node`.
    fn token_proof(&self, key: &SigningKey, node: &Server) -> String {
        dpop(
            key,
            "POST",
            &format!("{ORIGIN}/oauth2/token"),
            json!({"nonce": self.nonce(node)}),
            json!({}),
        )
    }

    /// Forward-auth on `node` for a GET of `url` with `token` and `proof`.
    fn forward(&self, node: &Server, url: &str, token: &str, proof: Option<&str>) -> Reply {
        let auth = format!("DPoP {token}");
        let mut headers = vec![
            ("X-Original-URL", url),
            ("X-Original-Method", "GET"),
            ("Authorization", auth.as_str()),
        ];
        if let Some(p) = proof {
            headers.push(("DPoP", p));
        }
        raw(node.port, "GET", "/api/authz/auth-request", &headers, b"")
    }

    /// A good proof for a GET of `url` with `token` on `node`.
    fn api_proof(&self, key: &SigningKey, node: &Server, url: &str, token: &str) -> String {
        dpop(
            key,
            "GET",
            url,
            json!({"ath": ath(token), "nonce": self.nonce(node)}),
            json!({}),
        )
    }
}

fn stack(url: &str, policies: &tempfile::TempDir) -> Stack {
    let flags: Vec<&str> = NODE_FLAGS
        .iter()
        .copied()
        .chain(["--policy-dir", policies.path().to_str().unwrap()])
        .collect();
    let (a, b) = (Server::node(url, &flags), Server::node(url, &flags));
    let auth = Authenticator::default();
    let mut alice = a.browser();
    enrol_across(&a, &a, &mut alice, &auth, "alice");
    let mut bob = a.browser();
    enrol_across(&a, &a, &mut bob, &auth, "bob");
    let (client_id, secret) = add_client(&a, "reports-ui");
    let alice_token = person_access_token(&a, &alice, &client_id, &secret);
    let bob_token = person_access_token(&a, &bob, &client_id, &secret);
    let agent_key = fresh_key();
    let key_file = a.dir.path().join("report-bot.jwk.json");
    std::fs::write(
        &key_file,
        agent_key.public_jwk(None).unwrap().to_json().to_string(),
    )
    .unwrap();
    let (ok, out) = a.cli(&[
        "agents",
        "add",
        AGENT,
        "--owner",
        "alice",
        "--key-file",
        key_file.to_str().unwrap(),
    ]);
    assert!(ok, "{out}");
    Stack {
        a,
        b,
        agent_key,
        alice_token,
        bob_token,
        nonces: RefCell::new(HashMap::new()),
    }
}

/// Counts before `attempt`, then: nothing more issued, and at least one
/// more failure in the audit log.
#[track_caller]
fn refused_and_audited(s: &Stack, server: &Server, what: &str, attempt: impl FnOnce()) {
    s.refresh_nonces();
    let before = audit(server);
    let failures = |events: &[Value]| {
        events
            .iter()
            .filter(|e| field(e, "outcome") == "failure")
            .count()
    };
    attempt();
    let after = audit(server);
    assert_eq!(issued(&after), issued(&before), "{what}: nothing issued");
    assert!(
        failures(&after) > failures(&before),
        "{what}: a failure is audited; new events: {:?}",
        after.get(before.len()..)
    );
}

#[track_caller]
fn oauth_error(reply: &Reply, status: u16, error: &str) {
    assert_eq!(reply.status, status, "{}", reply.body);
    assert_eq!(reply.json()["error"], error, "{}", reply.body);
    assert!(reply.json().get("access_token").is_none());
}

#[track_caller]
fn unauthorized(reply: &Reply, errors: &[&str]) {
    assert_eq!(reply.status, 401, "{reply:?}");
    let challenge = reply.header("www-authenticate").unwrap_or_default();
    assert!(challenge.starts_with("DPoP"), "{reply:?}");
    assert!(
        errors
            .iter()
            .any(|e| challenge.contains(&format!("error=\"{e}\""))),
        "{challenge} is none of {errors:?}"
    );
    assert!(reply.header("remote-user").is_none(), "{reply:?}");
}

#[test]
fn the_hostile_list_on_two_nodes_is_refused_with_the_rfc_errors_and_audited() {
    let Some(db) = keybound_testdb::shared("agents_hostile_list") else {
        return;
    };
    let url = db.fresh_database();
    let policies = policy_dir(&agent_policies("api.kb.test", true));
    let s = stack(&url, &policies);
    let (a, b) = (&s.a, &s.b);
    let task = s.task(a);
    let key = fresh_key();
    let page = format!("{API}weekly");

    // The happy path on both nodes, by hand.
    let form = s.form(&task, &s.alice_token, &s.assertion(json!({})));
    let reply = s.exchange(a, &form, &s.token_proof(&key, a));
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["token_type"], "DPoP");
    let token = reply.json()["access_token"].as_str().unwrap().to_owned();
    for node in [a, b] {
        let ok = s.forward(
            node,
            &page,
            &token,
            Some(&s.api_proof(&key, node, &page, &token)),
        );
        assert_eq!(ok.status, 200, "{ok:?}");
        assert_eq!(ok.header("remote-user"), Some("alice"));
        assert_eq!(ok.header("remote-agent"), Some(AGENT));
    }

    // Token exchange, each wrong in one way.
    refused_and_audited(&s, a, "no DPoP proof at the token endpoint", || {
        let form = s.form(&task, &s.alice_token, &s.assertion(json!({})));
        let reply = post_form(a, "/oauth2/token", &[], &form);
        oauth_error(&reply, 400, "invalid_request");
    });
    refused_and_audited(&s, a, "alg none", || {
        let form = s.form(&task, &s.alice_token, &s.assertion(json!({})));
        let proof = dpop_unsigned(
            &key,
            "POST",
            &format!("{ORIGIN}/oauth2/token"),
            json!({"nonce": s.nonce(a)}),
        );
        oauth_error(&s.exchange(a, &form, &proof), 400, "invalid_dpop_proof");
    });
    refused_and_audited(&s, a, "a private key in the proof's JWK", || {
        let form = s.form(&task, &s.alice_token, &s.assertion(json!({})));
        let mut jwk = key.public_jwk(None).unwrap().to_json();
        jwk["d"] = json!(b64(&[7u8; 32]));
        let proof = dpop(
            &key,
            "POST",
            &format!("{ORIGIN}/oauth2/token"),
            json!({"nonce": s.nonce(a)}),
            json!({"jwk": jwk}),
        );
        oauth_error(&s.exchange(a, &form, &proof), 400, "invalid_dpop_proof");
    });
    refused_and_audited(&s, a, "a stale iat", || {
        let form = s.form(&task, &s.alice_token, &s.assertion(json!({})));
        let proof = dpop(
            &key,
            "POST",
            &format!("{ORIGIN}/oauth2/token"),
            json!({"nonce": s.nonce(a), "iat": now() - 600}),
            json!({}),
        );
        oauth_error(&s.exchange(a, &form, &proof), 400, "invalid_dpop_proof");
    });
    refused_and_audited(&s, a, "the subject token of another person", || {
        let form = s.form(&task, &s.bob_token, &s.assertion(json!({})));
        oauth_error(
            &s.exchange(a, &form, &s.token_proof(&key, a)),
            400,
            "invalid_grant",
        );
    });
    refused_and_audited(&s, a, "an expired actor token", || {
        let actor = s.assertion(json!({"iat": now() - 120, "exp": now() - 60}));
        let form = s.form(&task, &s.alice_token, &actor);
        oauth_error(
            &s.exchange(a, &form, &s.token_proof(&key, a)),
            400,
            "invalid_grant",
        );
    });
    refused_and_audited(&s, a, "a resource the task does not name", || {
        let form = s
            .form(&task, &s.alice_token, &s.assertion(json!({})))
            .replace(&enc(API), &enc("https://payroll.kb.test/"));
        oauth_error(
            &s.exchange(a, &form, &s.token_proof(&key, a)),
            400,
            "invalid_target",
        );
    });

    // Forward-auth, each wrong in one way.
    refused_and_audited(&s, a, "the token without its DPoP proof", || {
        unauthorized(
            &s.forward(a, &page, &token, None),
            &["invalid_token", "invalid_dpop_proof"],
        );
    });
    refused_and_audited(&s, a, "the token as a bearer token", || {
        let bearer = format!("Bearer {token}");
        let reply = raw(
            a.port,
            "GET",
            "/api/authz/auth-request",
            &[
                ("X-Original-URL", page.as_str()),
                ("X-Original-Method", "GET"),
                ("Authorization", bearer.as_str()),
            ],
            b"",
        );
        assert_ne!(reply.status, 200, "{reply:?}");
        assert!(reply.header("remote-user").is_none());
    });
    refused_and_audited(&s, a, "the token with a proof by another key", || {
        let thief = fresh_key();
        let proof = s.api_proof(&thief, a, &page, &token);
        unauthorized(
            &s.forward(a, &page, &token, Some(&proof)),
            &["invalid_token", "invalid_dpop_proof"],
        );
    });
    refused_and_audited(&s, a, "a proof for another URL", || {
        let proof = s.api_proof(&key, a, &format!("{API}other"), &token);
        unauthorized(
            &s.forward(a, &page, &token, Some(&proof)),
            &["invalid_dpop_proof"],
        );
    });
    refused_and_audited(&s, a, "a proof for another method", || {
        let proof = dpop(
            &key,
            "POST",
            &page,
            json!({"ath": ath(&token), "nonce": s.nonce(a)}),
            json!({}),
        );
        unauthorized(
            &s.forward(a, &page, &token, Some(&proof)),
            &["invalid_dpop_proof"],
        );
    });
    refused_and_audited(&s, a, "a stale iat at the API", || {
        let proof = dpop(
            &key,
            "GET",
            &page,
            json!({"ath": ath(&token), "nonce": s.nonce(a), "iat": now() - 600}),
            json!({}),
        );
        unauthorized(
            &s.forward(a, &page, &token, Some(&proof)),
            &["invalid_dpop_proof", "use_dpop_nonce"],
        );
    });
    refused_and_audited(&s, a, "alg none at the API", || {
        let proof = dpop_unsigned(
            &key,
            "GET",
            &page,
            json!({"ath": ath(&token), "nonce": s.nonce(a)}),
        );
        unauthorized(
            &s.forward(a, &page, &token, Some(&proof)),
            &["invalid_dpop_proof"],
        );
    });
    refused_and_audited(&s, a, "a private key in the JWK at the API", || {
        let mut jwk = key.public_jwk(None).unwrap().to_json();
        jwk["d"] = json!(b64(&[7u8; 32]));
        let proof = dpop(
            &key,
            "GET",
            &page,
            json!({"ath": ath(&token), "nonce": s.nonce(a)}),
            json!({"jwk": jwk}),
        );
        unauthorized(
            &s.forward(a, &page, &token, Some(&proof)),
            &["invalid_dpop_proof"],
        );
    });
    refused_and_audited(&s, b, "a proof replayed on the second node", || {
        let proof = s.api_proof(&key, a, &page, &token);
        assert_eq!(s.forward(a, &page, &token, Some(&proof)).status, 200);
        unauthorized(
            &s.forward(b, &page, &token, Some(&proof)),
            &["invalid_dpop_proof"],
        );
    });
    refused_and_audited(&s, a, "the token for resource A at resource B", || {
        let elsewhere = format!("{OTHER_API}invoices");
        let proof = s.api_proof(&key, a, &elsewhere, &token);
        unauthorized(
            &s.forward(a, &elsewhere, &token, Some(&proof)),
            &["invalid_token"],
        );
    });

    // The task ends (an admin, on node a): the next request is refused on
    // both nodes, and introspection says inactive.
    let (ok, out) = a.cli(&["task", "end", &task]);
    assert!(ok, "{out}");
    for node in [a, b] {
        refused_and_audited(&s, node, "the token after its task ended", || {
            let proof = s.api_proof(&key, node, &page, &token);
            unauthorized(
                &s.forward(node, &page, &token, Some(&proof)),
                &["invalid_token"],
            );
        });
    }
    let reply = post_form(b, "/oauth2/revoke", &[], &format!("token={}", enc(&token)));
    assert_eq!(
        reply.status, 200,
        "revocation by presenting the token: {}",
        reply.body
    );
    refused_and_audited(&s, a, "an exchange for the ended task", || {
        let form = s.form(&task, &s.alice_token, &s.assertion(json!({})));
        oauth_error(
            &s.exchange(a, &form, &s.token_proof(&key, a)),
            400,
            "invalid_grant",
        );
    });
    let events = audit(a);
    assert!(
        events.iter().any(|e| kind(e) == "task.end"),
        "the end is audited"
    );
    let (ok, verified) = a.cli(&["audit", "verify"]);
    assert!(ok, "{verified}");
    let _ = RP_ID;
}
