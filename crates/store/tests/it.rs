//! The store conformance suite, run here against SQLite (file and memory).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

use keybound_audit::{verify_chain, NewEvent, Outcome};
use keybound_store::*;

async fn file_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("keybound.db").display());
    let store = Store::open(&url).await.unwrap();
    (dir, store)
}

fn identity(name: &str) -> Identity {
    Identity {
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
    }
}

#[tokio::test]
async fn identities_round_trip_and_names_are_unique() {
    let (_dir, store) = file_store().await;
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

#[tokio::test]
async fn credentials_are_unique_across_identities_and_revocable() {
    let (_dir, store) = file_store().await;
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

#[tokio::test]
async fn a_rolled_back_transaction_leaves_nothing() {
    let (_dir, store) = file_store().await;
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
    assert!(store.audit_events().await.unwrap().is_empty());
}

#[tokio::test]
async fn audit_chain_survives_concurrent_writers_and_reopening() {
    let (dir, store) = file_store().await;
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
    let url = format!("sqlite://{}", dir.path().join("keybound.db").display());
    let reopened = Store::open(&url).await.unwrap();
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

#[tokio::test]
async fn challenges_are_single_use_bound_to_session_and_ceremony_and_expire() {
    let (_dir, store) = file_store().await;
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

#[tokio::test]
async fn a_challenge_raced_by_many_transactions_is_taken_once() {
    let (_dir, store) = file_store().await;
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

#[tokio::test]
async fn grants_are_single_use_and_expire() {
    let (_dir, store) = file_store().await;
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

#[tokio::test]
async fn nicknames_are_set_and_cleared() {
    let (_dir, store) = file_store().await;
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

#[tokio::test]
async fn sessions_end_on_sign_out_expiry_or_credential_revocation() {
    let (_dir, store) = file_store().await;
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

#[tokio::test]
async fn secrets_are_created_once() {
    let (_dir, store) = file_store().await;
    assert_eq!(store.secret("k", &[1; 32]).await.unwrap(), vec![1; 32]);
    assert_eq!(store.secret("k", &[2; 32]).await.unwrap(), vec![1; 32]);
    assert_eq!(store.secret("other", &[3; 32]).await.unwrap(), vec![3; 32]);
}
