//! The acceptance item of issue 18 with real third-party clients: a
//! Python agent (py-spiffe, requests, Authlib, pydpop — unchanged, from
//! PyPI) against `keybound serve` on SQLite serving its own Workload API
//! (`--workload-socket`), with nginx's `auth_request` in front of an API.
//! The commands are the ones docs/manual/agents.md shows.

use std::time::{Duration, Instant};

use base64::Engine as _;
use keybound_soft_authenticator::{Algorithm, Authenticator, Ceremony, Credential};
use serde_json::{json, Value};

use super::client;
use super::stack::*;
use crate::support::http::{challenge, decode, Browser};
use crate::support::{policy_dir, Server};

/// This process's uid: the workload entry's selector.
fn own_uid() -> u32 {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata("/proc/self").unwrap().uid()
}

/// Enrols `name` from an invitation on a server whose RP ID is
/// `localhost`; the signed-in browser and the credential.
fn enrol(server: &Server, origin: &str, auth: &Authenticator, name: &str) -> (Browser, Credential) {
    let (ok, url) = server.cli(&["admin", "invite", name]);
    assert!(ok);
    let token = url.trim().split("token=").nth(1).unwrap().to_owned();
    let mut browser = server.browser();
    let (status, options) = browser.post_json(
        "/attestation/options",
        &json!({"username": name, "token": token}),
    );
    assert_eq!(status, 200, "{options}");
    let user = decode(options["user"]["id"].as_str().unwrap());
    let c = challenge(&options);
    let ceremony = Ceremony {
        rp_id: "localhost",
        origin,
        challenge: &c,
    };
    let (cred, answer) = auth.register(Algorithm::Es256, &ceremony, &user);
    let (status, reply) = browser.post_json("/attestation/result", &answer);
    assert_eq!(status, 200, "{reply}");
    (browser, cred)
}

/// The claims of a compact JWT, unverified (the test reads what was
/// issued; the resource server's checks are keybound's).
fn claims_of(jwt: &str) -> (Value, Value) {
    let part = |i: usize| -> Value {
        let text = jwt.split('.').nth(i).unwrap();
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text)
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    };
    (part(0), part(1))
}

#[test]
fn a_python_agent_gets_a_dpop_bound_task_token_and_calls_an_api_behind_nginx() {
    let Some(nginx_bin) = tool("/usr/sbin/nginx", "the agent acceptance test") else {
        return;
    };
    let Some(python) = client::python() else {
        return;
    };
    let api = app();
    let api_port = free_port();
    let api_host = format!("127.0.0.1:{api_port}");
    let resource = format!("http://{api_host}/reports/");
    let kb_port = free_port();
    let origin = format!("http://localhost:{kb_port}");
    let scratch = tempfile::tempdir().unwrap();
    let socket = scratch.path().join("api.sock");
    let policies = policy_dir(&agent_policies(&api_host, false));
    let server = Server::start_on(
        &format!("127.0.0.1:{kb_port}"),
        "localhost",
        &origin,
        &[
            "--workload-socket",
            socket.to_str().unwrap(),
            "--policy-dir",
            policies.path().to_str().unwrap(),
            "--trusted-proxy",
            "127.0.0.1",
        ],
    );
    let _nginx = nginx(&nginx_bin, api_port, server.port, api.port);

    // Alice signs in; the reports app (an OIDC client) holds her access
    // token: the delegation.
    let auth = Authenticator::default();
    let (mut browser, mut cred) = enrol(&server, &origin, &auth, "alice");
    let (client_id, secret) = add_client(&server, "reports-ui");
    let alice_token = person_access_token(&server, &browser, &client_id, &secret);

    // The agent: an identity of kind agent owned by alice, proving itself
    // with the JWT-SVID of its SPIFFE ID, which the local node serves to
    // this uid.
    let spiffe_id = "spiffe://localhost/agents/report-bot";
    let (ok, out) = server.cli(&[
        "agents",
        "add",
        "report-bot",
        "--owner",
        "alice",
        "--spiffe-id",
        spiffe_id,
    ]);
    assert!(ok, "{out}");
    let selector = format!("unix:uid:{}", own_uid());
    let (ok, out) = server.cli(&[
        "workload",
        "entry",
        "add",
        "--spiffe-id",
        spiffe_id,
        "--parent",
        "local",
        "--selector",
        &selector,
        "--owner",
        "alice",
    ]);
    assert!(ok, "{out}");
    let started = Instant::now();
    let svid = loop {
        let got = client::try_step(&python, Some(&socket), &["svid", &origin]);
        if let Some(got) = got {
            break got;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no JWT-SVID for the agent from the Workload API"
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(svid["spiffe_id"], spiffe_id);
    let svid = svid["svid"].as_str().unwrap().to_owned();

    // The agent asks for a task for alice: policy lets it ask, and says
    // alice must approve.
    let body = json!({
        "delegator": "alice",
        "resources": [resource],
        "actions": ["read"],
        "lifetime_s": 900,
        "purpose": "weekly report",
    });
    let asked = client::step(
        &python,
        None,
        &["request", &origin, &svid, &body.to_string()],
    );
    assert_eq!(asked["status"], 201, "{asked}");
    let task = &asked["body"];
    assert_eq!(task["status"], "pending", "{task}");
    let task_id = task["task_id"].as_str().unwrap().to_owned();
    assert!(
        task["approve_url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/me#task-{task_id}")),
        "{task}"
    );

    let keyfile = scratch.path().join("report-bot.dpop.jwk.json");
    let keyfile = keyfile.to_str().unwrap();
    let token_url = format!("{origin}/oauth2/token");
    let form = json!({
        "subject_token": alice_token,
        "subject_token_type": ACCESS_TOKEN_TYPE,
        "actor_token": svid,
        "actor_token_type": JWT_TYPE,
        "resource": resource,
        "scope": "read",
        "task_id": task_id,
    })
    .to_string();

    // Not approved yet: nothing to exchange.
    let early = client::step(&python, None, &["exchange", &token_url, keyfile, &form]);
    assert_eq!(early["ok"], false, "{early}");

    // Alice approves on /me with her passkey (in the session her access
    // token belongs to: signing in again would end it).
    let (status, approved) = approve(
        &mut browser,
        &auth,
        &mut cred,
        &task_id,
        "localhost",
        &origin,
    );
    assert_eq!(status, 200, "{approved}");
    let (ok, shown) = server.cli(&["task", "show", &task_id, "--json"]);
    assert!(ok, "{shown}");
    let shown: Value = serde_json::from_str(shown.trim()).unwrap();
    assert_eq!(shown["status"], "active", "{shown}");

    // Token exchange: Authlib with pydpop's proof; keybound asks for a
    // nonce first and pydpop retries with it by itself.
    let got = client::step(&python, None, &["exchange", &token_url, keyfile, &form]);
    assert_eq!(
        got["ok"],
        true,
        "{got}; refusals: {:?}",
        audit(&server)
            .iter()
            .filter(|e| field(e, "outcome") == "failure")
            .map(|e| format!("{} {}", kind(e), field(e, "reason")))
            .collect::<Vec<_>>()
    );
    assert_eq!(got["nonce_retry"], true, "{got}");
    let token = &got["token"];
    assert_eq!(token["token_type"], "DPoP", "{token}");
    assert_eq!(token["issued_token_type"], ACCESS_TOKEN_TYPE, "{token}");
    assert_eq!(token["scope"], "read", "{token}");
    let access_token = token["access_token"].as_str().unwrap().to_owned();
    let (header, claims) = claims_of(&access_token);
    assert_eq!(header["typ"], "at+jwt", "{header}");
    assert_eq!(claims["sub"], "alice", "{claims}");
    assert_eq!(claims["act"]["sub"], "report-bot", "{claims}");
    assert_eq!(claims["client_id"], "report-bot", "{claims}");
    assert_eq!(claims["task_id"], task_id.as_str(), "{claims}");
    assert_eq!(claims["aud"], resource.as_str(), "{claims}");
    assert!(claims["cnf"]["jkt"].is_string(), "{claims}");
    assert!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap() <= 300,
        "minutes, not hours: {claims}"
    );

    // The API through nginx: `Authorization: DPoP` and a fresh proof (with
    // `ath`) each request; keybound's nonce comes back through nginx.
    let url = format!("http://{api_host}/reports/weekly?week=48");
    let call = client::step(&python, None, &["call", &url, keyfile, &access_token]);
    assert_eq!(call["status"], 200, "{call}");
    let seen = call["body"].as_str().unwrap();
    assert!(seen.contains("remote-user: alice"), "{seen}");
    assert!(seen.contains("remote-agent: report-bot"), "{seen}");
    assert!(seen.contains(&format!("remote-task: {task_id}")), "{seen}");
    assert!(seen.contains("remote-groups: agent"), "{seen}");
    let again = client::step(&python, None, &["call", &url, keyfile, &access_token]);
    assert_eq!(
        again["status"], 200,
        "a second request, a second proof: {again}"
    );
    let reached = api.reached.lock().unwrap().len();

    // A copy of the token without the agent's key: refused.
    let thief = scratch.path().join("thief.jwk.json");
    let stolen = client::step(
        &python,
        None,
        &["call", &url, thief.to_str().unwrap(), &access_token],
    );
    assert_eq!(stolen["status"], 401, "{stolen}");
    assert!(
        stolen["www_authenticate"]
            .as_str()
            .unwrap()
            .starts_with("DPoP"),
        "{stolen}"
    );
    // Outside the task's resource: refused.
    let elsewhere = format!("http://{api_host}/billing/");
    let outside = client::step(&python, None, &["call", &elsewhere, keyfile, &access_token]);
    assert_eq!(outside["status"], 401, "{outside}");
    assert_eq!(
        api.reached.lock().unwrap().len(),
        reached,
        "nothing refused reached the API"
    );

    // The agent ends its task: the next request is refused.
    let ended = client::step(&python, None, &["end", &origin, &svid, &task_id]);
    assert_eq!(ended["status"], 204, "{ended}");
    let after = client::step(&python, None, &["call", &url, keyfile, &access_token]);
    assert_eq!(after["status"], 401, "{after}");
    assert_eq!(api.reached.lock().unwrap().len(), reached);

    // The whole chain is in the audit log, alice -> report-bot -> task.
    let events = audit(&server);
    for k in [
        "agent.add",
        "task.request",
        "task.approve",
        "task.token",
        "task.end",
    ] {
        let event = events
            .iter()
            .find(|e| kind(e) == k && field(e, "outcome") != "failure")
            .unwrap_or_else(|| panic!("no {k} in the audit log"));
        let text = event.to_string();
        assert!(text.contains("report-bot"), "{k}: {text}");
        if k.starts_with("task.") {
            assert!(text.contains(&task_id), "{k}: {text}");
        }
    }
    let approval = events
        .iter()
        .find(|e| kind(e) == "task.approve" && field(e, "outcome") == "success")
        .unwrap();
    assert!(approval.to_string().contains("approval_tier"), "{approval}");
    let token_event = events
        .iter()
        .find(|e| kind(e) == "task.token" && field(e, "outcome") == "success")
        .unwrap();
    assert!(
        token_event
            .to_string()
            .contains(&format!("jwt_svid:{spiffe_id}")),
        "the agent's proof is recorded: {token_event}"
    );
    let (ok, verified) = server.cli(&["audit", "verify"]);
    assert!(ok, "{verified}");
}
