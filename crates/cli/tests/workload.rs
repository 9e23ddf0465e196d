//! `keybound node`, the binary, with real workloads: processes under
//! other uids fetch their SVIDs from its socket with the published `spiffe`
//! crate and talk mTLS to each other with rustls; SVIDs rotate at
//! half-life and through a CA rotation with no failed handshake; an agent
//! stopped (SIGSTOP) past every TTL and a CA rotation recovers by itself;
//! a stopped server is failed over.
//!
//! The upstream here is the fake keybound of the agent's unit tests
//! (`src/node/tests/fake.rs`: the wire protocol, node proofs checked, CAs
//! rotating in SPIRE's phases, listeners sharing one state as servers
//! share one database). Runs as root (CI does): workloads get their own
//! uids. Not root: each test says so and returns.
//!
//! The `real_` tests run the same against `keybound serve` itself: one
//! server on SQLite, and two servers on one PostgreSQL database (started
//! by keybound-testdb) of which the first is killed.
//!
//! `workload::accept`: the published SPIFFE clients' own tests against
//! `keybound serve` + `keybound node` (the acceptance item).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

mod support;

#[path = "../src/node/tests/fake.rs"]
#[allow(dead_code)]
mod fake;
#[path = "../../workload-api/tests/it/spiffe_clients.rs"]
mod spiffe_clients;
mod workload {
    pub mod accept;
    pub mod child;
    pub mod harness;
    pub mod tls;
}

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use fake::{entry, Shared};
use workload::child;
use workload::harness::{wait_for, NodeAgent, Workload};

const SERVER_UID: u32 = 64_101;
const CLIENT_UID: u32 = 64_102;
const STRANGER_UID: u32 = 64_103;

/// The entry point of the workload processes; does nothing in a test run.
#[test]
#[ignore = "the workload processes' entry point (run by the tests below), not a test"]
fn workload_child() {
    if let Ok(role) = std::env::var(child::ROLE) {
        child::main(&role);
    }
}

fn root() -> bool {
    if rustix_uid() == 0 {
        return true;
    }
    eprintln!("!!! not root: workloads cannot get uids of their own; skipped");
    false
}

fn rustix_uid() -> u32 {
    // No libc call: the owner of /proc/self is this process's uid.
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(1)
}

/// The fake with entries `a` (the server's uid) and `b` (the client's).
async fn upstream(listeners: usize, ttl_s: i64) -> Shared {
    let mut a = entry("a", SERVER_UID);
    let mut b = entry("b", CLIENT_UID);
    a.x509_ttl_s = ttl_s as u32;
    b.x509_ttl_s = ttl_s as u32;
    let fake = fake::start_many(vec![a, b], listeners).await;
    fake.lock().unwrap().ttl_s = ttl_s;
    fake
}

fn bases(fake: &Shared) -> Vec<String> {
    fake.lock().unwrap().bases.clone()
}

/// A server workload and a client workload on `agent`, the server's port.
fn pair(agent: &NodeAgent) -> (Workload, Workload, String) {
    let mut server = Workload::spawn("server", SERVER_UID, &agent.socket);
    let port = server.next().strip_prefix("port ").unwrap().to_owned();
    let client = Workload::spawn("client", CLIENT_UID, &agent.socket);
    assert_eq!(client.next(), "ready");
    let _ = &mut server;
    (server, client, port)
}

/// Connects every 200 ms for `span`, asserting each handshake succeeds;
/// returns the distinct client leaves seen. `during` runs once per turn.
fn keep_talking(
    client: &mut Workload,
    port: &str,
    td: &str,
    span: Duration,
    mut during: impl FnMut(Duration),
) -> BTreeSet<String> {
    let start = Instant::now();
    let mut leaves = BTreeSet::new();
    while start.elapsed() < span {
        let answer = client.ask(&format!("connect {port}"));
        let words: Vec<&str> = answer.split_whitespace().collect();
        let (a, b) = (format!("spiffe://{td}/a"), format!("spiffe://{td}/b"));
        assert_eq!(
            words.get(..3),
            Some(&["ok", a.as_str(), b.as_str()][..]),
            "at {:?}: {answer}",
            start.elapsed()
        );
        leaves.insert(words[3].to_owned());
        during(start.elapsed());
        std::thread::sleep(Duration::from_millis(200));
    }
    leaves
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_uids_get_their_own_svids_talk_mtls_and_lose_them_on_removal() {
    if !root() {
        return;
    }
    let fake = upstream(1, 60).await;
    let agent = NodeAgent::start(&bases(&fake), "tok");
    let (_server, mut client, port) = pair(&agent);
    let answer = client.ask(&format!("connect {port}"));
    assert!(
        answer.starts_with("ok spiffe://example.org/a spiffe://example.org/b "),
        "{answer}"
    );
    // A caller no entry matches: PermissionDenied, which the spiffe crate
    // names NoIdentityIssued when the message is SPIRE's "no identity
    // issued".
    let stranger = Workload::spawn("fetch", STRANGER_UID, &agent.socket);
    let refused = stranger.next();
    assert!(
        refused == "err NoIdentityIssued" || refused.starts_with("err PermissionDenied"),
        "{refused}"
    );
    // The client's entry is removed upstream: once its stream delivered
    // the update it has no SVID, and the next handshake fails.
    fake.lock().unwrap().entries.retain(|e| e.id != "b");
    wait_for(
        Duration::from_secs(15),
        "the client's SVID withdrawn",
        || client.ask("id") == "id none",
    );
    let answer = client.ask(&format!("connect {port}"));
    assert!(answer.starts_with("fail"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svids_rotate_at_half_life_and_through_a_ca_rotation_with_no_gap() {
    if !root() {
        return;
    }
    let fake = upstream(1, 4).await;
    let agent = NodeAgent::start(&bases(&fake), "tok");
    let (_server, mut client, port) = pair(&agent);
    // 10 s of 4 s SVIDs: renewed at 2 s, so at least 4 leaves.
    let leaves = keep_talking(
        &mut client,
        &port,
        "example.org",
        Duration::from_secs(10),
        |_| {},
    );
    assert!(leaves.len() >= 4, "{} leaves", leaves.len());
    // CA rotation while they talk: prepare, activate, retire, 3 s apart.
    let mut phase = 0;
    keep_talking(
        &mut client,
        &port,
        "example.org",
        Duration::from_secs(12),
        |at| {
            let due = (at.as_secs() / 3) as usize;
            while phase < due.min(3) {
                let mut f = fake.lock().unwrap();
                match phase {
                    0 => f.prepare(),
                    1 => f.activate(),
                    _ => f.retire(),
                }
                phase += 1;
            }
        },
    );
    assert_eq!(phase, 3);
    assert_eq!(fake.lock().unwrap().refused_proofs, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_stopped_past_every_ttl_and_a_ca_rotation_recovers() {
    if !root() {
        return;
    }
    let fake = upstream(1, 2).await;
    let agent = NodeAgent::start(&bases(&fake), "tok");
    let (_server, mut client, port) = pair(&agent);
    assert!(client.ask(&format!("connect {port}")).starts_with("ok"));
    agent.signal("STOP");
    {
        let mut f = fake.lock().unwrap();
        f.prepare();
        f.activate();
        f.retire();
    }
    std::thread::sleep(Duration::from_secs(5));
    // Every SVID the workloads hold has expired, under a retired CA.
    let stale = client.ask(&format!("connect {port}"));
    assert!(stale.starts_with("fail"), "{stale}");
    agent.signal("CONT");
    wait_for(Duration::from_secs(15), "talking again", || {
        client.ask(&format!("connect {port}")).starts_with("ok")
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_fails_over_and_its_workloads_keep_their_identities() {
    if !root() {
        return;
    }
    let fake = upstream(2, 2).await;
    let agent = NodeAgent::start(&bases(&fake), "tok");
    let (_server, mut client, port) = pair(&agent);
    fake.lock().unwrap().down.insert(0);
    // 6 s of 2 s SVIDs: only the second server can have renewed them.
    let leaves = keep_talking(
        &mut client,
        &port,
        "example.org",
        Duration::from_secs(6),
        |_| {},
    );
    assert!(leaves.len() >= 3, "{} leaves", leaves.len());
}

// ---- against keybound serve ------------------------------------------

/// The owner `ada`, a join token for node `n1`, and entries `a` (the
/// server workload's uid) and `b` (the client's) with `ttl` s SVIDs.
fn register_upstream(server: &support::Server, ttl: &str) -> String {
    let auth = keybound_soft_authenticator::Authenticator::default();
    support::http::enrol_across(server, server, &mut server.browser(), &auth, "ada");
    let (ok, token) = server.cli(&["workload", "token", "create", "n1"]);
    assert!(ok);
    for (name, uid) in [("a", SERVER_UID), ("b", CLIENT_UID)] {
        let id = format!("spiffe://{}/{name}", support::http::RP_ID);
        let selector = format!("unix:uid:{uid}");
        let (ok, _) = server.cli(&[
            "workload",
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
            "--x509-ttl",
            ttl,
        ]);
        assert!(ok, "entry {name}");
    }
    token.trim().to_owned()
}

fn entry_id(server: &support::Server, name: &str) -> String {
    let (ok, out) = server.cli(&["workload", "entry", "list", "--json"]);
    assert!(ok);
    let listed: serde_json::Value = serde_json::from_str(&out).unwrap();
    let id = format!("spiffe://{}/{name}", support::http::RP_ID);
    listed
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["spiffe_id"] == id.as_str())
        .and_then(|e| e["id"].as_str())
        .unwrap()
        .to_owned()
}

#[test]
fn real_serve_two_uids_talk_mtls_and_a_removed_entry_ends_it() {
    if !root() {
        return;
    }
    let server = support::Server::start_in(tempfile::tempdir().unwrap(), &[]);
    let token = register_upstream(&server, "60");
    let agent = NodeAgent::start(&[format!("http://127.0.0.1:{}", server.port)], &token);
    let (_server_wl, mut client, port) = pair(&agent);
    let td = support::http::RP_ID;
    let answer = client.ask(&format!("connect {port}"));
    assert!(
        answer.starts_with(&format!("ok spiffe://{td}/a spiffe://{td}/b ")),
        "{answer}"
    );
    let stranger = Workload::spawn("fetch", STRANGER_UID, &agent.socket);
    let refused = stranger.next();
    assert!(
        refused == "err NoIdentityIssued" || refused.starts_with("err PermissionDenied"),
        "{refused}"
    );
    let (ok, _) = server.cli(&["workload", "entry", "remove", &entry_id(&server, "b")]);
    assert!(ok);
    wait_for(
        Duration::from_secs(15),
        "the client's SVID withdrawn",
        || client.ask("id") == "id none",
    );
    assert!(client.ask(&format!("connect {port}")).starts_with("fail"));
}

#[test]
fn real_serve_rotates_its_ca_while_workloads_keep_talking() {
    if !root() {
        return;
    }
    // A 12 s CA: the next authority is published at 6 s, signs from 10 s,
    // and the old one retires once its last SVID expired. 30 s of 4 s
    // SVIDs cover two rotations; every handshake must succeed.
    let server = support::Server::start_in(tempfile::tempdir().unwrap(), &["--ca-ttl", "12"]);
    let token = register_upstream(&server, "4");
    let agent = NodeAgent::start(&[format!("http://127.0.0.1:{}", server.port)], &token);
    let (_server_wl, mut client, port) = pair(&agent);
    let td = support::http::RP_ID;
    wait_for(Duration::from_secs(15), "the first handshake", || {
        client.ask(&format!("connect {port}")).starts_with("ok")
    });
    keep_talking(&mut client, &port, td, Duration::from_secs(30), |_| {});
    let (ok, events) = server.cli(&["audit", "export"]);
    assert!(ok);
    for kind in [
        "workload.ca.prepare",
        "workload.ca.activate",
        "workload.ca.retire",
    ] {
        assert!(
            events.contains(&format!("\"kind\":\"{kind}\"")),
            "no {kind} in the audit log"
        );
    }
}

#[test]
fn real_serve_an_agent_asleep_past_its_svids_and_the_ca_recovers() {
    if !root() {
        return;
    }
    let server = support::Server::start_in(tempfile::tempdir().unwrap(), &["--ca-ttl", "6"]);
    let token = register_upstream(&server, "2");
    let agent = NodeAgent::start(&[format!("http://127.0.0.1:{}", server.port)], &token);
    let (_server_wl, mut client, port) = pair(&agent);
    wait_for(Duration::from_secs(15), "the first handshake", || {
        client.ask(&format!("connect {port}")).starts_with("ok")
    });
    agent.signal("STOP");
    // Past the 2 s SVIDs and past the 6 s CA that signed them, with the
    // server's rotation job running meanwhile.
    std::thread::sleep(Duration::from_secs(14));
    let stale = client.ask(&format!("connect {port}"));
    assert!(stale.starts_with("fail"), "{stale}");
    agent.signal("CONT");
    wait_for(Duration::from_secs(20), "talking again", || {
        client.ask(&format!("connect {port}")).starts_with("ok")
    });
}

#[test]
fn real_serve_two_servers_on_postgres_the_agent_fails_over() {
    if !root() {
        return;
    }
    let Some(db) = keybound_testdb::shared("real_serve_two_servers_on_postgres") else {
        return;
    };
    let url = db.fresh_database();
    let keys = tempfile::tempdir().unwrap();
    let kek = keys.path().join("kek");
    std::fs::write(&kek, "11".repeat(32)).unwrap();
    let kek = kek.to_str().unwrap().to_owned();
    let flags = ["--ca-key-encryption-key-file", kek.as_str()];
    let mut first = support::Server::node(&url, &flags);
    let second = support::Server::node(&url, &flags);
    let token = register_upstream(&first, "4");
    let servers = [first.port, second.port].map(|p| format!("http://127.0.0.1:{p}"));
    let agent = NodeAgent::start(&servers, &token);
    let (_server_wl, mut client, port) = pair(&agent);
    first.kill();
    // 10 s of 4 s SVIDs after the first server died: renewed by the second.
    let leaves = keep_talking(
        &mut client,
        &port,
        support::http::RP_ID,
        Duration::from_secs(10),
        |_| {},
    );
    assert!(leaves.len() >= 3, "{} leaves", leaves.len());
}

// ---- keybound serve --workload-socket (single host) ------------------

/// `serve --workload-socket` serves the Workload API itself as the node
/// `local`: this test's own uid has no entry (PermissionDenied), then an
/// entry parented to `local` (an X.509-SVID through the published client),
/// then the entry removed (the open stream drops it). No root needed.
#[test]
fn serve_with_a_workload_socket_serves_the_local_nodes_entries() {
    use futures::StreamExt as _;
    use spiffe::{WorkloadApiClient, WorkloadApiError};

    let sockets = tempfile::tempdir().unwrap();
    let socket = sockets.path().join("api.sock");
    let server = support::Server::start_in(
        tempfile::tempdir().unwrap(),
        &["--workload-socket", socket.to_str().unwrap()],
    );
    wait_for(Duration::from_secs(10), "the socket", || socket.exists());
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&socket).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o666, "every local user may call it");
    }
    // The node `local` was made at the start, attested as `local`.
    let (ok, nodes) = server.cli(&["workload", "node", "list", "--json"]);
    assert!(ok, "{nodes}");
    let nodes: serde_json::Value = serde_json::from_str(&nodes).unwrap();
    let local = nodes
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == "local")
        .unwrap_or_else(|| panic!("no node local in {nodes}"));
    assert_eq!(local["attestation"], "local");

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let endpoint = format!("unix:{}", socket.display());
    let client = rt
        .block_on(WorkloadApiClient::connect_to(&endpoint))
        .unwrap();
    let refused = rt.block_on(client.fetch_x509_svid()).unwrap_err();
    assert!(
        matches!(
            refused,
            WorkloadApiError::PermissionDenied(_) | WorkloadApiError::NoIdentityIssued
        ),
        "{refused:?}"
    );

    let auth = keybound_soft_authenticator::Authenticator::default();
    support::http::enrol_across(&server, &server, &mut server.browser(), &auth, "ada");
    let id = format!("spiffe://{}/single", support::http::RP_ID);
    let selector = format!("unix:uid:{}", rustix_uid());
    let (ok, out) = server.cli(&[
        "workload",
        "entry",
        "add",
        "--spiffe-id",
        &id,
        "--parent",
        "local",
        "--selector",
        &selector,
        "--owner",
        "ada",
    ]);
    assert!(ok, "{out}");
    let mut fetched = None;
    wait_for(Duration::from_secs(20), "an X.509-SVID for local", || {
        fetched = rt.block_on(client.fetch_x509_svid()).ok();
        fetched.is_some()
    });
    let svid = fetched.unwrap();
    assert_eq!(svid.spiffe_id().to_string(), id);

    let mut stream = rt.block_on(client.stream_x509_svids()).unwrap();
    let first = rt.block_on(stream.next()).unwrap().unwrap();
    assert_eq!(first.spiffe_id().to_string(), id);
    let (ok, out) = server.cli(&["workload", "entry", "remove", &entry_id(&server, "single")]);
    assert!(ok, "{out}");
    let next = rt
        .block_on(async { tokio::time::timeout(Duration::from_secs(20), stream.next()).await })
        .expect("the stream answers within the sync interval");
    assert!(
        matches!(
            next,
            None | Some(Err(
                WorkloadApiError::PermissionDenied(_) | WorkloadApiError::NoIdentityIssued
            ))
        ),
        "the SVID is dropped, not sent again: {next:?}"
    );
    let after = rt.block_on(client.fetch_x509_svid()).unwrap_err();
    assert!(
        matches!(
            after,
            WorkloadApiError::PermissionDenied(_) | WorkloadApiError::NoIdentityIssued
        ),
        "{after:?}"
    );
}
