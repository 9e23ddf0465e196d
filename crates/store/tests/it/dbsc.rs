//! Issue 16: device-bound sessions (DBSC). One binding per session, found
//! by its id while it and its session are live; refreshes counted; every
//! way the session ends ends the binding; purging the session purges it.

use super::*;

on_both_backends!(
    a_binding_lives_only_while_its_session_does,
    a_session_is_bound_once_and_purged_with_its_binding,
);

fn binding(id: &str, session: u8) -> DbscSessionRow {
    DbscSessionRow {
        id: id.into(),
        session_hash: vec![session; 32],
        identity_id: "id-ada".into(),
        public_key: r#"{"kty":"EC"}"#.into(),
        thumbprint: "tp".into(),
        created_ms: 5,
        last_refresh_ms: None,
        refresh_count: 0,
        ended_ms: None,
    }
}

async fn signed_in(tx: &mut WriteTx, tags: &[u8]) {
    tx.insert_identity(&identity("ada")).await.unwrap();
    tx.insert_credential(&credential(b"c1", "ada"))
        .await
        .unwrap();
    for tag in tags {
        tx.insert_session(&Session {
            id_hash: vec![*tag; 32],
            identity_id: "id-ada".into(),
            credential_id: b"c1".to_vec(),
            user_verified: true,
            tier: 2,
            created_ms: 0,
            expires_ms: 1_000,
        })
        .await
        .unwrap();
    }
}

async fn a_binding_lives_only_while_its_session_does(db: &Db) {
    let store = db.open().await;
    let mut tx = store.begin().await.unwrap();
    signed_in(&mut tx, &[1, 2]).await;
    tx.insert_dbsc_session(&binding("b1", 1)).await.unwrap();
    tx.insert_dbsc_session(&binding("b2", 2)).await.unwrap();
    assert_eq!(
        tx.live_dbsc_session("b1", 10).await.unwrap(),
        Some(binding("b1", 1))
    );
    assert_eq!(tx.live_dbsc_session("b1\0", 10).await.unwrap(), None);
    assert_eq!(
        tx.live_dbsc_session("b1", 1_000).await.unwrap(),
        None,
        "expired"
    );

    assert!(tx.refresh_dbsc_session("b1", 20).await.unwrap());
    assert!(tx.refresh_dbsc_session("b1", 30).await.unwrap());
    let b1 = tx.live_dbsc_session("b1", 31).await.unwrap().unwrap();
    assert_eq!((b1.last_refresh_ms, b1.refresh_count), (Some(30), 2));

    // Signing out ends the binding with the session; an ended binding is
    // still found by its session (it stays bound) but never live.
    assert!(tx.end_session(&[1; 32], 40).await.unwrap());
    assert_eq!(tx.live_dbsc_session("b1", 41).await.unwrap(), None);
    assert_eq!(
        tx.dbsc_session_of(&[1; 32]).await.unwrap().map(|b| b.id),
        Some("b1".to_owned())
    );
    // Revoking the session's credential ends it, and so the binding.
    tx.insert_credential(&credential(b"c2", "ada"))
        .await
        .unwrap();
    tx.insert_session(&Session {
        id_hash: vec![9; 32],
        identity_id: "id-ada".into(),
        credential_id: b"c2".to_vec(),
        user_verified: true,
        tier: 2,
        created_ms: 0,
        expires_ms: 1_000,
    })
    .await
    .unwrap();
    tx.insert_dbsc_session(&binding("b9", 9)).await.unwrap();
    assert!(tx.live_dbsc_session("b9", 42).await.unwrap().is_some());
    tx.revoke_credential(b"c2", "lost").await.unwrap();
    assert_eq!(tx.live_dbsc_session("b9", 42).await.unwrap(), None);
    assert!(tx.end_dbsc_session("b2", 50).await.unwrap());
    assert!(!tx.end_dbsc_session("b2", 51).await.unwrap());
    assert!(!tx.refresh_dbsc_session("b2", 52).await.unwrap());
    assert_eq!(tx.live_dbsc_session("b2", 53).await.unwrap(), None);
    tx.commit().await.unwrap();
}

async fn a_session_is_bound_once_and_purged_with_its_binding(db: &Db) {
    let store = db.open().await;
    let mut tx = store.begin().await.unwrap();
    signed_in(&mut tx, &[3]).await;
    tx.insert_dbsc_session(&binding("b3", 3)).await.unwrap();
    assert_eq!(
        tx.insert_dbsc_session(&binding("b4", 3)).await.unwrap_err(),
        StoreError::Conflict,
        "one binding per session"
    );
    assert_eq!(
        tx.insert_dbsc_session(&binding("b3", 3)).await.unwrap_err(),
        StoreError::Conflict
    );
    tx.purge_expired(2_000).await.unwrap();
    assert_eq!(tx.dbsc_session_of(&[3; 32]).await.unwrap(), None);
    tx.commit().await.unwrap();
}
