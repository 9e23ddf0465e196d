//! Issue 14: what the admin commands ask of the store. Whether a database
//! is set up (asked without creating anything, and only keybound's own
//! counts), the open invitations and the count of active administrators.

use super::*;

on_both_backends!(
    open_invitations_are_listed_voided_and_admins_counted,
    asking_whether_a_database_is_set_up_creates_nothing,
);

/// Issue 14: commands other than `serve` and `init` ask before opening,
/// and asking leaves no file and no schema behind.
async fn asking_whether_a_database_is_set_up_creates_nothing(db: &Db) {
    assert!(!Store::initialised(&db.url).await.unwrap());
    if let Some(dir) = &db._dir {
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "no file");
    }
    assert!(!Store::initialised(&db.url).await.unwrap(), "still nothing");
    drop(db.open().await);
    assert!(Store::initialised(&db.url).await.unwrap());
    assert!(!Store::initialised("sqlite::memory:").await.unwrap());
    assert!(Store::initialised("mysql://x").await.is_err());
}

/// Issue 14: the invitation list, voiding only invitations, and the count
/// of active administrators that demotion and suspension guard.
async fn open_invitations_are_listed_voided_and_admins_counted(db: &Db) {
    let store = db.open().await;
    let mut tx = store.begin().await.unwrap();
    for name in ["ada", "bob"] {
        tx.insert_identity(&identity(name)).await.unwrap();
    }
    let grant = |tag: u8, owner: &str, kind: &str, created_ms: i64| Grant {
        token_hash: vec![tag; 32],
        kind: kind.into(),
        identity_id: format!("id-{owner}"),
        issued_by: "cli".into(),
        min_tier: 2,
        created_ms,
        expires_ms: 100,
        used_ms: None,
    };
    tx.insert_grant(&grant(1, "bob", "invitation", 20))
        .await
        .unwrap();
    tx.insert_grant(&grant(2, "ada", "invitation", 10))
        .await
        .unwrap();
    tx.insert_grant(&grant(3, "ada", "recovery", 5))
        .await
        .unwrap();
    let open: Vec<_> = tx
        .open_invitations(50)
        .await
        .unwrap()
        .into_iter()
        .map(|g| g.token_hash[0])
        .collect();
    assert_eq!(open, [2, 1], "invitations only, oldest first");
    assert!(
        tx.open_invitations(100).await.unwrap().is_empty(),
        "expired"
    );
    let voided = tx.void_invitations_of("id-ada", 50).await.unwrap();
    assert_eq!(voided.len(), 1);
    assert!(tx
        .void_invitations_of("id-ada", 51)
        .await
        .unwrap()
        .is_empty());
    assert!(tx.find_grant(&[3; 32], 50).await.unwrap().is_some(), "kept");
    assert!(tx.find_grant(&[2; 32], 50).await.unwrap().is_none());

    assert_eq!(tx.count_active_admins().await.unwrap(), 0);
    tx.set_admin("id-ada", true).await.unwrap();
    tx.set_admin("id-bob", true).await.unwrap();
    assert_eq!(tx.count_active_admins().await.unwrap(), 0, "invited");
    tx.set_identity_status("id-ada", IdentityStatus::Active)
        .await
        .unwrap();
    assert_eq!(tx.count_active_admins().await.unwrap(), 1);
    tx.commit().await.unwrap();
}

/// A SQLite file another program migrated with sqlx (a `_sqlx_migrations`
/// table, none of keybound's) is not keybound's database.
#[tokio::test]
async fn another_programs_sqlx_database_is_not_set_up() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.db");
    let url = format!("sqlite://{}", path.display());
    {
        let db = rusqlite::Connection::open(&path).unwrap();
        db.execute_batch("CREATE TABLE _sqlx_migrations (version BIGINT PRIMARY KEY);")
            .unwrap();
    }
    assert!(!Store::initialised(&url).await.unwrap());
    drop(
        Store::open(&format!(
            "sqlite://{}",
            dir.path().join("ours.db").display()
        ))
        .await,
    );
    let ours = format!("sqlite://{}", dir.path().join("ours.db").display());
    assert!(Store::initialised(&ours).await.unwrap());
}
