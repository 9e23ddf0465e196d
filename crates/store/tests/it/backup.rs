//! SQLite only: `backup_sqlite` copies what is committed, including what
//! is still in the write-ahead log, while a store stays open on the file;
//! it never overwrites; `Store::close` leaves the log empty.

use super::*;

#[tokio::test]
async fn a_backup_holds_what_the_log_holds_and_close_empties_the_log() {
    let db = Db::sqlite();
    let store = db.open().await;
    let secret = store.secret("backup-test", &[7; 32]).await.unwrap();
    let dir = db._dir.as_ref().unwrap().path();
    let wal = dir.join("keybound.db-wal");
    assert!(
        std::fs::metadata(&wal).unwrap().len() > 0,
        "the commit is in the log, not yet in the file"
    );

    let copy = dir.join("copy.db");
    backup_sqlite(&db.url, &copy).await.unwrap();
    let err = backup_sqlite(&db.url, &copy).await.unwrap_err();
    assert!(err.to_string().contains("exists"), "{err}");
    let copied = Store::open(&format!("sqlite://{}", copy.display()))
        .await
        .unwrap();
    assert_eq!(
        copied.secret("backup-test", &[9; 32]).await.unwrap(),
        secret,
        "the copy holds the commit that was only in the log"
    );

    store.close().await.unwrap();
    assert_eq!(std::fs::metadata(&wal).unwrap().len(), 0, "checkpointed");
    assert_eq!(
        store.secret("backup-test", &[9; 32]).await.unwrap(),
        secret,
        "still usable after close"
    );
}

#[tokio::test]
async fn only_sqlite_files_are_backed_up() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("b.db");
    let err = backup_sqlite("postgres://kb@127.0.0.1:1/kb", &dest)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("pg_dump"), "{err}");
    assert!(backup_sqlite("sqlite::memory:", &dest).await.is_err());
    let missing = format!("sqlite://{}", dir.path().join("none.db").display());
    assert!(backup_sqlite(&missing, &dest).await.is_err());
    assert!(!dest.exists());
    assert_eq!(
        sqlite_file("sqlite:///var/lib/kb/keybound.db?mode=rwc"),
        Some("/var/lib/kb/keybound.db".into())
    );
    assert_eq!(sqlite_file("postgres://h/db"), None);
}

/// What `restore` checks before it trusts a file: read-only, nothing
/// created in it. A fresh store (schema, no events) and files that are not
/// keybound databases are refused with the reason.
#[tokio::test]
async fn inspect_refuses_what_is_not_a_keybound_backup() {
    let db = Db::sqlite();
    let store = db.open().await;
    store.close().await.unwrap();
    let dir = db._dir.as_ref().unwrap().path();
    let err = inspect_sqlite(&dir.join("keybound.db")).await.unwrap_err();
    assert!(err.to_string().contains("no audit events"), "{err}");

    let empty = dir.join("empty.db");
    std::fs::write(&empty, b"").unwrap();
    let err = inspect_sqlite(&empty).await.unwrap_err();
    assert!(err.to_string().contains("empty file"), "{err}");
    assert_eq!(std::fs::read(&empty).unwrap(), b"", "nothing created in it");

    let text = dir.join("notes.txt");
    std::fs::write(&text, "hello\n".repeat(200)).unwrap();
    let err = inspect_sqlite(&text).await.unwrap_err();
    assert!(err.to_string().contains("not a SQLite database"), "{err}");

    let other = dir.join("other.db");
    rusqlite::Connection::open(&other)
        .unwrap()
        .execute_batch("CREATE TABLE songs (title TEXT); INSERT INTO songs VALUES ('x');")
        .unwrap();
    let before = std::fs::read(&other).unwrap();
    let err = inspect_sqlite(&other).await.unwrap_err();
    assert!(err.to_string().contains("not a keybound database"), "{err}");
    assert_eq!(std::fs::read(&other).unwrap(), before);

    assert!(inspect_sqlite(&dir.join("missing.db")).await.is_err());
    assert!(!dir.join("missing.db").exists());
}

#[tokio::test]
async fn a_backup_is_private_to_its_owner() {
    use std::os::unix::fs::PermissionsExt;
    let db = Db::sqlite();
    let store = db.open().await;
    store.secret("backup-test", &[7; 32]).await.unwrap();
    let copy = db._dir.as_ref().unwrap().path().join("copy.db");
    backup_sqlite(&db.url, &copy).await.unwrap();
    let mode = std::fs::metadata(&copy).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}
