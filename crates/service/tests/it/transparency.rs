//! The sealer (issue 19): committed events become leaves of the Merkle
//! tree and a signed checkpoint covers them; one node at a time seals (by
//! lease); a log rewritten under the sealer is found and alerted, and
//! nothing more is signed.

use std::sync::atomic::Ordering;

use keybound_audit::checkpoint::VerifierKey;
use keybound_audit::merkle;

use super::*;

mod tags;

static SEED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(100);

async fn file_world(dir: &tempfile::TempDir, kek: Option<[u8; 32]>) -> World {
    let url = format!("sqlite://{}", dir.path().join("kb.db").display());
    let store = Store::open(&url).await.unwrap();
    world_on(store, kek)
}

fn world_on(store: Store, kek: Option<[u8; 32]>) -> World {
    let mut config = Config::new(RP_ID, OriginPolicy::exact([ORIGIN]).unwrap(), [9; 32]);
    config.workloads.ca_key_encryption_key = kek;
    let clock = Arc::new(FakeClock(AtomicI64::new(1_800_000_000_000)));
    let service = Service::new(
        store,
        config,
        clock.clone(),
        // A seed per service: two on one database (or one restarted)
        // must not mint the same ids.
        Box::new(rand_chacha::ChaCha20Rng::seed_from_u64(
            SEED.fetch_add(1, Ordering::SeqCst),
        )),
    );
    World {
        service,
        clock,
        auth: Authenticator::default(),
    }
}

fn sql(dir: &tempfile::TempDir, statement: &str) {
    let db = rusqlite::Connection::open(dir.path().join("kb.db")).unwrap();
    db.execute_batch(statement).unwrap();
}

async fn invite(w: &World, name: &str) {
    w.service
        .invite(name, false, &Operator::local("cli"))
        .await
        .unwrap();
}

async fn last_seq(w: &World) -> u64 {
    w.service.store().audit_last_seq().await.unwrap()
}

#[tokio::test]
async fn appended_events_are_sealed_by_the_next_run_and_the_checkpoint_verifies() {
    let w = world().await;
    assert_eq!(
        w.service.seal_audit_log("n1").await.unwrap(),
        None,
        "empty log"
    );
    assert_eq!(w.service.audit_verifier_key().await.unwrap(), None);
    invite(&w, "ada").await;
    invite(&w, "bob").await;
    let size = last_seq(&w).await;
    let cp = w.service.seal_audit_log("n1").await.unwrap().unwrap();
    assert_eq!(cp.size, size, "every committed event");
    assert_eq!(
        w.service.latest_audit_checkpoint().await.unwrap(),
        Some(cp.clone())
    );

    // The note verifies with the published key, names the origin and
    // carries the root of the events' leaves.
    let key = w.service.audit_verifier_key().await.unwrap().unwrap();
    assert_eq!(key.name, "localhost/keybound-audit");
    let key = VerifierKey::parse(&key.encode()).unwrap();
    let signed = key.verify(&cp.note).unwrap();
    assert_eq!((signed.size, signed.root), (cp.size, cp.root));
    let events = w.service.store().audit_events().await.unwrap();
    let mut tree = merkle::TreeBuilder::new();
    for e in &events {
        tree.push(keybound_audit::leaf_hash(e));
    }
    assert_eq!(tree.root(), cp.root);
    // Another key does not verify it.
    let other = VerifierKey::new("localhost/keybound-audit", [7; 32]).unwrap();
    assert!(other.verify(&cp.note).is_err());

    // Nothing new: no checkpoint. New events: the next run covers them,
    // consistent with the first.
    assert_eq!(w.service.seal_audit_log("n1").await.unwrap(), None);
    invite(&w, "cy").await;
    let next = w.service.seal_audit_log("n1").await.unwrap().unwrap();
    assert_eq!(next.size, last_seq(&w).await);
    let mut tx = w.service.store().read().await.unwrap();
    let nodes = tx
        .audit_nodes(&merkle::consistency_nodes(cp.size, next.size).unwrap())
        .await
        .unwrap();
    let proof = merkle::consistency_proof(cp.size, next.size, &nodes).unwrap();
    drop(tx);
    assert!(merkle::verify_consistency(
        cp.size, next.size, &cp.root, &next.root, &proof
    ));
    assert_eq!(w.service.audit_verifier_keys().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_backlog_is_sealed_in_bounded_runs() {
    let w = world().await;
    // More events than one run takes, written straight into the chain.
    let mut tx = w.service.store().begin().await.unwrap();
    for i in 0..(MAX_SEAL_BATCH + 10) {
        tx.append_audit(keybound_audit::NewEvent {
            time_ms: i64::try_from(i).unwrap(),
            kind: "test".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    let first = w.service.seal_audit_log("n1").await.unwrap().unwrap();
    assert_eq!(first.size, MAX_SEAL_BATCH);
    let second = w.service.seal_audit_log("n1").await.unwrap().unwrap();
    assert_eq!(second.size, MAX_SEAL_BATCH + 10);
}

#[tokio::test]
async fn the_key_is_sealed_under_the_key_encryption_key_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let w = file_world(&dir, Some([5; 32])).await;
    invite(&w, "ada").await;
    w.service.seal_audit_log("n1").await.unwrap().unwrap();
    let key = w.service.audit_verifier_key().await.unwrap().unwrap();
    let mut tx = w.service.store().read().await.unwrap();
    let rows = tx.audit_keys().await.unwrap();
    drop(tx);
    assert_eq!(rows.len(), 1);
    // PKCS#8 of Ed25519 is not in the row: nonce + sealed + tag only.
    assert!(!rows[0].sealed_private.is_empty());
    assert!(!rows[0]
        .sealed_private
        .windows(3)
        .any(|w| w == [0x04, 0x20, 0x04] || w == [0x06, 0x03, 0x2b]));
    drop(w);

    // Restarted with the same key file: the same key signs.
    let w = file_world(&dir, Some([5; 32])).await;
    // A new process is a new holder: it waits out the old one's lease.
    w.clock.0.fetch_add(3_001, Ordering::SeqCst);
    invite(&w, "bob").await;
    let cp = w.service.seal_audit_log("n2").await.unwrap().unwrap();
    key.verify(&cp.note).unwrap();
    assert_eq!(w.service.audit_verifier_keys().await.unwrap().len(), 1);
    drop(w);

    // With another key file: refused, no new key made over the old one.
    let w = file_world(&dir, Some([6; 32])).await;
    w.clock.0.fetch_add(6_002, Ordering::SeqCst);
    invite(&w, "cy").await;
    let err = w.service.seal_audit_log("n3").await.unwrap_err();
    assert!(err.to_string().contains("does not open"), "{err}");
    assert_eq!(w.service.audit_verifier_keys().await.unwrap().len(), 1);
}

#[tokio::test]
async fn without_a_key_encryption_key_the_key_stays_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let w = file_world(&dir, None).await;
    invite(&w, "ada").await;
    let first = w.service.seal_audit_log("n1").await.unwrap().unwrap();
    let mut tx = w.service.store().read().await.unwrap();
    assert!(tx.audit_keys().await.unwrap()[0].sealed_private.is_empty());
    drop(tx);
    drop(w);
    // A new process signs with a key of its own; the old checkpoint
    // still verifies with the old key, which stays published.
    let w = file_world(&dir, None).await;
    invite(&w, "bob").await;
    let second = w.service.seal_audit_log("n1").await.unwrap().unwrap();
    let keys = w.service.audit_verifier_keys().await.unwrap();
    assert_eq!(keys.len(), 2);
    // Keys are listed by id, which is a hash: find each note's signer.
    let signer = |note: &str| {
        let signers: Vec<usize> = (0..keys.len())
            .filter(|&i| keys[i].verify(note).is_ok())
            .collect();
        assert_eq!(signers.len(), 1, "exactly one key signs {note}");
        signers[0]
    };
    assert_ne!(signer(&first.note), signer(&second.note));
}

#[tokio::test]
async fn only_the_lease_holder_seals_and_another_takes_over_when_it_lapses() {
    let dir = tempfile::tempdir().unwrap();
    let a = file_world(&dir, Some([5; 32])).await;
    let b = world_on(a.service.store().clone(), Some([5; 32]));
    invite(&a, "ada").await;
    assert!(a.service.seal_audit_log("node-a").await.unwrap().is_some());
    invite(&b, "bob").await;
    assert_eq!(
        b.service.seal_audit_log("node-b").await.unwrap(),
        None,
        "node-a holds the lease"
    );
    // node-a keeps it by sealing; node-b still waits.
    let by_a = a.service.seal_audit_log("node-a").await.unwrap().unwrap();
    invite(&b, "cy").await;
    assert_eq!(b.service.seal_audit_log("node-b").await.unwrap(), None);

    // node-a stops renewing: once the lease (3 s) lapses node-b seals,
    // with the same key, consistently with node-a's checkpoint.
    b.clock.0.fetch_add(3_001, Ordering::SeqCst);
    let by_b = b.service.seal_audit_log("node-b").await.unwrap().unwrap();
    assert_eq!(by_b.size, last_seq(&b).await);
    assert_eq!(by_b.key_id, by_a.key_id);
    // ... and now node-a is the one that waits.
    invite(&a, "dee").await;
    assert_eq!(a.service.seal_audit_log("node-a").await.unwrap(), None);

    // A graceful stop hands the lease over at once.
    b.service.release_audit_lease("node-b").await.unwrap();
    assert!(a.service.seal_audit_log("node-a").await.unwrap().is_some());
}

/// A sealed log, then `edit` under the sealer: the next run records
/// `audit.tamper` naming `expect`, and signs nothing more.
async fn tampering_is_found(edit: &str, expect: &str) {
    let dir = tempfile::tempdir().unwrap();
    let w = file_world(&dir, Some([5; 32])).await;
    for name in ["ada", "bob", "cy"] {
        invite(&w, name).await;
    }
    let cp = w.service.seal_audit_log("n1").await.unwrap().unwrap();
    sql(&dir, &edit.replace("{last}", &cp.size.to_string()));
    invite(&w, "dee").await;
    let err = w.service.seal_audit_log("n1").await.unwrap_err();
    assert!(err.to_string().contains(expect), "{edit}: {err}");
    let events = w.service.store().audit_events().await.unwrap();
    let alert = events
        .iter()
        .find(|e| e.event.kind == "audit.tamper")
        .unwrap_or_else(|| panic!("{edit}: no audit.tamper"));
    assert_eq!(alert.event.severity, Some(keybound_audit::Severity::High));
    assert_eq!(alert.event.outcome, Some(Outcome::Alert));
    assert!(alert.event.reason.as_deref().unwrap().contains(expect));
    // Halted: nothing more is signed, and it is said each run.
    assert!(w.service.seal_audit_log("n1").await.is_err());
    let latest = w.service.latest_audit_checkpoint().await.unwrap();
    assert!(latest.map_or(0, |c| c.size) <= cp.size, "{edit}");
    assert!(w.service.audit_sealing_halted().is_some());
    // Exactly one alert however many runs.
    let alerts = w
        .service
        .store()
        .audit_events()
        .await
        .unwrap()
        .iter()
        .filter(|e| e.event.kind == "audit.tamper")
        .count();
    assert_eq!(alerts, 1);
}

#[tokio::test]
async fn an_edited_last_event_is_found() {
    tampering_is_found(
        "UPDATE audit_events SET actor = 'mallory' WHERE seq = {last}",
        "no longer hashes to its leaf",
    )
    .await;
}

#[tokio::test]
async fn a_deleted_tail_is_found() {
    tampering_is_found(
        // The next event takes the deleted one's place in the chain.
        "DELETE FROM audit_events WHERE seq >= {last}",
        "no longer hashes to its leaf",
    )
    .await;
}

#[tokio::test]
async fn an_edited_leaf_is_found() {
    tampering_is_found(
        "UPDATE audit_tree SET hash = zeroblob(32) WHERE level = 0 AND idx = {last} - 1",
        "no longer hashes to its leaf",
    )
    .await;
}

#[tokio::test]
async fn an_edited_subtree_is_found() {
    tampering_is_found(
        "UPDATE audit_tree SET hash = zeroblob(32) WHERE level = (SELECT MAX(level) FROM audit_tree)",
        "root is not checkpoint",
    )
    .await;
}

#[tokio::test]
async fn a_truncated_tree_is_found() {
    tampering_is_found(
        "DELETE FROM audit_checkpoints; DELETE FROM audit_tree;",
        "every checkpoint is gone",
    )
    .await;
}

#[tokio::test]
async fn a_rewritten_checkpoint_row_is_found() {
    tampering_is_found(
        "UPDATE audit_checkpoints SET root = zeroblob(32)",
        "not the one this node signed",
    )
    .await;
}

#[tokio::test]
async fn a_missing_node_is_found() {
    tampering_is_found("DELETE FROM audit_tree WHERE level = 1", "lacks the node").await;
}

#[tokio::test]
async fn a_restarted_node_finds_a_rewritten_checkpoint_row_by_its_note() {
    let dir = tempfile::tempdir().unwrap();
    let w = file_world(&dir, Some([5; 32])).await;
    invite(&w, "ada").await;
    w.service.seal_audit_log("n1").await.unwrap().unwrap();
    drop(w);
    sql(&dir, "UPDATE audit_checkpoints SET root = zeroblob(32)");
    let w = file_world(&dir, Some([5; 32])).await;
    let err = w.service.seal_audit_log("n1").await.unwrap_err();
    assert!(
        err.to_string()
            .contains("does not say what its signed note says"),
        "{err}"
    );
}

#[tokio::test]
async fn a_node_restarted_on_a_tampered_log_finds_it_too() {
    let dir = tempfile::tempdir().unwrap();
    let w = file_world(&dir, Some([5; 32])).await;
    invite(&w, "ada").await;
    let cp = w.service.seal_audit_log("n1").await.unwrap().unwrap();
    drop(w);
    sql(
        &dir,
        &format!(
            "UPDATE audit_events SET subject = 'eve' WHERE seq = {}",
            cp.size
        ),
    );
    let w = file_world(&dir, Some([5; 32])).await;
    let err = w.service.seal_audit_log("n1").await.unwrap_err();
    assert!(err.to_string().contains("no longer hashes"), "{err}");
}

#[tokio::test]
async fn a_witness_line_is_appended_per_checkpoint_and_a_bad_path_does_not_stop_sealing() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = world().await;
    let path = dir.path().join("witness.jsonl");
    let mut config = w.service.config().clone();
    config.transparency.witness = Some(path.clone());
    let store = w.service.store().clone();
    w.service = Service::new(
        store,
        config,
        w.clock.clone(),
        Box::new(rand_chacha::ChaCha20Rng::seed_from_u64(4)),
    );
    invite(&w, "ada").await;
    let one = w.service.seal_audit_log("n1").await.unwrap().unwrap();
    invite(&w, "bob").await;
    let two = w.service.seal_audit_log("n1").await.unwrap().unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    for (line, cp) in lines.iter().zip([&one, &two]) {
        assert_eq!(line["size"], cp.size);
        assert_eq!(line["note"], cp.note);
        assert_eq!(line["time_ms"], cp.time_ms);
        assert_eq!(line["key_id"], cp.key_id.as_str());
        use base64::Engine;
        let root = base64::engine::general_purpose::STANDARD
            .decode(line["root"].as_str().unwrap())
            .unwrap();
        assert_eq!(root, cp.root);
    }

    // A witness that cannot be written: checkpoints are still signed.
    let mut config = w.service.config().clone();
    config.transparency.witness = Some(dir.path().join("missing/dir/witness.jsonl"));
    let store = w.service.store().clone();
    let w2 = Service::new(
        store,
        config,
        w.clock.clone(),
        Box::new(rand_chacha::ChaCha20Rng::seed_from_u64(5)),
    );
    w.service
        .invite("cy", false, &Operator::local("cli"))
        .await
        .unwrap();
    assert!(w2.seal_audit_log("n1").await.unwrap().is_some());
}

/// A service on the file database `dir` with a witness file.
async fn witnessed_world(dir: &tempfile::TempDir, witness: &std::path::Path) -> World {
    let mut w = file_world(dir, Some([5; 32])).await;
    let mut config = w.service.config().clone();
    config.transparency.witness = Some(witness.to_path_buf());
    let store = w.service.store().clone();
    w.service = Service::new(
        store,
        config,
        w.clock.clone(),
        Box::new(rand_chacha::ChaCha20Rng::seed_from_u64(
            SEED.fetch_add(1, Ordering::SeqCst),
        )),
    );
    w
}

/// A truncation that deletes the tail's events, tree rows and checkpoints
/// leaves a database that agrees with itself; a node starting on it (or
/// taking the lease over) remembers nothing, but its witness file does.
#[tokio::test]
async fn a_fresh_node_finds_a_clean_truncation_by_its_witness() {
    let dir = tempfile::tempdir().unwrap();
    let witness = dir.path().join("witness.jsonl");
    let w = witnessed_world(&dir, &witness).await;
    invite(&w, "ada").await;
    let first = w.service.seal_audit_log("n1").await.unwrap().unwrap();
    invite(&w, "bob").await;
    invite(&w, "cy").await;
    let second = w.service.seal_audit_log("n1").await.unwrap().unwrap();
    drop(w);
    sql(
        &dir,
        &format!(
            "DELETE FROM audit_events WHERE seq > {s};
             DELETE FROM audit_tree WHERE (idx + 1) << level > {s};
             DELETE FROM audit_checkpoints WHERE size > {s};",
            s = first.size
        ),
    );
    let w = witnessed_world(&dir, &witness).await;
    w.clock.0.fetch_add(3_001, Ordering::SeqCst);
    invite(&w, "dee").await;
    invite(&w, "eve").await;
    invite(&w, "fay").await;
    let err = w.service.seal_audit_log("n2").await.unwrap_err();
    assert!(
        err.to_string().contains(&format!("one of {}", second.size)),
        "{err}"
    );
    // Without the witness the same database would be signed over: the
    // check is the witness's.
    let latest = w.service.latest_audit_checkpoint().await.unwrap().unwrap();
    assert_eq!(latest.size, first.size);
}

/// Sequence numbers are given under the writer lock and committed in
/// order: a gap is a deleted event, never sealed over.
#[tokio::test]
async fn a_deleted_unsealed_event_halts_the_sealer() {
    let dir = tempfile::tempdir().unwrap();
    let w = file_world(&dir, Some([5; 32])).await;
    invite(&w, "ada").await;
    let cp = w.service.seal_audit_log("n1").await.unwrap().unwrap();
    invite(&w, "bob").await;
    invite(&w, "cy").await;
    sql(
        &dir,
        &format!("DELETE FROM audit_events WHERE seq = {}", cp.size + 1),
    );
    let err = w.service.seal_audit_log("n1").await.unwrap_err();
    assert!(err.to_string().contains("is missing"), "{err}");
    assert!(w.service.audit_sealing_halted().is_some());
    let tamper = w
        .service
        .store()
        .audit_events()
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.event.kind == "audit.tamper")
        .count();
    assert_eq!(tamper, 1);
}

/// A node without the key-encryption key does not start a key of its own
/// beside the sealed one.
#[tokio::test]
async fn a_node_without_the_key_file_does_not_start_another_key() {
    let dir = tempfile::tempdir().unwrap();
    let w = file_world(&dir, Some([5; 32])).await;
    invite(&w, "ada").await;
    w.service.seal_audit_log("n1").await.unwrap().unwrap();
    drop(w);
    let w = file_world(&dir, None).await;
    w.clock.0.fetch_add(3_001, Ordering::SeqCst);
    invite(&w, "bob").await;
    let err = w.service.seal_audit_log("n2").await.unwrap_err();
    assert!(
        err.to_string().contains("--ca-key-encryption-key-file"),
        "{err}"
    );
    assert_eq!(w.service.audit_verifier_keys().await.unwrap().len(), 1);
}
