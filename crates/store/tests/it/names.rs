//! Names under one rule (issue 12 item 16): look-ups by any spelling,
//! look-alikes refused by the unique skeleton index, and rows stored before
//! the rule keyed when the store opens.

use super::*;

on_both_backends!(
    spellings_find_one_identity_and_look_alikes_conflict,
    names_stored_before_the_rule_are_keyed_when_the_store_opens,
);

fn named(id: &str, name: &str) -> Identity {
    Identity {
        kind: IdentityKind::Person,
        id: id.into(),
        name: name.into(),
        user_handle: format!("handle-{id}").into_bytes(),
        ..identity(id)
    }
}

async fn spellings_find_one_identity_and_look_alikes_conflict(db: &Db) {
    let store = db.open().await;
    let mut tx = store.begin().await.unwrap();
    tx.insert_identity(&named("1", "ada")).await.unwrap();
    for spelling in ["ada", "ADA", "Ada", "ａｄａ", " ada "] {
        let found = tx.identity_by_name(spelling).await.unwrap();
        assert_eq!(found.map(|i| i.id).as_deref(), Some("1"), "{spelling:?}");
    }
    for other in ["\u{0430}da", "ad\u{200B}a", &"a".repeat(100_000)] {
        assert_eq!(tx.identity_by_name(other).await.unwrap(), None, "{other:?}");
    }
    // A spelling of the name, or a look-alike (Cyrillic а), is taken.
    for (id, taken) in [("2", "ADA"), ("3", "\u{0430}da")] {
        assert_eq!(
            tx.insert_identity(&named(id, taken)).await,
            Err(StoreError::Conflict),
            "{taken:?}"
        );
        let resembling = tx.identity_resembling(taken).await.unwrap();
        assert_eq!(resembling.map(|i| i.id).as_deref(), Some("1"));
    }
    assert_eq!(tx.identity_resembling("bob").await.unwrap(), None);
    tx.insert_identity(&named("4", "bob")).await.unwrap();
    tx.commit().await.unwrap();
}

/// Rows written without keys, as every version before the rule wrote them.
async fn insert_unkeyed(url: &str, rows: &[(&str, &str, i64)]) {
    use sqlx::Connection;
    let sql = "INSERT INTO identities (id, name, status, is_admin, user_handle, created_ms) \
               VALUES ($1, $2, 'active', FALSE, $3, $4)";
    if url.starts_with("postgres") {
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
        for (id, name, created) in rows {
            sqlx::query(sql)
                .bind(*id)
                .bind(*name)
                .bind(id.as_bytes())
                .bind(*created)
                .execute(&mut conn)
                .await
                .unwrap();
        }
    } else {
        let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
        for (id, name, created) in rows {
            sqlx::query(sql)
                .bind(*id)
                .bind(*name)
                .bind(id.as_bytes())
                .bind(*created)
                .execute(&mut conn)
                .await
                .unwrap();
        }
    }
}

async fn names_stored_before_the_rule_are_keyed_when_the_store_opens(db: &Db) {
    drop(db.open().await);
    insert_unkeyed(
        &db.url,
        &[
            ("old-Bob", "Bob", 1),
            ("old-bob", "bob", 2),
            ("old-tab", "Tab\there", 3),
            ("old-cyr", "b\u{043E}b", 4),
        ],
    )
    .await;
    for _ in 0..2 {
        let store = db.open().await;
        let mut tx = store.read().await.unwrap();
        let id_of = |i: Option<Identity>| i.map(|i| i.id);
        // Exact names first: every old row is found as it was typed...
        for (name, id) in [
            ("Bob", "old-Bob"),
            ("bob", "old-bob"),
            ("Tab\there", "old-tab"),
            ("b\u{043E}b", "old-cyr"),
        ] {
            let found = tx.identity_by_name(name).await.unwrap();
            assert_eq!(id_of(found).as_deref(), Some(id), "{name:?}");
        }
        // ...and by key, the oldest holder of a key wins it.
        let found = tx.identity_by_name("BOB").await.unwrap();
        assert_eq!(id_of(found).as_deref(), Some("old-Bob"));
        let found = tx.identity_by_name("TAB\tHERE").await.unwrap();
        assert_eq!(id_of(found).as_deref(), Some("old-tab"));
        drop(tx);
        // New names meet the keys and skeletons of the old rows.
        let mut tx = store.begin().await.unwrap();
        for taken in ["BOB", "b\u{043E}B", "tab\there"] {
            assert_eq!(
                tx.insert_identity(&named("new", taken)).await,
                Err(StoreError::Conflict),
                "{taken:?}"
            );
        }
    }
}
