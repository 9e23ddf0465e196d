//! Issue 19's tamper acceptance: someone who can write the database
//! rewrites the audit log in each way the issue lists, and `keybound audit
//! verify` with a checkpoint kept outside the database (a witness file, a
//! saved note, the published key) finds it and names it. Plain verify,
//! which only has what the database holds, passes where the rewrite was
//! complete: that is why the checkpoints must live elsewhere.
//!
//! The log is the acfc9e6 fixture (a database written by an earlier
//! version: 22 events) plus events appended here. `Sealer` signs
//! checkpoints as the sealer does (tree nodes, checkpoint, witness line);
//! the attacker re-seals with a key of their own, written into the
//! database. Every check runs the real binary.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use keybound_audit::checkpoint::{Checkpoint, VerifierKey};
use keybound_audit::merkle::TreeBuilder;
use keybound_audit::{AuditEvent, NewEvent};
use serde_json::Value;
use sqlx::Connection;

#[path = "audit_log/tags.rs"]
mod tags;

const BIN: &str = env!("CARGO_BIN_EXE_keybound");
const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/acfc9e6.db");
const ORIGIN: &str = "audit.test/keybound-audit";

/// A copy of the fixture, migrated by a first `audit verify`.
struct Log {
    dir: tempfile::TempDir,
    rt: tokio::runtime::Runtime,
}

fn keybound_in(dir: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env_remove("KEYBOUND_DATABASE_URL")
        .env_remove("KEYBOUND_CONFIG")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A log's signing key, as the sealer holds it.
struct Key {
    pair: Ed25519KeyPair,
}

impl Key {
    fn new() -> Key {
        let doc = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        Key {
            pair: Ed25519KeyPair::from_pkcs8(doc.as_ref()).unwrap(),
        }
    }

    fn verifier(&self) -> VerifierKey {
        let public: [u8; 32] = self.pair.public_key().as_ref().try_into().unwrap();
        VerifierKey::new(ORIGIN, public).unwrap()
    }

    fn id(&self) -> String {
        self.verifier()
            .encode()
            .split('+')
            .nth(1)
            .unwrap()
            .to_owned()
    }
}

impl Log {
    fn new() -> Log {
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(FIXTURE, dir.path().join("keybound.db")).unwrap();
        let log = Log {
            dir,
            rt: tokio::runtime::Runtime::new().unwrap(),
        };
        // Migrates the old database; an unsealed log of 22 events.
        let (ok, out, err) = log.keybound(&["audit", "verify"]);
        assert!(ok, "{out}{err}");
        assert!(out.contains("22 events"), "{out}");
        log
    }

    fn keybound(&self, args: &[&str]) -> (bool, String, String) {
        keybound_in(self.dir.path(), args)
    }

    fn url(&self) -> String {
        format!("sqlite://{}", self.dir.path().join("keybound.db").display())
    }

    fn sql(&self, statements: &[&str]) {
        self.rt.block_on(async {
            let mut conn = sqlx::SqliteConnection::connect(&self.url()).await.unwrap();
            let mut tx = conn.begin().await.unwrap();
            for s in statements {
                sqlx::query(s).execute(&mut *tx).await.unwrap();
            }
            tx.commit().await.unwrap();
        });
    }

    /// Every event, as the store reads them.
    fn events(&self) -> Vec<AuditEvent> {
        self.rt.block_on(async {
            let store = keybound_store::Store::open(&self.url()).await.unwrap();
            let mut all = Vec::new();
            loop {
                let page = store
                    .audit_after(all.last().map_or(0, |e: &AuditEvent| e.seq), 1000)
                    .await
                    .unwrap();
                if page.is_empty() {
                    break;
                }
                all.extend(page);
            }
            all
        })
    }

    /// Appends `n` events with a valid chain, as a server would.
    fn append(&self, n: usize, subject: &str) {
        let mut last = self.events().pop();
        let mut statements = Vec::new();
        for i in 0..n {
            let e = keybound_audit::seal(
                last.as_ref(),
                NewEvent {
                    time_ms: 1_796_300_000_000 + i as i64,
                    kind: "admin.invite".into(),
                    actor: Some("cli".into()),
                    subject: Some(format!("{subject}{i}")),
                    outcome: Some(keybound_audit::Outcome::Success),
                    ..NewEvent::default()
                },
            );
            statements.push(format!(
                "INSERT INTO audit_events (seq, time_ms, kind, actor, subject, outcome, \
                 prev_hash, hash) VALUES ({}, {}, 'admin.invite', 'cli', '{}', 'success', '{}', \
                 '{}')",
                e.seq,
                e.event.time_ms,
                e.event.subject.clone().unwrap(),
                e.prev_hash,
                e.hash
            ));
            last = Some(e);
        }
        let refs: Vec<&str> = statements.iter().map(String::as_str).collect();
        self.sql(&refs);
    }

    /// Recomputes every chain hash from `from` on (what an attacker does
    /// after an edit or an insertion, so the chain verifies).
    fn rehash_from(&self, from: u64) {
        let events = self.events();
        let mut previous: Option<AuditEvent> = None;
        let mut statements = Vec::new();
        for e in events {
            let sealed = keybound_audit::seal(previous.as_ref(), e.event.clone());
            assert_eq!(sealed.seq, e.seq);
            if e.seq >= from {
                statements.push(format!(
                    "UPDATE audit_events SET prev_hash = '{}', hash = '{}' WHERE seq = {}",
                    sealed.prev_hash, sealed.hash, e.seq
                ));
            }
            previous = Some(sealed);
        }
        let refs: Vec<&str> = statements.iter().map(String::as_str).collect();
        self.sql(&refs);
    }

    /// Seals the log as the sealer does: every tree node (overwriting, as
    /// an attacker re-sealing would), the key's row, a checkpoint of all
    /// events; appends the witness line to `witness` and returns the note.
    fn seal(&self, key: &Key, witness: Option<&Path>) -> String {
        let events = self.events();
        let mut tree = TreeBuilder::new();
        let mut statements = vec![format!(
            "INSERT OR IGNORE INTO audit_keys (key_id, origin, public_key, sealed_private, \
             created_ms) VALUES ('{}', '{ORIGIN}', X'{}', X'00', 1)",
            key.id(),
            hex(key.pair.public_key().as_ref())
        )];
        for e in &events {
            for ((level, idx), h) in tree.push(keybound_audit::leaf_hash(e)) {
                statements.push(format!(
                    "INSERT OR REPLACE INTO audit_tree (level, idx, hash) VALUES ({level}, \
                     {idx}, X'{}')",
                    hex(&h)
                ));
            }
        }
        let checkpoint = Checkpoint {
            origin: ORIGIN.into(),
            size: tree.size(),
            root: tree.root(),
        };
        let note = checkpoint.sign(&key.pair);
        let time_ms = 1_796_300_000_000i64 + tree.size() as i64;
        statements.push(format!(
            "INSERT OR REPLACE INTO audit_checkpoints (size, root, time_ms, key_id, note) \
             VALUES ({}, X'{}', {time_ms}, '{}', '{}')",
            tree.size(),
            hex(&tree.root()),
            key.id(),
            note.replace('\'', "''")
        ));
        let refs: Vec<&str> = statements.iter().map(String::as_str).collect();
        self.sql(&refs);
        if let Some(path) = witness {
            let line = serde_json::json!({
                "size": tree.size(),
                "root": B64.encode(tree.root()),
                "time_ms": time_ms,
                "key_id": key.id(),
                "note": note,
            });
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .unwrap();
            writeln!(f, "{line}").unwrap();
        }
        note
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn save(&self, name: &str, text: &str) -> String {
        let path = self.path(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    }

    /// Deletes events after `keep`, with their tree nodes and checkpoints:
    /// what was stored is consistent again, only shorter.
    fn truncate(&self, keep: u64) {
        self.sql(&[
            &format!("DELETE FROM audit_events WHERE seq > {keep}"),
            &format!("DELETE FROM audit_tree WHERE (idx + 1) * (1 << level) > {keep}"),
            &format!("DELETE FROM audit_checkpoints WHERE size > {keep}"),
        ]);
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `audit verify ARGS`: (exit 0, stdout + stderr).
fn verify(log: &Log, args: &[&str]) -> (bool, String) {
    let mut all = vec!["audit", "verify"];
    all.extend_from_slice(args);
    let (ok, out, err) = log.keybound(&all);
    (ok, format!("{out}{err}"))
}

#[test]
fn an_old_database_verifies_unsealed_then_sealed_with_its_checkpoints() {
    let log = Log::new();
    let (ok, out) = verify(&log, &[]);
    assert!(ok, "{out}");
    assert!(out.contains("not sealed yet"), "{out}");
    let key = Key::new();
    let witness = log.path("witness.jsonl");
    log.seal(&key, Some(&witness));
    log.append(5, "later");
    let note = log.seal(&key, Some(&witness));
    let file = log.save("checkpoint.txt", &note);
    let key_text = key.verifier().encode();
    let (ok, out) = verify(
        &log,
        &[
            "--witness",
            witness.to_str().unwrap(),
            "--checkpoint",
            &file,
            "--key",
            &key_text,
        ],
    );
    assert!(ok, "{out}");
    assert!(out.contains("27 events"), "{out}");
    // Two witness lines and the file: three given, two stored.
    assert!(out.contains("5 checkpoint(s) matched (2 stored)"), "{out}");
    assert!(out.contains("with the given key"), "{out}");
    let (ok, out) = verify(&log, &[]);
    assert!(ok, "{out}");
    assert!(out.contains("stored in the database"), "{out}");
}

#[test]
fn deleting_the_tail_is_named_by_the_witness() {
    let log = Log::new();
    let key = Key::new();
    let witness = log.path("witness.jsonl");
    log.seal(&key, Some(&witness));
    log.append(8, "gone");
    log.seal(&key, Some(&witness));
    // An offboarding's events, their tree rows and checkpoints, removed.
    log.truncate(22);
    let (ok, out) = verify(&log, &[]);
    assert!(ok, "without a witness the shorter log is consistent: {out}");
    let (ok, out) = verify(&log, &["--witness", witness.to_str().unwrap()]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("the log has 22 events but checkpoint 30")
            && out.contains("events 23..30 were removed"),
        "{out}"
    );
    assert!(out.contains("witness.jsonl line 2"), "{out}");
    // The witness's first checkpoint still matches.
    assert!(out.contains("still matched checkpoint 22"), "{out}");
}

#[test]
fn a_log_rebuilt_from_genesis_under_a_new_key_is_named() {
    let log = Log::new();
    let key = Key::new();
    log.append(3, "real");
    let note = log.seal(&key, None);
    let saved = log.save("saved.txt", &note);
    // A new chain from genesis, sealed by a key the attacker made and
    // wrote into the database beside (or instead of) the real one.
    log.sql(&[
        "DELETE FROM audit_events",
        "DELETE FROM audit_tree",
        "DELETE FROM audit_checkpoints",
        "DELETE FROM audit_keys",
    ]);
    log.append(25, "forged");
    let forger = Key::new();
    log.seal(&forger, None);
    let (ok, out) = verify(&log, &[]);
    assert!(ok, "the database alone cannot tell: {out}");
    // The saved checkpoint: not signed by any key the database holds,
    // and its root no longer produced.
    let (ok, out) = verify(&log, &["--checkpoint", &saved]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("is not signed by any key in the database (was the log's key replaced?)"),
        "{out}"
    );
    assert!(
        out.contains("events up to 25 no longer produce the root signed at size 25"),
        "{out}"
    );
    // The published key alone: every stored checkpoint is someone else's.
    let real = key.verifier().encode();
    let (ok, out) = verify(&log, &["--key", &real]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("stored checkpoint 25 is not signed by the given key"),
        "{out}"
    );
}

#[test]
fn an_inserted_event_with_every_later_hash_resealed_is_named() {
    let log = Log::new();
    let key = Key::new();
    log.seal(&key, None);
    log.append(8, "real");
    let note = log.seal(&key, None);
    let saved = log.save("saved.txt", &note);
    // A forged event slipped in at seq 25, the rest moved up, the chain
    // re-sealed so that it verifies.
    log.sql(&[
        "UPDATE audit_events SET seq = -seq WHERE seq >= 25",
        "UPDATE audit_events SET seq = 1 - seq WHERE seq < 0",
        "INSERT INTO audit_events (seq, time_ms, kind, actor, subject, outcome, prev_hash, hash) \
         VALUES (25, 1, 'admin.invite', 'cli', 'mallory', 'success', '', '')",
    ]);
    log.rehash_from(25);
    let (ok, out) = verify(&log, &["--checkpoint", &saved]);
    assert!(!ok, "{out}");
    assert!(!out.contains("BROKEN"), "the chain itself verifies: {out}");
    assert!(
        out.contains(
            "events up to 30 no longer produce the root signed at size 30 by checkpoint 30 \
             (from file"
        ) && out.contains("the log matched checkpoint 22, so the change is in events 23..30"),
        "{out}"
    );
    // Without the file: the stored checkpoint and tree disagree too.
    let (ok, out) = verify(&log, &[]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("by checkpoint 30 (signed") && out.contains("stored in the database"),
        "{out}"
    );
    assert!(
        out.contains("the stored tree node at level 0 index 24"),
        "{out}"
    );
}

#[test]
fn an_edit_with_the_chain_and_tree_resealed_is_named() {
    let log = Log::new();
    let key = Key::new();
    let witness = log.path("witness.jsonl");
    log.seal(&key, Some(&witness));
    // Someone's sign-in rewritten, the chain re-sealed, the tree rebuilt:
    // only the signed checkpoint is out of reach.
    log.sql(&["UPDATE audit_events SET subject = 'mallory' WHERE seq = 5"]);
    log.rehash_from(5);
    let forger = Key::new();
    log.sql(&["DELETE FROM audit_checkpoints"]);
    log.seal(&forger, None);
    log.sql(&[&format!(
        "DELETE FROM audit_keys WHERE key_id = '{}'",
        key.id()
    )]);
    let (ok, out) = verify(&log, &[]);
    assert!(ok, "{out}");
    let (ok, out) = verify(&log, &["--witness", witness.to_str().unwrap()]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("events up to 22 no longer produce the root signed at size 22")
            && out.contains("no earlier checkpoint matched"),
        "{out}"
    );
    // Leaving the tree alone instead is caught without any witness.
    let log = Log::new();
    log.seal(&key, None);
    log.sql(&["UPDATE audit_events SET subject = 'mallory' WHERE seq = 5"]);
    log.rehash_from(5);
    let (ok, out) = verify(&log, &[]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("the stored tree node at level 0 index 4 (events 5..5) differs"),
        "{out}"
    );
}

#[test]
fn a_truncated_log_extended_and_sealed_by_the_server_is_named() {
    let log = Log::new();
    let key = Key::new();
    let witness = log.path("witness.jsonl");
    log.seal(&key, Some(&witness));
    log.append(8, "real");
    log.seal(&key, Some(&witness));
    // Truncated to 22 under the running server, which then appends valid
    // events on the forged tail and signs them with the log's own key.
    log.truncate(22);
    log.append(13, "after");
    log.seal(&key, Some(&witness));
    let (ok, out) = verify(&log, &[]);
    assert!(ok, "{out}");
    let (ok, out) = verify(&log, &["--witness", witness.to_str().unwrap()]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("events up to 30 no longer produce the root signed at size 30")
            && out.contains("the log matched checkpoint 22, so the change is in events 23..30"),
        "{out}"
    );
}

#[test]
fn checkpoints_of_another_log_or_with_bad_signatures_are_named() {
    let log = Log::new();
    let key = Key::new();
    let note = log.seal(&key, None);
    // The signed body altered: a signature that no longer verifies.
    let altered = note.replacen("\n22\n", "\n21\n", 1);
    let altered = log.save("altered.txt", &altered);
    let (ok, out) = verify(&log, &["--checkpoint", &altered]);
    assert!(!ok, "{out}");
    assert!(out.contains("signature does not verify"), "{out}");
    // A checkpoint of another log.
    let other = Checkpoint {
        origin: "elsewhere.test/log".into(),
        size: 22,
        root: [0; 32],
    }
    .sign(&key.pair);
    let other = log.save("other.txt", &other);
    let (ok, out) = verify(&log, &["--checkpoint", &other]);
    assert!(!ok, "{out}");
    assert!(out.contains("is of another log"), "{out}");
    // The inputs themselves.
    let (ok, out) = verify(&log, &["--checkpoint", "/nonexistent/cp"]);
    assert!(!ok && out.contains("cannot read checkpoint"), "{out}");
    let junk = log.save("junk.txt", "hello\n");
    let (ok, out) = verify(&log, &["--checkpoint", &junk]);
    assert!(!ok && out.contains("is not a signed note"), "{out}");
    let (ok, out) = verify(&log, &["--key", "nonsense"]);
    assert!(!ok && out.contains("the key cannot be used"), "{out}");
    let (ok, out) = verify(&log, &["--witness", &junk]);
    assert!(!ok && out.contains("is not a witness record"), "{out}");
}

// ---------------------------------------------------------------------------
// Proofs, checked by an independent verifier (tests/fixtures/verify_proof.py).

/// A venv under the target directory with `cryptography` (Ed25519), or
/// `None` after a loud message where that is impossible outside CI.
fn python() -> Option<PathBuf> {
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("audit-venv");
    let python = venv.join("bin").join("python");
    let fail = |what: &str, out: &str| -> Option<PathBuf> {
        let message = format!("{what} failed: {out}");
        if std::env::var_os("CI").is_some() {
            panic!("{message}: the independent verifier must run in CI");
        }
        eprintln!("\n!!! SKIPPING the Python verifier: {message}\n");
        None
    };
    if !python.is_file() {
        match Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .output()
        {
            Ok(o) if o.status.success() => {}
            Ok(o) => return fail("python3 -m venv", &String::from_utf8_lossy(&o.stderr)),
            Err(e) => return fail("python3 -m venv", &e.to_string()),
        }
    }
    let out = Command::new(&python)
        .args(["-m", "pip", "install", "-q", "--disable-pip-version-check"])
        .arg("cryptography==50.0.2")
        .output()
        .unwrap();
    if !out.status.success() {
        return fail("pip install", &String::from_utf8_lossy(&out.stderr));
    }
    Some(python)
}

fn python_verify(python: &Path, args: &[&str]) -> (bool, String) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/verify_proof.py");
    let out = Command::new(python)
        .arg(script)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn inclusion_proofs_verify_in_an_independent_python_verifier() {
    let log = Log::new();
    let key = Key::new();
    log.seal(&key, None);
    log.append(15, "p");
    log.seal(&key, None);
    let key_text = key.verifier().encode();
    let Some(python) = python() else { return };
    for (seq, size) in [
        (1, 22),
        (7, 22),
        (22, 22),
        (23, 37),
        (32, 37),
        (37, 37),
        (5, 37),
    ] {
        let args: Vec<String> = if size == 37 && seq <= 22 {
            vec![
                "audit".into(),
                "prove".into(),
                seq.to_string(),
                "--size".into(),
                "37".into(),
            ]
        } else {
            vec!["audit".into(), "prove".into(), seq.to_string()]
        };
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (ok, out, err) = log.keybound(&args);
        assert!(ok, "{err}");
        let proof: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(proof["size"], size, "{out}");
        assert_eq!(proof["key"], key_text.as_str());
        let file = log.save(&format!("proof-{seq}.json"), &out);
        let (ok, said) = python_verify(&python, &["inclusion", &file, &key_text]);
        assert!(ok, "seq {seq}: {said}");

        // An altered event, an altered proof and another key all fail.
        let mut bad = proof.clone();
        bad["event"]["subject"] = Value::String("mallory".into());
        let bad_file = log.save("bad.json", &bad.to_string());
        let (ok, said) = python_verify(&python, &["inclusion", &bad_file, &key_text]);
        assert!(!ok && said.contains("FAILED"), "{said}");
        if let Some(first) = proof["proof"].as_array().and_then(|p| p.first()) {
            let mut raw = B64.decode(first.as_str().unwrap()).unwrap();
            raw[0] ^= 1;
            let mut bad = proof.clone();
            bad["proof"][0] = Value::String(B64.encode(raw));
            let bad_file = log.save("bad.json", &bad.to_string());
            let (ok, said) = python_verify(&python, &["inclusion", &bad_file, &key_text]);
            assert!(
                !ok && said.contains("does not lead to the signed root"),
                "{said}"
            );
        }
        let other = Key::new().verifier().encode();
        let (ok, said) = python_verify(&python, &["inclusion", &file, &other]);
        assert!(!ok && said.contains("no signature by the key"), "{said}");
    }
    // No checkpoint covers an event past the last seal; no such event.
    log.append(1, "late");
    let (ok, _, err) = log.keybound(&["audit", "prove", "38"]);
    assert!(!ok && err.contains("no checkpoint covers it yet"), "{err}");
    let (ok, _, err) = log.keybound(&["audit", "prove", "0"]);
    assert!(!ok && err.contains("no proof of event 0"), "{err}");
}

// ---------------------------------------------------------------------------
// Bounded memory: `audit verify` of a large sealed log (issue 19's goal is
// 1,000,000 events). Slow in a debug build; run on purpose:
//   cargo test -p keybound --test audit_log million -- --ignored --nocapture
// KB_AUDIT_EVENTS overrides the size.

/// Writes `n` chained events and their sealed tree and checkpoint straight
/// into the database, in one transaction, many rows a statement.
fn generate(log: &Log, n: u64, key: &Key) {
    log.rt.block_on(async {
        let mut conn = sqlx::SqliteConnection::connect(&log.url()).await.unwrap();
        let mut tx = conn.begin().await.unwrap();
        sqlx::query("DELETE FROM audit_events")
            .execute(&mut *tx)
            .await
            .unwrap();
        let mut previous: Option<AuditEvent> = None;
        let mut tree = TreeBuilder::new();
        let mut rows = Vec::new();
        let mut nodes = Vec::new();
        for i in 0..n {
            let e = keybound_audit::seal(
                previous.as_ref(),
                NewEvent {
                    time_ms: 1_796_300_000_000 + i as i64,
                    kind: "authentication".into(),
                    subject: Some(format!("user{}", i % 1000)),
                    outcome: Some(keybound_audit::Outcome::Success),
                    ..NewEvent::default()
                },
            );
            for ((level, idx), h) in tree.push(keybound_audit::leaf_hash(&e)) {
                nodes.push(format!("({level}, {idx}, X'{}')", hex(&h)));
            }
            rows.push(format!(
                "({}, {}, 'authentication', '{}', 'success', '{}', '{}')",
                e.seq,
                e.event.time_ms,
                e.event.subject.clone().unwrap(),
                e.prev_hash,
                e.hash
            ));
            previous = Some(e);
            if rows.len() == 400 || i + 1 == n {
                let sql = format!(
                    "INSERT INTO audit_events (seq, time_ms, kind, subject, outcome, prev_hash, \
                     hash) VALUES {}",
                    rows.join(", ")
                );
                sqlx::query(&sql).execute(&mut *tx).await.unwrap();
                rows.clear();
                let sql = format!(
                    "INSERT INTO audit_tree (level, idx, hash) VALUES {}",
                    nodes.join(", ")
                );
                sqlx::query(&sql).execute(&mut *tx).await.unwrap();
                nodes.clear();
            }
        }
        let note = Checkpoint {
            origin: ORIGIN.into(),
            size: tree.size(),
            root: tree.root(),
        }
        .sign(&key.pair);
        for sql in [
            format!(
                "INSERT INTO audit_keys (key_id, origin, public_key, sealed_private, created_ms) \
                 VALUES ('{}', '{ORIGIN}', X'{}', X'00', 1)",
                key.id(),
                hex(key.pair.public_key().as_ref())
            ),
            format!(
                "INSERT INTO audit_checkpoints (size, root, time_ms, key_id, note) VALUES ({}, \
                 X'{}', 1, '{}', '{}')",
                tree.size(),
                hex(&tree.root()),
                key.id(),
                note
            ),
        ] {
            sqlx::query(&sql).execute(&mut *tx).await.unwrap();
        }
        tx.commit().await.unwrap();
    });
}

/// Runs `audit verify` under `/usr/bin/time -v`: (peak RSS in KiB, seconds).
fn verify_peak_rss(log: &Log, events: u64) -> (u64, f64) {
    let start = std::time::Instant::now();
    let out = Command::new("/usr/bin/time")
        .arg("-v")
        .arg(BIN)
        .args(["audit", "verify", "--data-dir"])
        .arg(log.dir.path())
        .env_remove("KEYBOUND_DATABASE_URL")
        .env_remove("KEYBOUND_CONFIG")
        .output()
        .unwrap();
    let seconds = start.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains(&format!("{events} events")), "{stdout}");
    assert!(
        stdout.contains("1 checkpoint(s) matched (1 stored)"),
        "{stdout}"
    );
    let rss = stderr
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("Maximum resident set size (kbytes): ")
        })
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    (rss, seconds)
}

#[test]
#[ignore = "minutes in a debug build; run on purpose for BENCHMARKS.md"]
fn million_event_verify_streams_in_bounded_memory() {
    let n: u64 = std::env::var("KB_AUDIT_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let key = Key::new();
    let mut results = Vec::new();
    for events in [n / 10, n] {
        let log = Log::new();
        let start = std::time::Instant::now();
        generate(&log, events, &key);
        let generated = start.elapsed().as_secs_f64();
        let (rss, seconds) = verify_peak_rss(&log, events);
        println!(
            "audit verify of {events} events: peak RSS {rss} KiB, {seconds:.1} s \
             (generated in {generated:.1} s)"
        );
        results.push(rss);
    }
    // Ten times the events, not ten times the memory: within 16 MiB.
    assert!(
        results[1] < results[0] + 16 * 1024,
        "peak RSS grew with the log: {results:?}"
    );
}
