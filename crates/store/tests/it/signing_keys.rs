//! Issue 15: signing keys in custody and the back-channel logout outbox.

use super::*;

on_both_backends!(
    signing_keys_move_from_prepared_to_active_to_retired_to_removed,
    logout_deliveries_are_claimed_once_rescheduled_and_removed,
);

fn key(kid: &str, created_ms: i64, activated_ms: Option<i64>) -> SigningKeyRow {
    SigningKeyRow {
        kid: kid.into(),
        purpose: "id-tokens".into(),
        alg: "ES256".into(),
        private_key: vec![1, 2, 3],
        public_jwk: format!(r#"{{"kid":"{kid}"}}"#),
        created_ms,
        activated_ms,
        retired_ms: None,
    }
}

/// One active and one prepared key per purpose and algorithm (a second of
/// either is a conflict, so two nodes cannot both add one); activation
/// only of a prepared key, retirement only of an active one, removal only
/// of a key retired long enough; other algorithms and purposes apart.
async fn signing_keys_move_from_prepared_to_active_to_retired_to_removed(db: &Db) {
    let (a, b) = (db.open().await, db.open().await);
    let mut tx = a.begin().await.unwrap();
    tx.insert_signing_key(&key("k1", 10, Some(10)))
        .await
        .unwrap();
    assert_eq!(
        tx.insert_signing_key(&key("k1", 11, None)).await,
        Err(StoreError::Conflict),
        "same kid"
    );
    assert_eq!(
        tx.insert_signing_key(&key("k0", 11, Some(11))).await,
        Err(StoreError::Conflict),
        "a second active key"
    );
    tx.insert_signing_key(&key("k2", 20, None)).await.unwrap();
    assert_eq!(
        tx.insert_signing_key(&key("k3", 21, None)).await,
        Err(StoreError::Conflict),
        "a second prepared key"
    );
    // Another algorithm and another purpose have their own.
    let rsa = SigningKeyRow {
        alg: "RS256".into(),
        ..key("r1", 12, Some(12))
    };
    tx.insert_signing_key(&rsa).await.unwrap();
    let ca = SigningKeyRow {
        purpose: "workload-ca".into(),
        ..key("c1", 13, None)
    };
    tx.insert_signing_key(&ca).await.unwrap();
    tx.commit().await.unwrap();

    let mut read = b.read().await.unwrap();
    let keys = read.signing_keys("id-tokens").await.unwrap();
    let kids: Vec<&str> = keys.iter().map(|k| k.kid.as_str()).collect();
    assert_eq!(kids, ["k1", "r1", "k2"]);
    assert_eq!(keys[0], key("k1", 10, Some(10)));
    assert!(!format!("{:?}", keys[0]).contains("private"));
    drop(read);

    let mut tx = b.begin().await.unwrap();
    assert!(
        !tx.activate_signing_key("k1", 30).await.unwrap(),
        "active already"
    );
    assert!(
        !tx.retire_signing_key("k2", 30).await.unwrap(),
        "not active"
    );
    assert!(
        !tx.remove_signing_key("k1", 30).await.unwrap(),
        "not retired"
    );
    assert!(tx.retire_signing_key("k1", 30).await.unwrap());
    assert!(
        !tx.retire_signing_key("k1", 31).await.unwrap(),
        "retired already"
    );
    assert!(tx.activate_signing_key("k2", 30).await.unwrap());
    tx.commit().await.unwrap();

    let mut tx = a.begin().await.unwrap();
    let keys = tx.signing_keys("id-tokens").await.unwrap();
    assert_eq!((keys[0].kid.as_str(), keys[0].retired_ms), ("k1", Some(30)));
    assert_eq!(
        (keys[2].kid.as_str(), keys[2].activated_ms),
        ("k2", Some(30))
    );
    assert!(!tx.remove_signing_key("k1", 29).await.unwrap(), "too soon");
    assert!(tx.remove_signing_key("k1", 30).await.unwrap());
    assert!(!tx.remove_signing_key("k1", 30).await.unwrap(), "gone");
    // A new prepared key may follow now that k2 is active.
    tx.insert_signing_key(&key("k3", 31, None)).await.unwrap();
    tx.commit().await.unwrap();
    let mut read = a.read().await.unwrap();
    let kids: Vec<String> = read
        .signing_keys("id-tokens")
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.kid)
        .collect();
    assert_eq!(kids, ["r1", "k2", "k3"]);
}

fn delivery(id: &str, next_attempt_ms: i64) -> LogoutDelivery {
    LogoutDelivery {
        id: id.into(),
        client_id: "app".into(),
        url: "https://app.example/logout".into(),
        body: "logout_token=secret".into(),
        attempts: 0,
        next_attempt_ms,
        last_error: None,
        created_ms: next_attempt_ms,
    }
}

/// Due deliveries are listed oldest first; a claim succeeds once (two
/// nodes never send one delivery at once) and counts the attempt; a
/// failure reschedules with its error; a delivery is removed once.
async fn logout_deliveries_are_claimed_once_rescheduled_and_removed(db: &Db) {
    let (a, b) = (db.open().await, db.open().await);
    let mut tx = a.begin().await.unwrap();
    tx.insert_logout_delivery(&delivery("d2", 20))
        .await
        .unwrap();
    tx.insert_logout_delivery(&delivery("d1", 10))
        .await
        .unwrap();
    tx.insert_logout_delivery(&delivery("d3", 99))
        .await
        .unwrap();
    assert_eq!(
        tx.insert_logout_delivery(&delivery("d1", 10)).await,
        Err(StoreError::Conflict)
    );
    tx.commit().await.unwrap();

    let mut read = b.read().await.unwrap();
    let due = read.due_logout_deliveries(50, 10).await.unwrap();
    let ids: Vec<&str> = due.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, ["d1", "d2"]);
    assert_eq!(due[0], delivery("d1", 10));
    assert!(!format!("{:?}", due[0]).contains("secret"));
    assert_eq!(read.due_logout_deliveries(50, 1).await.unwrap().len(), 1);
    drop(read);

    let mut tx = b.begin().await.unwrap();
    assert!(tx.claim_logout_delivery("d1", 50, 80).await.unwrap());
    assert!(
        !tx.claim_logout_delivery("d1", 50, 80).await.unwrap(),
        "claimed"
    );
    assert!(
        !tx.claim_logout_delivery("d3", 50, 80).await.unwrap(),
        "not due"
    );
    assert!(tx
        .reschedule_logout_delivery("d1", 60, "status 500")
        .await
        .unwrap());
    tx.commit().await.unwrap();

    let mut tx = a.begin().await.unwrap();
    let all = tx.logout_deliveries().await.unwrap();
    let d1 = all.iter().find(|d| d.id == "d1").unwrap();
    assert_eq!(
        (d1.attempts, d1.next_attempt_ms, d1.last_error.as_deref()),
        (1, 60, Some("status 500"))
    );
    assert!(tx.remove_logout_delivery("d1").await.unwrap());
    assert!(!tx.remove_logout_delivery("d1").await.unwrap());
    assert!(!tx
        .reschedule_logout_delivery("d1", 70, "gone")
        .await
        .unwrap());
    tx.commit().await.unwrap();
    assert_eq!(
        a.read()
            .await
            .unwrap()
            .logout_deliveries()
            .await
            .unwrap()
            .len(),
        2
    );
}
