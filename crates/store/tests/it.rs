//! The store conformance suite: every test runs against SQLite (a file) and
//! against a real PostgreSQL server started for this test binary
//! (`keybound-testdb`). `cargo test -p keybound-store postgres` runs the
//! PostgreSQL half.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

use keybound_audit::{verify_chain, NewEvent, Outcome};
use keybound_store::*;

/// A database for one test: a SQLite file, or a fresh PostgreSQL database.
struct Db {
    url: String,
    _dir: Option<tempfile::TempDir>,
}

impl Db {
    fn sqlite() -> Db {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("keybound.db").display());
        Db {
            url,
            _dir: Some(dir),
        }
    }

    fn postgres(test: &str) -> Option<Db> {
        let server = keybound_testdb::shared(test)?;
        Some(Db {
            url: server.fresh_database(),
            _dir: None,
        })
    }

    /// A store on this database; open it twice for two nodes.
    async fn open(&self) -> Store {
        Store::open(&self.url).await.unwrap()
    }
}

/// Each named `async fn(&Db)` becomes a module with a `sqlite` and a
/// `postgres` test.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$name(&super::Db::sqlite()).await;
            }

            #[tokio::test]
            async fn postgres() {
                if let Some(db) = super::Db::postgres(stringify!($name)) {
                    super::$name(&db).await;
                }
            }
        }
    )*};
}

on_both_backends!(
    identities_round_trip_and_names_are_unique,
    single_use_values_are_used_once_by_kind_and_purged,
    identity_kinds_round_trip,
    credentials_are_unique_across_identities_and_revocable,
    a_rolled_back_transaction_leaves_nothing,
    audit_chain_survives_concurrent_writers_and_reopening,
    challenges_are_single_use_bound_to_session_and_ceremony_and_expire,
    a_challenge_raced_by_many_transactions_is_taken_once,
    grants_are_single_use_and_expire,
    nicknames_are_set_and_cleared,
    sessions_end_on_sign_out_expiry_or_credential_revocation,
    secrets_are_created_once,
    concurrent_commits_share_batches_and_abandoned_ones_vanish,
    two_nodes_race_for_one_challenge_and_share_one_audit_chain,
    a_revocation_on_one_node_is_seen_at_once_by_the_other,
    quarantine_metadata_and_recovery_round_trip,
    relaxed_durability_opens_and_commits,
    outstanding_challenges_are_counted_and_found,
    readers_see_what_is_committed_and_cannot_write,
    expired_challenges_and_finished_sessions_are_purged,
    look_ups_of_text_with_a_nul_find_nothing,
    a_persons_live_sessions_are_listed_and_ended_one_by_one,
);

#[path = "it/audit_details.rs"]
mod audit_details;
#[path = "it/audit_pages.rs"]
mod audit_pages;
#[path = "it/audit_streams.rs"]
mod audit_streams;
#[path = "it/audit_tree.rs"]
mod audit_tree;
#[path = "it/backup.rs"]
mod backup;
#[path = "it/dbsc.rs"]
mod dbsc;
#[path = "it/devices.rs"]
mod devices;
#[path = "it/names.rs"]
mod names;
#[path = "it/observer.rs"]
mod observer;
#[path = "it/oidc.rs"]
mod oidc;
#[path = "it/posture.rs"]
mod posture;
#[path = "it/signing_keys.rs"]
mod signing_keys;
#[path = "it/standing.rs"]
mod standing;

/// PostgreSQL refuses a NUL in a text parameter with an error; client text
/// (a name, an id from a URL) must find nothing, not fail (issue 12).
async fn look_ups_of_text_with_a_nul_find_nothing(db: &Db) {
    let store = db.open().await;
    let mut tx = store.begin().await.unwrap();
    tx.insert_identity(&identity("ada")).await.unwrap();
    assert!(tx.identity_by_name("ada\0").await.unwrap().is_none());
    assert!(tx.identity_resembling("a\0da").await.unwrap().is_none());
    assert!(tx.recovery("x\0").await.unwrap().is_none());
    assert!(tx.role_proposal("\0").await.unwrap().is_none());
    assert!(tx.identity_by_name("ada").await.unwrap().is_some());
    tx.commit().await.unwrap();
}

fn identity(name: &str) -> Identity {
    Identity {
        kind: IdentityKind::Person,
        id: format!("id-{name}"),
        name: name.into(),
        status: IdentityStatus::Invited,
        is_admin: false,
        user_handle: format!("handle-{name}").into_bytes(),
        created_ms: 1,
    }
}

fn credential(id: &[u8], owner: &str) -> Credential {
    Credential {
        id: id.to_vec(),
        identity_id: format!("id-{owner}"),
        public_key: vec![0xa5, 1, 2],
        alg: -7,
        sign_count: 0,
        aaguid: "00000000-0000-0000-0000-000000000000".into(),
        attestation_format: "none".into(),
        attestation_type: "none".into(),
        attestation_trust: "not_applicable".into(),
        transports: vec!["usb".into(), "nfc".into()],
        backup_eligible: false,
        backup_state: false,
        user_verified: true,
        nickname: Some("key".into()),
        created_ms: 5,
        last_used_ms: None,
        status: CredentialStatus::Active,
        tier: 1,
        tier_reasons: String::new(),
        attestation_chain: vec!["AQID".into()],
        tier_cap: None,
    }
}

async fn identities_round_trip_and_names_are_unique(db: &Db) {
    let store = db.open().await;
    let mut tx = store.begin().await.unwrap();
    tx.insert_identity(&identity("ada")).await.unwrap();
    assert_eq!(
        tx.insert_identity(&Identity {
            id: "other".into(),
            ..identity("ada")
        })
        .await
        .unwrap_err(),
        StoreError::Conflict
    );
    tx.commit().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    assert_eq!(
        tx.identity_by_name("ada").await.unwrap(),
        Some(identity("ada"))
    );
    assert_eq!(
        tx.identity_by_user_handle(b"handle-ada").await.unwrap(),
        Some(identity("ada"))
    );
    assert_eq!(tx.identity_by_name("bob").await.unwrap(), None);
    assert!(tx
        .set_identity_status("id-ada", IdentityStatus::Active)
        .await
        .unwrap());
    assert_eq!(
        tx.identity_by_name("ada").await.unwrap().unwrap().status,
        IdentityStatus::Active
    );
}

async fn credentials_are_unique_across_identities_and_revocable(db: &Db) {
    let store = db.open().await;
    let mut tx = store.begin().await.unwrap();
    tx.insert_identity(&identity("ada")).await.unwrap();
    tx.insert_identity(&identity("bob")).await.unwrap();
    tx.insert_credential(&credential(b"c1", "ada"))
        .await
        .unwrap();
    assert_eq!(
        tx.insert_credential(&credential(b"c1", "bob"))
            .await
            .unwrap_err(),
        StoreError::Conflict
    );
    assert_eq!(
        tx.credential(b"c1").await.unwrap(),
        Some(credential(b"c1", "ada"))
    );
    assert!(tx.record_use(b"c1", 7, true, 99).await.unwrap());
    let used = tx.credential(b"c1").await.unwrap().unwrap();
    assert_eq!(
        (used.sign_count, used.backup_state, used.last_used_ms),
        (7, true, Some(99))
    );
    assert!(tx.revoke_credential(b"c1", "lost").await.unwrap());
    assert!(!tx.revoke_credential(b"c1", "again").await.unwrap());
    assert!(
        !tx.record_use(b"c1", 8, true, 100).await.unwrap(),
        "revoked: no use"
    );
    assert_eq!(
        tx.credentials_of("id-ada").await.unwrap()[0].status,
        CredentialStatus::Revoked("lost".into())
    );
}

async fn a_rolled_back_transaction_leaves_nothing(db: &Db) {
    let store = db.open().await;
    let mut tx = store.begin().await.unwrap();
    tx.insert_identity(&identity("ada")).await.unwrap();
    tx.append_audit(NewEvent {
        kind: "test".into(),
        ..NewEvent::default()
    })
    .await
    .unwrap();
    drop(tx);
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.identity_by_name("ada").await.unwrap(), None);
    drop(tx);
    assert!(store.audit_events().await.unwrap().is_empty());
}

async fn audit_chain_survives_concurrent_writers_and_reopening(db: &Db) {
    let store = db.open().await;
    let mut tasks = Vec::new();
    for w in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..10 {
                let mut tx = store.begin().await.unwrap();
                tx.append_audit(NewEvent {
                    time_ms: i,
                    kind: "authentication".into(),
                    subject: Some(format!("writer{w}")),
                    outcome: Some(Outcome::Success),
                    sign_count: Some(i as u32),
                    ..NewEvent::default()
                })
                .await
                .unwrap();
                tx.commit().await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let events = store.audit_events().await.unwrap();
    assert_eq!(verify_chain(events).unwrap(), 80);
    drop(store);
    let reopened = db.open().await;
    assert_eq!(
        verify_chain(reopened.audit_events().await.unwrap()).unwrap(),
        80
    );
    assert!(reopened.ping().await);
}

#[tokio::test]
async fn in_memory_database_works_for_tests() {
    let store = Store::open("sqlite::memory:").await.unwrap();
    let mut tx = store.begin().await.unwrap();
    tx.insert_identity(&identity("ada")).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    assert!(tx.identity_by_name("ada").await.unwrap().is_some());
}

fn challenge(tag: u8, expires_ms: i64) -> Challenge {
    Challenge {
        challenge_hash: vec![tag; 32],
        session_hash: b"session-a".to_vec(),
        ceremony: "registration".into(),
        payload: "{}".into(),
        expires_ms,
    }
}

async fn challenges_are_single_use_bound_to_session_and_ceremony_and_expire(db: &Db) {
    let store = db.open().await;
    let mut tx = store.begin().await.unwrap();
    tx.insert_challenge(&challenge(1, 1_000)).await.unwrap();
    tx.insert_challenge(&challenge(2, 1_000)).await.unwrap();
    // Another session, the other ceremony, or too late: not found.
    assert!(tx
        .take_challenge(&[1; 32], b"session-b", "registration", 10)
        .await
        .unwrap()
        .is_none());
    assert!(tx
        .take_challenge(&[1; 32], b"session-a", "authentication", 10)
        .await
        .unwrap()
        .is_none());
    assert!(tx
        .take_challenge(&[2; 32], b"session-a", "registration", 1_000)
        .await
        .unwrap()
        .is_none());
    // The right one, once.
    let taken = tx
        .take_challenge(&[1; 32], b"session-a", "registration", 10)
        .await
        .unwrap();
    assert_eq!(taken, Some(challenge(1, 1_000)));
    assert!(tx
        .take_challenge(&[1; 32], b"session-a", "registration", 10)
        .await
        .unwrap()
        .is_none());
    tx.commit().await.unwrap();
}

async fn a_challenge_raced_by_many_transactions_is_taken_once(db: &Db) {
    let store = db.open().await;
    let mut tx = store.begin().await.unwrap();
    tx.insert_challenge(&challenge(9, i64::MAX)).await.unwrap();
    tx.commit().await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut tx = store.begin().await.unwrap();
            let got = tx
                .take_challenge(&[9; 32], b"session-a", "registration", 1)
                .await
                .unwrap();
            tx.commit().await.unwrap();
            got.is_some()
        }));
    }
    let mut wins = 0;
    for t in tasks {
        wins += usize::from(t.await.unwrap());
    }
    assert_eq!(wins, 1);
}

async fn grants_are_single_use_and_expire(db: &Db) {
    let store = db.open().await;
    let mut tx = store.begin().await.unwrap();
    tx.insert_identity(&identity("ada")).await.unwrap();
    let grant = Grant {
        token_hash: vec![3; 32],
        kind: "invitation".into(),
        identity_id: "id-ada".into(),
        issued_by: "cli".into(),
        min_tier: 1,
        created_ms: 0,
        expires_ms: 100,
        used_ms: None,
    };
    tx.insert_grant(&grant).await.unwrap();
    tx.insert_grant(&Grant {
        token_hash: vec![4; 32],
        ..grant.clone()
    })
    .await
    .unwrap();
    assert!(
        tx.take_grant(&[4; 32], 100).await.unwrap().is_none(),
        "expired"
    );
    assert_eq!(
        tx.take_grant(&[3; 32], 50).await.unwrap(),
        Some(Grant {
            used_ms: Some(50),
            ..grant.clone()
        })
    );
    assert!(tx.take_grant(&[3; 32], 51).await.unwrap().is_none(), "used");
    let seen = tx.grant(&[3; 32]).await.unwrap().unwrap();
    assert_eq!(seen.used_ms, Some(50), "a used grant says when");
    assert_eq!(tx.grant(&[4; 32]).await.unwrap().unwrap().used_ms, None);
    assert!(tx.grant(&[5; 32]).await.unwrap().is_none());
}

async fn nicknames_are_set_and_cleared(db: &Db) {
    let store = db.open().await;
    let mut tx = store.begin().await.unwrap();
    tx.insert_identity(&identity("ada")).await.unwrap();
    tx.insert_credential(&credential(b"c1", "ada"))
        .await
        .unwrap();
    assert!(tx.set_nickname(b"c1", Some("laptop")).await.unwrap());
    let nick = |c: Option<keybound_store::Credential>| c.unwrap().nickname;
    assert_eq!(
        nick(tx.credential(b"c1").await.unwrap()).as_deref(),
        Some("laptop")
    );
    assert!(tx.set_nickname(b"c1", None).await.unwrap());
    assert_eq!(nick(tx.credential(b"c1").await.unwrap()), None);
    assert!(!tx.set_nickname(b"nope", Some("x")).await.unwrap());
}

async fn sessions_end_on_sign_out_expiry_or_credential_revocation(db: &Db) {
    let store = db.open().await;
    let mut tx = store.begin().await.unwrap();
    tx.insert_identity(&identity("ada")).await.unwrap();
    tx.insert_credential(&credential(b"c1", "ada"))
        .await
        .unwrap();
    let session = |tag: u8| Session {
        id_hash: vec![tag; 32],
        identity_id: "id-ada".into(),
        credential_id: b"c1".to_vec(),
        user_verified: true,
        tier: 2,
        created_ms: 0,
        expires_ms: 100,
    };
    tx.insert_session(&session(1)).await.unwrap();
    tx.insert_session(&session(2)).await.unwrap();
    assert_eq!(
        tx.live_session(&[1; 32], 10).await.unwrap(),
        Some(session(1))
    );
    assert!(
        tx.live_session(&[1; 32], 100).await.unwrap().is_none(),
        "expired"
    );
    assert!(tx.end_session(&[1; 32], 20).await.unwrap());
    assert!(
        tx.live_session(&[1; 32], 21).await.unwrap().is_none(),
        "signed out"
    );
    assert!(!tx.end_session(&[1; 32], 22).await.unwrap());
    assert!(tx.live_session(&[2; 32], 10).await.unwrap().is_some());
    tx.revoke_credential(b"c1", "lost").await.unwrap();
    assert!(
        tx.live_session(&[2; 32], 10).await.unwrap().is_none(),
        "credential revoked"
    );
}

/// The console's view of a person's sessions: live ones only, newest
/// first; one ended by its hash, and only as that person's.
async fn a_persons_live_sessions_are_listed_and_ended_one_by_one(db: &Db) {
    let store = db.open().await;
    let mut tx = store.begin().await.unwrap();
    tx.insert_identity(&identity("ada")).await.unwrap();
    tx.insert_identity(&identity("bob")).await.unwrap();
    tx.insert_credential(&credential(b"c1", "ada"))
        .await
        .unwrap();
    let session = |tag: u8, created_ms: i64, expires_ms: i64| Session {
        id_hash: vec![tag; 32],
        identity_id: "id-ada".into(),
        credential_id: b"c1".to_vec(),
        user_verified: true,
        tier: 2,
        created_ms,
        expires_ms,
    };
    tx.insert_session(&session(1, 0, 100)).await.unwrap();
    tx.insert_session(&session(2, 5, 100)).await.unwrap();
    tx.insert_session(&session(3, 1, 8)).await.unwrap();
    let live = tx.live_sessions_of("id-ada", 10).await.unwrap();
    assert_eq!(
        live,
        [session(2, 5, 100), session(1, 0, 100)],
        "newest first, expired left out"
    );
    assert!(tx.live_sessions_of("id-bob", 10).await.unwrap().is_empty());
    assert!(
        !tx.end_session_of("id-bob", &[1; 32], 20).await.unwrap(),
        "not bob's"
    );
    assert!(
        !tx.end_session_of("id-ada", &[3; 32], 20).await.unwrap(),
        "expired"
    );
    assert!(tx.end_session_of("id-ada", &[1; 32], 20).await.unwrap());
    assert!(
        !tx.end_session_of("id-ada", &[1; 32], 21).await.unwrap(),
        "once"
    );
    assert_eq!(
        tx.live_sessions_of("id-ada", 21).await.unwrap(),
        [session(2, 5, 100)]
    );
    tx.commit().await.unwrap();
}

async fn secrets_are_created_once(db: &Db) {
    let store = db.open().await;
    assert_eq!(store.secret("k", &[1; 32]).await.unwrap(), vec![1; 32]);
    assert_eq!(store.secret("k", &[2; 32]).await.unwrap(), vec![1; 32]);
    assert_eq!(store.secret("other", &[3; 32]).await.unwrap(), vec![3; 32]);
}

async fn concurrent_commits_share_batches_and_abandoned_ones_vanish(db: &Db) {
    let store = db.open().await;
    let mut tasks = Vec::new();
    for i in 0..64 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut tx = store.begin().await.unwrap();
            tx.insert_identity(&identity(&format!("u{i:02}")))
                .await
                .unwrap();
            tx.append_audit(NewEvent {
                kind: "test".into(),
                subject: Some(format!("u{i:02}")),
                ..NewEvent::default()
            })
            .await
            .unwrap();
            if i % 2 == 0 {
                tx.commit().await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut tx = store.begin().await.unwrap();
    let names: Vec<String> = tx
        .identities()
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.name)
        .collect();
    let evens: Vec<String> = (0..64).step_by(2).map(|i| format!("u{i:02}")).collect();
    assert_eq!(names, evens, "committed ones stay, dropped ones vanish");
    drop(tx);
    let events = store.audit_events().await.unwrap();
    assert_eq!(verify_chain(events).unwrap(), 32);
    let stats = store.commit_stats().await;
    assert_eq!(stats.transactions, 32);
    assert!(
        stats.batches < stats.transactions,
        "concurrent commits share batches: {stats:?}"
    );
}

async fn two_nodes_race_for_one_challenge_and_share_one_audit_chain(db: &Db) {
    let nodes = [db.open().await, db.open().await];
    for round in 0..10u8 {
        let mut tx = nodes[0].begin().await.unwrap();
        tx.insert_challenge(&challenge(round, i64::MAX))
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let mut tasks = Vec::new();
        for attempt in 0..8 {
            let node = nodes[attempt % 2].clone();
            tasks.push(tokio::spawn(async move {
                let mut tx = node.begin().await.unwrap();
                let got = tx
                    .take_challenge(&[round; 32], b"session-a", "registration", 1)
                    .await
                    .unwrap();
                tx.append_audit(NewEvent {
                    kind: "race".into(),
                    outcome: Some(if got.is_some() {
                        Outcome::Success
                    } else {
                        Outcome::Failure
                    }),
                    ..NewEvent::default()
                })
                .await
                .unwrap();
                tx.commit().await.unwrap();
                got.is_some()
            }));
        }
        let mut wins = 0;
        for t in tasks {
            wins += usize::from(t.await.unwrap());
        }
        assert_eq!(wins, 1, "round {round}: exactly one node takes it");
    }
    let events = nodes[1].audit_events().await.unwrap();
    assert_eq!(
        events
            .iter()
            .filter(|e| e.event.outcome == Some(Outcome::Success))
            .count(),
        10
    );
    assert_eq!(verify_chain(events).unwrap(), 80, "one chain, both nodes");
}

async fn a_revocation_on_one_node_is_seen_at_once_by_the_other(db: &Db) {
    let (a, b) = (db.open().await, db.open().await);
    let mut tx = a.begin().await.unwrap();
    tx.insert_identity(&identity("ada")).await.unwrap();
    tx.insert_credential(&credential(b"c1", "ada"))
        .await
        .unwrap();
    tx.insert_session(&Session {
        id_hash: vec![1; 32],
        identity_id: "id-ada".into(),
        credential_id: b"c1".to_vec(),
        user_verified: true,
        tier: 2,
        created_ms: 0,
        expires_ms: 100,
    })
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let mut tx = b.begin().await.unwrap();
    assert!(tx.live_session(&[1; 32], 10).await.unwrap().is_some());
    drop(tx);
    let mut tx = a.begin().await.unwrap();
    assert!(tx.revoke_credential(b"c1", "lost").await.unwrap());
    tx.commit().await.unwrap();
    let mut tx = b.begin().await.unwrap();
    assert_eq!(
        tx.credential(b"c1").await.unwrap().unwrap().status,
        CredentialStatus::Revoked("lost".into())
    );
    assert!(tx.live_session(&[1; 32], 10).await.unwrap().is_none());
}

async fn quarantine_metadata_and_recovery_round_trip(db: &Db) {
    let store = db.open().await;
    let mut tx = store.begin().await.unwrap();
    tx.insert_identity(&identity("ada")).await.unwrap();
    tx.insert_identity(&Identity {
        is_admin: true,
        ..identity("root")
    })
    .await
    .unwrap();
    tx.insert_credential(&credential(b"c1", "ada"))
        .await
        .unwrap();
    // A use is recorded only against the counter it was judged with.
    assert!(!tx
        .record_use_if_unchanged(b"c1", 3, 9, false, 5)
        .await
        .unwrap());
    assert!(tx
        .record_use_if_unchanged(b"c1", 0, 8, false, 5)
        .await
        .unwrap());
    // Quarantine: no sign-in until cleared; clearing restarts the counter.
    assert!(tx.record_use(b"c1", 9, false, 5).await.unwrap());
    assert!(tx.quarantine_credential(b"c1").await.unwrap());
    assert!(!tx.quarantine_credential(b"c1").await.unwrap());
    assert!(!tx.record_use(b"c1", 10, false, 6).await.unwrap());
    assert!(tx.clear_quarantine(b"c1").await.unwrap());
    let c = tx.credential(b"c1").await.unwrap().unwrap();
    assert_eq!((c.status, c.sign_count), (CredentialStatus::Active, 0));
    // Tiers and models.
    assert!(tx.set_tier(b"c1", 3, "certified").await.unwrap());
    let model = tx
        .credentials_of_model("00000000-0000-0000-0000-000000000000")
        .await
        .unwrap();
    assert_eq!(
        (model.len(), model[0].tier, model[0].tier_reasons.as_str()),
        (1, 3, "certified")
    );
    assert!(tx.credentials_of_model("other").await.unwrap().is_empty());
    // Metadata BLOBs: serials unique, the highest is current.
    assert_eq!(tx.latest_metadata_no().await.unwrap(), None);
    tx.insert_metadata(4, "2030-01-01", b"jwt4", 40)
        .await
        .unwrap();
    tx.insert_metadata(7, "2030-01-01", b"jwt7", 70)
        .await
        .unwrap();
    assert_eq!(
        tx.insert_metadata(7, "2030-01-01", b"again", 71).await,
        Err(StoreError::Conflict)
    );
    assert_eq!(tx.latest_metadata_no().await.unwrap(), Some(7));
    assert_eq!(
        tx.metadata_blob(7).await.unwrap(),
        Some((b"jwt7".to_vec(), 70))
    );
    // Recovery: approvals once per approver; offboarding voids.
    let recovery = Recovery {
        id: "r1".into(),
        identity_id: "id-ada".into(),
        requested_ms: 1,
        expires_ms: 100,
        ready_ms: None,
        status: "pending".into(),
        revoke_old: true,
    };
    tx.insert_recovery(&recovery).await.unwrap();
    assert_eq!(tx.recovery("r1").await.unwrap(), Some(recovery.clone()));
    assert_eq!(tx.pending_recoveries(50).await.unwrap().len(), 1);
    assert!(tx.pending_recoveries(100).await.unwrap().is_empty());
    tx.approve_recovery("r1", "id-root", 2).await.unwrap();
    assert_eq!(
        tx.approve_recovery("r1", "id-root", 3).await,
        Err(StoreError::Conflict)
    );
    assert_eq!(tx.recovery_approvers("r1").await.unwrap(), ["id-root"]);
    let updated = Recovery {
        ready_ms: Some(9),
        revoke_old: false,
        ..recovery.clone()
    };
    assert!(tx.update_recovery(&updated).await.unwrap());
    assert_eq!(tx.recovery("r1").await.unwrap(), Some(updated));
    assert_eq!(tx.void_recoveries_of("id-ada").await.unwrap(), 1);
    assert!(tx.pending_recoveries(50).await.unwrap().is_empty());
    tx.insert_grant(&Grant {
        token_hash: vec![3; 32],
        kind: "invitation".into(),
        identity_id: "id-ada".into(),
        issued_by: "cli".into(),
        min_tier: 2,
        created_ms: 0,
        expires_ms: 100,
        used_ms: None,
    })
    .await
    .unwrap();
    assert_eq!(tx.void_grants_of("id-ada", 5).await.unwrap().len(), 1);
    assert!(tx.find_grant(&[3; 32], 6).await.unwrap().is_none());
    tx.commit().await.unwrap();
}

async fn relaxed_durability_opens_and_commits(db: &Db) {
    let relaxed = Store::open_with(&db.url, Durability::Relaxed)
        .await
        .unwrap();
    let mut tx = relaxed.begin().await.unwrap();
    tx.insert_identity(&identity("ada")).await.unwrap();
    tx.commit().await.unwrap();
    drop(relaxed);
    let mut tx = db.open().await.begin().await.unwrap();
    assert!(tx.identity_by_name("ada").await.unwrap().is_some());
}

async fn readers_see_what_is_committed_and_cannot_write(db: &Db) {
    let store = db.open().await;
    let mut tx = store.begin().await.unwrap();
    tx.insert_identity(&identity("ada")).await.unwrap();
    // Not committed yet: a reader beside the writer does not see it.
    let mut look = store.read().await.unwrap();
    assert_eq!(look.identity_by_name("ada").await.unwrap(), None);
    drop(look);
    tx.commit().await.unwrap();
    let mut look = store.read().await.unwrap();
    assert!(look.identity_by_name("ada").await.unwrap().is_some());
    // A read-only transaction refuses writes at compile time now:
    // `look.insert_identity(…)` does not compile (the `compile_fail`
    // examples on `ReadTx` check it), so nothing can have written "bob".
    drop(look);
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.identity_by_name("bob").await.unwrap(), None);
}

/// PostgreSQL only: a database that drops every connection (a restart, a
/// failover) costs the transactions in flight, not the node.
#[tokio::test]
async fn the_store_reconnects_after_the_database_drops_its_connections() {
    let Some(db) = Db::postgres("the_store_reconnects_after_the_database_drops_its_connections")
    else {
        return;
    };
    let store = db.open().await;
    let mut tx = store.begin().await.unwrap();
    tx.insert_identity(&identity("ada")).await.unwrap();
    tx.commit().await.unwrap();
    let mut look = store.read().await.unwrap();
    assert!(look.identity_by_name("ada").await.unwrap().is_some());
    drop(look);

    use sqlx::Connection;
    let mut admin = sqlx::PgConnection::connect(&db.url).await.unwrap();
    let dropped: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .fetch_all(&mut admin)
    .await
    .unwrap();
    assert!(dropped.len() >= 2, "the writer and a reader were connected");

    // The first use of each lost connection fails; the next one works.
    let mut written = false;
    for _ in 0..2 {
        let Ok(mut tx) = store.begin().await else {
            continue;
        };
        if tx.insert_identity(&identity("bob")).await.is_ok() && tx.commit().await.is_ok() {
            written = true;
            break;
        }
    }
    assert!(written, "the writer reconnected");
    let mut seen = false;
    for _ in 0..2 {
        let Ok(mut look) = store.read().await else {
            continue;
        };
        if let Ok(found) = look.identity_by_name("bob").await {
            seen = found.is_some();
            break;
        }
    }
    assert!(seen, "a reader reconnected and sees the new row");
}

async fn expired_challenges_and_finished_sessions_are_purged(db: &Db) {
    let store = db.open().await;
    let mut tx = store.begin().await.unwrap();
    tx.insert_identity(&identity("ada")).await.unwrap();
    tx.insert_credential(&credential(b"c1", "ada"))
        .await
        .unwrap();
    tx.insert_challenge(&challenge(1, 100)).await.unwrap();
    tx.insert_challenge(&challenge(2, 300)).await.unwrap();
    let session = |tag: u8, expires_ms| Session {
        id_hash: vec![tag; 32],
        identity_id: "id-ada".into(),
        credential_id: b"c1".to_vec(),
        user_verified: true,
        tier: 1,
        created_ms: 0,
        expires_ms,
    };
    tx.insert_session(&session(1, 100)).await.unwrap();
    tx.insert_session(&session(2, 300)).await.unwrap();
    tx.insert_session(&session(3, 300)).await.unwrap();
    assert!(tx.end_session(&[3; 32], 50).await.unwrap());
    tx.commit().await.unwrap();

    let mut tx = store.begin().await.unwrap();
    assert_eq!(
        tx.purge_expired(200).await.unwrap(),
        3,
        "challenge 1, session 1 (expired), session 3 (ended)"
    );
    assert!(tx
        .take_challenge(&[2; 32], b"session-a", "registration", 200)
        .await
        .unwrap()
        .is_some());
    assert!(tx.live_session(&[2; 32], 200).await.unwrap().is_some());
    // A taken challenge is gone: nothing left to purge or to take again.
    assert_eq!(tx.purge_expired(200).await.unwrap(), 0);
    assert!(tx
        .take_challenge(&[2; 32], b"session-a", "registration", 200)
        .await
        .unwrap()
        .is_none());
    tx.commit().await.unwrap();
}

/// What bounds pending challenges asks: how many are outstanding, and
/// which of a list (more than one round of 64) still are.
async fn outstanding_challenges_are_counted_and_found(db: &Db) {
    let store = db.open().await;
    let mut tx = store.begin().await.unwrap();
    for tag in 0..70u8 {
        tx.insert_challenge(&challenge(tag, if tag < 10 { 100 } else { 1_000 }))
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    assert!(tx
        .take_challenge(&[20; 32], b"session-a", "registration", 200)
        .await
        .unwrap()
        .is_some());
    tx.commit().await.unwrap();

    let mut tx = store.read().await.unwrap();
    assert_eq!(tx.count_live_challenges(50).await.unwrap(), 69);
    assert_eq!(
        tx.count_live_challenges(200).await.unwrap(),
        59,
        "expired and taken ones are not"
    );
    let asked: Vec<Vec<u8>> = (0..80u8).map(|t| vec![t; 32]).collect();
    let mut live = tx.live_challenges_among(&asked, 200).await.unwrap();
    live.sort();
    let expected: Vec<Vec<u8>> = (10..70u8)
        .filter(|t| *t != 20)
        .map(|t| vec![t; 32])
        .collect();
    assert_eq!(live, expected);
    assert!(tx.live_challenges_among(&[], 200).await.unwrap().is_empty());
}

/// Databases made by earlier versions, whose schema sqlx's migrator
/// applied, open without re-applying or refusing anything.
#[tokio::test]
async fn a_sqlite_database_migrated_by_sqlx_opens() {
    use sqlx::Connection;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("old.db").display());
    let mut old = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::migrate!("migrations/sqlite")
        .run_direct(&mut old)
        .await
        .unwrap();
    old.close().await.unwrap();
    let store = Store::open(&url).await.unwrap();
    let mut tx = store.begin().await.unwrap();
    tx.insert_identity(&identity("ada")).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    assert!(tx.identity_by_name("ada").await.unwrap().is_some());
}

/// The single-use rule for values with no state of their own: one use, by
/// kind, before expiry; a second insert of the same value is a conflict
/// (a replayed client-chosen value); purged once expired.
async fn single_use_values_are_used_once_by_kind_and_purged(db: &Db) {
    let a = db.open().await;
    let b = db.open().await;
    let mut tx = a.begin().await.unwrap();
    tx.insert_single_use("oidc_code", &[1; 32], 100)
        .await
        .unwrap();
    assert_eq!(
        tx.insert_single_use("oidc_code", &[1; 32], 100).await,
        Err(StoreError::Conflict)
    );
    tx.insert_single_use("join_token", &[1; 32], 100)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let mut read = b.read().await.unwrap();
    assert!(read
        .single_use_is_live("oidc_code", &[1; 32], 50)
        .await
        .unwrap());
    drop(read);
    let mut tx = b.begin().await.unwrap();
    assert!(!tx.use_single_use("dpop_jti", &[1; 32], 50).await.unwrap());
    assert!(tx.use_single_use("oidc_code", &[1; 32], 50).await.unwrap());
    assert!(!tx.use_single_use("oidc_code", &[1; 32], 51).await.unwrap());
    tx.commit().await.unwrap();
    let mut tx = a.begin().await.unwrap();
    assert!(!tx.use_single_use("oidc_code", &[1; 32], 52).await.unwrap());
    assert!(
        !tx.use_single_use("join_token", &[1; 32], 100)
            .await
            .unwrap(),
        "expired at 100"
    );
    assert_eq!(tx.purge_expired(100).await.unwrap(), 2);
    tx.commit().await.unwrap();
}

/// An identity's kind is stored and read back.
async fn identity_kinds_round_trip(db: &Db) {
    let store = db.open().await;
    let mut tx = store.begin().await.unwrap();
    for (name, kind) in [
        ("ada", IdentityKind::Person),
        ("printer", IdentityKind::Device),
        ("billing", IdentityKind::Workload),
        ("helper", IdentityKind::Agent),
    ] {
        tx.insert_identity(&Identity {
            id: format!("id-{name}"),
            kind,
            ..identity(name)
        })
        .await
        .unwrap();
        assert_eq!(tx.identity_by_name(name).await.unwrap().unwrap().kind, kind);
    }
    tx.commit().await.unwrap();
}
