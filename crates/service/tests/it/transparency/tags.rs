//! Event tags (`keybound_audit::mac`): with a key-encryption key every
//! event is tagged, the checkpoints say from which event on tags are
//! required, and an event a database writer inserts (correctly chained,
//! but untagged or badly tagged) stops the sealer instead of being signed
//! into history.

use keybound_audit::mac::{mac_since, EventMac};
use keybound_audit::NewEvent;

use super::*;

const KEK: [u8; 32] = [5; 32];

/// What a database writer can do without the key: append an event whose
/// `prev_hash` and `hash` are right (the chain is keyless), through a
/// store that tags nothing, as a raw INSERT would.
async fn forge(dir: &tempfile::TempDir, subject: &str) -> u64 {
    let url = format!("sqlite://{}", dir.path().join("kb.db").display());
    let outsider = Store::open(&url).await.unwrap();
    let mut tx = outsider.begin().await.unwrap();
    let forged = tx
        .append_audit(NewEvent {
            kind: "identity.admin".into(),
            actor: Some("cli".into()),
            subject: Some(subject.into()),
            outcome: Some(Outcome::Success),
            ..Default::default()
        })
        .await
        .unwrap();
    tx.commit().await.unwrap();
    outsider.close().await.unwrap();
    forged.seq
}

/// The first event the latest checkpoint requires a tag of.
async fn signed_since(w: &World) -> Option<u64> {
    let cp = w.service.latest_audit_checkpoint().await.unwrap().unwrap();
    // Every key the log has had (listed by id, a hash): the one that
    // signed it opens it.
    let keys = w.service.audit_verifier_keys().await.unwrap();
    let body = keys.iter().find_map(|k| k.open(&cp.note).ok()).unwrap();
    mac_since(body)
}

async fn tags(w: &World) -> Vec<(u64, Option<Vec<u8>>)> {
    let last = last_seq(w).await;
    w.service.store().audit_tags(0, last).await.unwrap()
}

/// Sealing was refused for `expect`: `audit.tamper` says so, and nothing
/// past `signed` was signed.
async fn refused(w: &World, signed: u64, expect: &str) {
    let err = w.service.seal_audit_log("n1").await.unwrap_err();
    assert!(err.to_string().contains(expect), "{err}");
    let events = w.service.store().audit_events().await.unwrap();
    let alert = events
        .iter()
        .find(|e| e.event.kind == "audit.tamper")
        .expect("audit.tamper recorded");
    assert!(alert.event.reason.as_deref().unwrap().contains(expect));
    let latest = w.service.latest_audit_checkpoint().await.unwrap().unwrap();
    assert_eq!(latest.size, signed, "nothing more signed");
    assert!(w.service.seal_audit_log("n1").await.is_err(), "halted");
}

#[tokio::test]
async fn every_event_is_tagged_and_the_checkpoint_requires_tags_from_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let w = file_world(&dir, Some(KEK)).await;
    invite(&w, "ada").await;
    let stored = tags(&w).await;
    assert!(!stored.is_empty());
    let key = EventMac::derive(&KEK);
    let events = w.service.store().audit_events().await.unwrap();
    for (event, (seq, tag)) in events.iter().zip(&stored) {
        assert_eq!(event.seq, *seq);
        assert!(key.verify(*seq, &event.hash, tag.as_deref().unwrap()));
    }
    w.service.seal_audit_log("n1").await.unwrap().unwrap();
    assert_eq!(signed_since(&w).await, Some(1));
}

#[tokio::test]
async fn an_untagged_event_a_database_writer_appends_is_not_sealed() {
    let dir = tempfile::tempdir().unwrap();
    let w = file_world(&dir, Some(KEK)).await;
    invite(&w, "ada").await;
    let cp = w.service.seal_audit_log("n1").await.unwrap().unwrap();
    let forged = forge(&dir, "mallory").await;
    // The chain alone cannot tell: the forged event links correctly.
    let events = w.service.store().audit_events().await.unwrap();
    assert!(keybound_audit::verify_chain(events.iter().cloned()).is_ok());
    refused(&w, cp.size, &format!("event {forged} carries no tag")).await;
}

#[tokio::test]
async fn a_changed_tag_is_not_sealed() {
    let dir = tempfile::tempdir().unwrap();
    let w = file_world(&dir, Some(KEK)).await;
    invite(&w, "ada").await;
    let cp = w.service.seal_audit_log("n1").await.unwrap().unwrap();
    invite(&w, "bob").await;
    let last = last_seq(&w).await;
    sql(
        &dir,
        &format!("UPDATE audit_events SET mac = zeroblob(32) WHERE seq = {last}"),
    );
    refused(
        &w,
        cp.size,
        &format!("event {last} carries a tag that does not verify"),
    )
    .await;
}

#[tokio::test]
async fn untagging_the_sealed_events_does_not_lift_the_requirement() {
    let dir = tempfile::tempdir().unwrap();
    let w = file_world(&dir, Some(KEK)).await;
    invite(&w, "ada").await;
    let cp = w.service.seal_audit_log("n1").await.unwrap().unwrap();
    // The requirement is in the signed note, not in the rows: removing
    // every stored tag changes nothing, even for a node that restarts.
    sql(&dir, "UPDATE audit_events SET mac = NULL");
    drop(w);
    let w = file_world(&dir, Some(KEK)).await;
    let forged = forge(&dir, "mallory").await;
    refused(&w, cp.size, &format!("event {forged} carries no tag")).await;
}

#[tokio::test]
async fn events_from_before_tags_are_sealed_and_tags_are_required_after() {
    let dir = tempfile::tempdir().unwrap();
    // An older deployment: no key-encryption key, no tags.
    let w = file_world(&dir, None).await;
    invite(&w, "ada").await;
    w.service.seal_audit_log("n1").await.unwrap().unwrap();
    assert_eq!(signed_since(&w).await, None);
    assert!(tags(&w).await.iter().all(|(_, t)| t.is_none()));
    let untagged = forge(&dir, "old").await;
    drop(w);

    // Now with one: the untagged backlog seals, tags start with the first
    // tagged event, and from there an untagged event is refused.
    let w = file_world(&dir, Some(KEK)).await;
    invite(&w, "bob").await;
    let cp = w.service.seal_audit_log("n1").await.unwrap().unwrap();
    assert_eq!(cp.size, last_seq(&w).await);
    assert_eq!(signed_since(&w).await, Some(untagged + 1));
    let forged = forge(&dir, "mallory").await;
    refused(&w, cp.size, &format!("event {forged} carries no tag")).await;
}

#[tokio::test]
async fn verify_names_the_first_untagged_events_and_counts_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let w = file_world(&dir, Some(KEK)).await;
    invite(&w, "ada").await;
    w.service.seal_audit_log("n1").await.unwrap().unwrap();
    let report = w.service.verify_audit_log(&[], None).await.unwrap();
    assert!(report.ok(), "{:?}", report.problems);
    let tagged = last_seq(&w).await;
    assert_eq!(
        report.tags,
        TagSummary::Checked {
            tagged,
            since: Some(1)
        }
    );
    let mut forged = Vec::new();
    for i in 0..5 {
        forged.push(forge(&dir, &format!("mallory{i}")).await);
    }
    let report = w.service.verify_audit_log(&[], None).await.unwrap();
    let untagged: Vec<&str> = report
        .problems
        .iter()
        .filter(|p| p.kind == ProblemKind::Untagged)
        .map(|p| p.message.as_str())
        .collect();
    assert_eq!(untagged.len(), 4, "{untagged:?}");
    for (message, seq) in untagged.iter().zip(&forged[..3]) {
        assert!(
            message.contains(&format!("event {seq} carries no tag")),
            "{message}"
        );
    }
    assert!(untagged[3].contains("2 more events carry no valid tag (5 in all)"));
    // The chain and the tree hold: only the tags tell.
    assert!(report
        .problems
        .iter()
        .all(|p| p.kind == ProblemKind::Untagged));

    // Untagging everything does not help: the signed checkpoint still
    // requires tags from event 1.
    sql(&dir, "UPDATE audit_events SET mac = NULL");
    let report = w.service.verify_audit_log(&[], None).await.unwrap();
    assert!(report
        .problems
        .iter()
        .any(|p| p.message.contains("event 1 carries no tag")));

    // A process without the key checks nothing, and says so.
    drop(w);
    let keyless = file_world(&dir, None).await;
    let report = keyless.service.verify_audit_log(&[], None).await.unwrap();
    assert_eq!(report.tags, TagSummary::NotChecked);
    assert!(report.ok(), "{:?}", report.problems);
}

#[tokio::test]
async fn an_unsealed_event_edited_in_place_is_not_sealed() {
    let dir = tempfile::tempdir().unwrap();
    let w = file_world(&dir, Some(KEK)).await;
    invite(&w, "ada").await;
    let cp = w.service.seal_audit_log("n1").await.unwrap().unwrap();
    invite(&w, "bob").await;
    let last = last_seq(&w).await;
    // The content changes; its hash and tag are left as they were.
    sql(
        &dir,
        &format!("UPDATE audit_events SET subject = 'mallory' WHERE seq = {last}"),
    );
    refused(
        &w,
        cp.size,
        &format!("event {last} no longer matches its own hash"),
    )
    .await;
}

#[tokio::test]
async fn a_tag_stored_as_text_is_a_bad_tag_not_a_silent_stall() {
    let dir = tempfile::tempdir().unwrap();
    let w = file_world(&dir, Some(KEK)).await;
    invite(&w, "ada").await;
    let cp = w.service.seal_audit_log("n1").await.unwrap().unwrap();
    invite(&w, "bob").await;
    let last = last_seq(&w).await;
    sql(
        &dir,
        &format!("UPDATE audit_events SET mac = 'not a tag' WHERE seq = {last}"),
    );
    refused(
        &w,
        cp.size,
        &format!("event {last} carries a tag that does not verify"),
    )
    .await;
}

/// What a database writer can do with a key of their own: store it and
/// re-sign the latest checkpoint (same size and root) without the
/// `keybound-mac-since` line.
fn resign_without_the_requirement(dir: &tempfile::TempDir) {
    use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
    let pair = Ed25519KeyPair::from_seed_unchecked(&[42; 32]).unwrap();
    let public: [u8; 32] = pair.public_key().as_ref().try_into().unwrap();
    let db = rusqlite::Connection::open(dir.path().join("kb.db")).unwrap();
    let (size, root, origin): (i64, Vec<u8>, String) = db
        .query_row(
            "SELECT c.size, c.root, k.origin FROM audit_checkpoints c \
             JOIN audit_keys k ON k.key_id = c.key_id ORDER BY c.size DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    let key = VerifierKey::new(&origin, public).unwrap();
    let note = keybound_audit::checkpoint::Checkpoint {
        origin: origin.clone(),
        size: u64::try_from(size).unwrap(),
        root: root.as_slice().try_into().unwrap(),
    }
    .sign(&pair);
    db.execute(
        "INSERT INTO audit_keys (key_id, origin, public_key, sealed_private, created_ms) \
         VALUES (?1, ?2, ?3, X'', 1)",
        rusqlite::params![key.key_id(), origin, public.to_vec()],
    )
    .unwrap();
    db.execute(
        "UPDATE audit_checkpoints SET note = ?1, key_id = ?2 WHERE size = ?3",
        rusqlite::params![note, key.key_id(), size],
    )
    .unwrap();
}

#[tokio::test]
async fn a_checkpoint_re_signed_without_the_requirement_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let w = file_world(&dir, Some(KEK)).await;
    invite(&w, "ada").await;
    let cp = w.service.seal_audit_log("n1").await.unwrap().unwrap();
    resign_without_the_requirement(&dir);
    forge(&dir, "mallory").await;
    refused(&w, cp.size, "does not require event tags from 1 on").await;
}

#[tokio::test]
async fn a_restarted_node_remembers_the_requirement_by_its_witness() {
    let dir = tempfile::tempdir().unwrap();
    let witness = dir.path().join("witness.jsonl");
    let w = witnessed_world(&dir, &witness).await;
    invite(&w, "ada").await;
    let cp = w.service.seal_audit_log("n1").await.unwrap().unwrap();
    drop(w);
    resign_without_the_requirement(&dir);
    forge(&dir, "mallory").await;
    let w = witnessed_world(&dir, &witness).await;
    refused(&w, cp.size, "does not require event tags from 1 on").await;
}

#[tokio::test]
async fn a_node_without_the_key_does_not_seal_a_log_that_requires_tags() {
    let dir = tempfile::tempdir().unwrap();
    let w = file_world(&dir, Some(KEK)).await;
    invite(&w, "ada").await;
    let cp = w.service.seal_audit_log("n1").await.unwrap().unwrap();
    drop(w);
    let keyless = file_world(&dir, None).await;
    invite(&keyless, "bob").await;
    let err = keyless.service.seal_audit_log("n1").await.unwrap_err();
    assert!(
        err.to_string()
            .contains("requires every event from 1 on to be tagged"),
        "{err}"
    );
    let latest = keyless.service.latest_audit_checkpoint().await.unwrap();
    assert_eq!(latest.unwrap().size, cp.size);
}

#[tokio::test]
async fn verify_holds_the_requirement_of_a_given_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let w = file_world(&dir, Some(KEK)).await;
    invite(&w, "ada").await;
    let cp = w.service.seal_audit_log("n1").await.unwrap().unwrap();
    let key = w.service.audit_verifier_key().await.unwrap().unwrap();
    // The stored checkpoints and tree go, every tag is cleared, and an
    // event is appended: nothing stored requires tags any more.
    sql(
        &dir,
        "DELETE FROM audit_checkpoints; DELETE FROM audit_tree; UPDATE audit_events SET mac = NULL",
    );
    let forged = forge(&dir, "mallory").await;
    let stored_only = w.service.verify_audit_log(&[], Some(&key)).await.unwrap();
    assert!(
        stored_only
            .problems
            .iter()
            .all(|p| p.kind != ProblemKind::Untagged),
        "nothing stored requires tags: {:?}",
        stored_only.problems
    );
    // The checkpoint the auditor kept still does.
    let given = GivenCheckpoint {
        source: "kept".into(),
        note: cp.note.clone(),
        time_ms: None,
    };
    let report = w
        .service
        .verify_audit_log(&[given], Some(&key))
        .await
        .unwrap();
    let untagged: Vec<&str> = report
        .problems
        .iter()
        .filter(|p| p.kind == ProblemKind::Untagged)
        .map(|p| p.message.as_str())
        .collect();
    assert!(
        untagged
            .iter()
            .any(|m| m.contains("event 1 carries no tag")),
        "{untagged:?}"
    );
    assert!(
        untagged
            .iter()
            .any(|m| m.contains(&format!("{}", forged)) || m.contains("more events")),
        "{untagged:?}"
    );
}
