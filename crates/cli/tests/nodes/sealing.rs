//! The sealer's acceptance (issue 19): every acknowledged event ends up in
//! a signed checkpoint within a second under load, after a SIGKILL and
//! restart, and when the node holding the sealer's lease dies.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use keybound_audit::checkpoint::VerifierKey;
use keybound_soft_authenticator::{Algorithm, Authenticator};
use serde_json::json;

use super::support::http::{ceremony, challenge, decode, Browser};
use super::support::Server;
use super::{database, NODE_FLAGS};

/// The sealer's interval is 250 ms by default; the issue asks for one
/// second at most, plus this much for a loaded two-core test machine.
const TOLERANCE_MS: i64 = 250;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Where a server keeps its data: the SQLite file in its data directory, or
/// a PostgreSQL database.
pub(crate) enum Db {
    Sqlite(String),
    Postgres(String),
}

impl Db {
    pub(crate) fn sqlite(server: &Server) -> Db {
        Db::Sqlite(format!(
            "sqlite://{}",
            server.dir.path().join("keybound.db").display()
        ))
    }

    fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Runtime::new().unwrap().block_on(f)
    }

    /// The latest checkpoint: size, key id, note, and the key's origin and
    /// public key as stored in `audit_keys`.
    pub(crate) fn latest_checkpoint(&self) -> Option<(i64, String, String, String, Vec<u8>)> {
        use sqlx::Connection;
        const Q: &str = "SELECT c.size, c.key_id, c.note, k.origin, k.public_key \
             FROM audit_checkpoints c JOIN audit_keys k ON k.key_id = c.key_id \
             ORDER BY c.size DESC LIMIT 1";
        Db::block_on(async {
            match self {
                Db::Sqlite(url) => {
                    let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
                    sqlx::query_as(Q).fetch_optional(&mut c).await.unwrap()
                }
                Db::Postgres(url) => {
                    let mut c = sqlx::PgConnection::connect(url).await.unwrap();
                    sqlx::query_as(Q).fetch_optional(&mut c).await.unwrap()
                }
            }
        })
    }

    /// The holder of the sealer's lease, if any.
    fn lease_holder(&self) -> Option<String> {
        use sqlx::Connection;
        const Q: &str = "SELECT holder FROM leases WHERE name = 'audit-sealer'";
        Db::block_on(async {
            let row: Option<(String,)> = match self {
                Db::Sqlite(url) => {
                    let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
                    sqlx::query_as(Q).fetch_optional(&mut c).await.unwrap()
                }
                Db::Postgres(url) => {
                    let mut c = sqlx::PgConnection::connect(url).await.unwrap();
                    sqlx::query_as(Q).fetch_optional(&mut c).await.unwrap()
                }
            };
            row.map(|r| r.0)
        })
    }
}

/// The verifier key of `origin` and `public`, checked against the key id
/// the checkpoint row names.
fn verifier(key_id: &str, origin: &str, public: &[u8]) -> VerifierKey {
    let key = VerifierKey::new(origin, public.try_into().expect("32 bytes")).unwrap();
    let encoded = key.encode();
    assert_eq!(
        encoded.split('+').nth(1),
        Some(key_id),
        "the key id is the key's hash: {encoded}"
    );
    key
}

/// The seq of the successful `registration` event of each of `names`.
pub(crate) fn registration_seqs(server: &Server, names: &[String]) -> HashMap<String, u64> {
    let (ok, export) = server.cli(&["audit", "export"]);
    assert!(ok, "{export}");
    let mut seqs = HashMap::new();
    for line in export.lines() {
        let e: serde_json::Value = serde_json::from_str(line).unwrap();
        if e["kind"] == "registration" {
            if let Some(subject) = e["subject"].as_str() {
                seqs.insert(subject.to_owned(), e["seq"].as_u64().unwrap());
            }
        }
    }
    let missing: Vec<&String> = names.iter().filter(|n| !seqs.contains_key(*n)).collect();
    assert!(missing.is_empty(), "no registration event for {missing:?}");
    seqs
}

/// After a SIGKILL and restart, every acknowledged registration's event is
/// in a signed checkpoint within a few seconds (the dead process's lease
/// runs out first), and the checkpoint verifies under the stored key.
pub(crate) fn every_acknowledged_event_is_sealed_after_restart(
    server: &mut Server,
    db: &Db,
    acked: &[String],
    flags: &[&str],
) {
    let seqs = registration_seqs(server, acked);
    let last = acked.iter().map(|n| seqs[n]).max().unwrap();
    server.restart(flags);
    let restarted = Instant::now();
    let (size, key_id, note, origin, public) = loop {
        if let Some(cp) = db.latest_checkpoint() {
            if cp.0 >= last as i64 {
                break cp;
            }
        }
        assert!(
            restarted.elapsed() < Duration::from_secs(8),
            "event {last} not sealed 8 s after the restart: {:?}",
            db.latest_checkpoint().map(|c| c.0)
        );
        thread::sleep(Duration::from_millis(50));
    };
    eprintln!(
        "sealed up to {size} (last acknowledged event {last}) {:?} after the restart",
        restarted.elapsed()
    );
    let checkpoint = verifier(&key_id, &origin, &public)
        .verify(&note)
        .unwrap_or_else(|e| panic!("{e:?}: {note}"));
    assert_eq!(checkpoint.size, size as u64, "the note says the row's size");
    // A note altered by one byte does not verify: the check above can fail.
    let forged = note.replacen(&format!("\n{size}\n"), &format!("\n{}\n", size + 1), 1);
    assert!(verifier(&key_id, &origin, &public).verify(&forged).is_err());
}

/// Registers through `port` from `threads` clients for `load_for`: each
/// acknowledged name and the wall time (ms) its acknowledgement arrived.
fn register_during(port: u16, threads: usize, load_for: Duration) -> Vec<(String, i64)> {
    let acked = Arc::new(Mutex::new(Vec::new()));
    let until = Instant::now() + load_for;
    let clients: Vec<_> = (0..threads)
        .map(|t| {
            let acked = acked.clone();
            thread::spawn(move || {
                let auth = Authenticator::default();
                for i in 0.. {
                    if Instant::now() >= until {
                        return;
                    }
                    let mut browser = Browser {
                        port,
                        cookies: Vec::new(),
                    };
                    let name = format!("seal-{port}-{t}-{i}");
                    let Ok((200, options)) =
                        browser.try_post_json("/attestation/options", &json!({"username": name}))
                    else {
                        return;
                    };
                    let user = decode(options["user"]["id"].as_str().unwrap());
                    let c = challenge(&options);
                    let (_, answer) = auth.register(Algorithm::Es256, &ceremony(&c), &user);
                    if let Ok((200, reply)) = browser.try_post_json("/attestation/result", &answer)
                    {
                        if reply["status"] == "ok" {
                            acked.lock().unwrap().push((name, now_ms()));
                        }
                    }
                }
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    acked
}

/// A witness file's checkpoints: (size, time_ms, key_id, note), in order.
fn witness(path: &Path) -> Vec<(u64, i64, String, String)> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["size"].as_u64().unwrap(),
                v["time_ms"].as_i64().unwrap(),
                v["key_id"].as_str().unwrap().to_owned(),
                v["note"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// For each acknowledged event, in order, ms from its acknowledgement to
/// the first witnessed checkpoint covering it (0 when the checkpoint was
/// signed before the reply reached the client).
fn seal_lags(
    acked: &[(String, i64)],
    seqs: &HashMap<String, u64>,
    lines: &[(u64, i64, String, String)],
) -> Vec<i64> {
    acked
        .iter()
        .map(|(name, at)| {
            let seq = seqs[name];
            let covering = lines
                .iter()
                .find(|l| l.0 >= seq)
                .unwrap_or_else(|| panic!("event {seq} ({name}) never sealed"));
            (covering.1 - at).max(0)
        })
        .collect()
}

#[test]
fn every_acknowledged_event_is_sealed_within_a_second() {
    let files = tempfile::tempdir().unwrap();
    let witness_file = files.path().join("witness.jsonl");
    let witness_arg = witness_file.to_str().unwrap();
    let mut flags = vec!["--open-registration", "--audit-witness", witness_arg];
    flags.extend_from_slice(NODE_FLAGS);
    let server = Server::start_on(
        "127.0.0.1:0",
        super::support::http::RP_ID,
        super::support::http::ORIGIN,
        &flags,
    );
    let acked = register_during(server.port, 4, Duration::from_secs(5));
    eprintln!("{} registrations acknowledged in 5 s", acked.len());
    assert!(acked.len() >= 100, "the load ran: {}", acked.len());
    // The last events' checkpoint: at most a second later.
    thread::sleep(Duration::from_millis(1000 + TOLERANCE_MS as u64));
    let names: Vec<String> = acked.iter().map(|a| a.0.clone()).collect();
    let seqs = registration_seqs(&server, &names);
    let lines = witness(&witness_file);
    assert!(
        lines
            .windows(2)
            .all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1),
        "checkpoints grow"
    );
    let mut lags = seal_lags(&acked, &seqs, &lines);
    lags.sort_unstable();
    let max = *lags.last().unwrap();
    let p99 = lags[(lags.len() * 99 / 100).min(lags.len() - 1)];
    let p50 = lags[lags.len() / 2];
    eprintln!(
        "seal lag over {} events, {} checkpoints: p50 {p50} ms, p99 {p99} ms, max {max} ms",
        lags.len(),
        lines.len()
    );
    assert!(
        max <= 1000 + TOLERANCE_MS,
        "an event waited {max} ms for its checkpoint (p99 {p99} ms)"
    );
    // The witness's notes verify under the log's key.
    let (_, key_id, _, origin, public) = Db::sqlite(&server).latest_checkpoint().unwrap();
    let key = verifier(&key_id, &origin, &public);
    for (size, _, id, note) in &lines {
        assert_eq!(id, &key_id);
        assert_eq!(key.verify(note).unwrap().size, *size);
    }
}

#[test]
fn killing_the_sealers_node_hands_the_lease_over() {
    let Some(url) = database("killing_the_sealers_node_hands_the_lease_over") else {
        return;
    };
    let db = Db::Postgres(url.clone());
    let files = tempfile::tempdir().unwrap();
    // One key-encryption key for both nodes: they share the log's key.
    let kek = files.path().join("kek");
    std::fs::write(&kek, "22".repeat(32)).unwrap();
    let kek = kek.to_str().unwrap().to_owned();
    let witnesses = [files.path().join("a.jsonl"), files.path().join("b.jsonl")];
    let mut nodes: Vec<Server> = witnesses
        .iter()
        .map(|w| {
            let mut flags = vec![
                "--open-registration",
                "--ca-key-encryption-key-file",
                kek.as_str(),
                "--audit-witness",
                w.to_str().unwrap(),
            ];
            flags.extend_from_slice(NODE_FLAGS);
            Server::node(&url, &flags)
        })
        .collect();
    register_during(nodes[0].port, 1, Duration::from_millis(500));
    // The sealer is the node whose witness file grows.
    let started = Instant::now();
    let sealer = loop {
        let (a, b) = (witness(&witnesses[0]), witness(&witnesses[1]));
        match (a.is_empty(), b.is_empty()) {
            (false, true) => break 0,
            (true, false) => break 1,
            (false, false) => panic!("both nodes sealed: {a:?} {b:?}"),
            (true, true) => {}
        }
        assert!(started.elapsed() < Duration::from_secs(5), "nobody seals");
        thread::sleep(Duration::from_millis(50));
    };
    let other = 1 - sealer;
    let holder = db.lease_holder().expect("the sealer holds the lease");
    let (_, first_key, ..) = db.latest_checkpoint().unwrap();

    nodes[sealer].kill();
    let killed = now_ms();
    let acked = register_during(nodes[other].port, 3, Duration::from_secs(5));
    assert!(acked.len() >= 20, "the load ran: {}", acked.len());
    let names: Vec<String> = acked.iter().map(|a| a.0.clone()).collect();
    let seqs = registration_seqs(&nodes[other], &names);
    let last = *seqs.values().max().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let lines = loop {
        let lines = witness(&witnesses[other]);
        if lines.last().is_some_and(|l| l.0 >= last) {
            break lines;
        }
        assert!(
            Instant::now() < deadline,
            "event {last} not sealed by the surviving node: {:?}",
            lines.last().map(|l| l.0)
        );
        thread::sleep(Duration::from_millis(50));
    };
    let took_over = lines.first().unwrap().1 - killed;
    eprintln!(
        "the surviving node signed its first checkpoint {took_over} ms after the kill \
         ({} checkpoints, up to {})",
        lines.len(),
        lines.last().unwrap().0
    );
    assert!(
        took_over <= 3000 + 1000 + TOLERANCE_MS,
        "the lease (3 s) was taken over after {took_over} ms"
    );
    let new_holder = db.lease_holder().unwrap();
    assert_ne!(new_holder, holder, "the lease changed hands");
    // Signed by the same log key, unsealed by the surviving node.
    let (size, key_id, note, origin, public) = db.latest_checkpoint().unwrap();
    assert_eq!(key_id, first_key, "one log key across nodes");
    assert!(size as u64 >= last);
    let key = verifier(&key_id, &origin, &public);
    assert!(key.verify(&note).is_ok());
    for (size, _, id, note) in &lines {
        assert_eq!(id, &key_id);
        assert_eq!(key.verify(note).unwrap().size, *size);
    }
    // Once the survivor seals, every new event is covered within a second.
    let first_sealed = lines.first().unwrap().1;
    let lags = seal_lags(&acked, &seqs, &lines);
    let after: Vec<i64> = acked
        .iter()
        .zip(&lags)
        .filter(|((_, at), _)| *at > first_sealed)
        .map(|(_, lag)| *lag)
        .collect();
    let max_after = after.iter().copied().max().unwrap_or(0);
    eprintln!(
        "after the takeover: {} events, max lag {max_after} ms; over all {} events: max {:?} ms",
        after.len(),
        lags.len(),
        lags.iter().max()
    );
    assert!(!after.is_empty(), "the load went on after the takeover");
    assert!(
        max_after <= 1000 + TOLERANCE_MS,
        "an event waited {max_after} ms after the takeover"
    );
}
