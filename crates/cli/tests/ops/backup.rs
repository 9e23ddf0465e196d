//! `keybound backup` under write load, and `keybound restore`: every
//! registration acknowledged before the backup began signs in on a server
//! started on the restored copy, whose chain verifies; and the refusals
//! (an existing backup file, a running server, an existing database,
//! PostgreSQL, a file that is not a keybound database). Backups and the
//! restored database are private to their owner.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use keybound_soft_authenticator::{Algorithm, Authenticator, Credential};
use serde_json::json;

use crate::support::http::{ceremony, challenge, decode, Browser};
use crate::support::{Server, BIN};

const LOAD_FLAGS: &[&str] = &[
    "--open-registration",
    "--rate-limit-per-minute",
    "0",
    "--rate-limit-per-identity",
    "0",
];

/// `keybound ARGS --data-dir DIR`: (success, stdout, stderr).
fn keybound(dir: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env_remove("KEYBOUND_DATABASE_URL")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A registration the server acknowledged, and when.
struct Acked {
    name: String,
    credential: Credential,
    at: Instant,
}

/// `threads` clients registering new people until `stop`.
fn register_until(port: u16, threads: usize, stop: Arc<AtomicBool>) -> Arc<Mutex<Vec<Acked>>> {
    let acked = Arc::new(Mutex::new(Vec::new()));
    for t in 0..threads {
        let (acked, stop) = (acked.clone(), stop.clone());
        thread::spawn(move || {
            let auth = Authenticator::default();
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) {
                i += 1;
                let mut browser = Browser {
                    port,
                    cookies: Vec::new(),
                };
                let name = format!("load-{t}-{i}");
                let (status, options) =
                    browser.post_json("/attestation/options", &json!({"username": name}));
                assert_eq!(status, 200, "{options}");
                let user = decode(options["user"]["id"].as_str().unwrap());
                let c = challenge(&options);
                let (credential, answer) = auth.register(Algorithm::Es256, &ceremony(&c), &user);
                let (status, reply) = browser.post_json("/attestation/result", &answer);
                if status == 200 && reply["status"] == "ok" {
                    acked.lock().unwrap().push(Acked {
                        name,
                        credential,
                        at: Instant::now(),
                    });
                }
            }
        });
    }
    acked
}

#[test]
fn a_backup_under_load_restores_every_acknowledged_registration() {
    let server = Server::start_on(
        "127.0.0.1:0",
        crate::support::http::RP_ID,
        crate::support::http::ORIGIN,
        LOAD_FLAGS,
    );
    let stop = Arc::new(AtomicBool::new(false));
    let acked = register_until(server.port, 4, stop.clone());
    thread::sleep(Duration::from_millis(1500));

    let backups = tempfile::tempdir().unwrap();
    let file = backups.path().join("keybound-backup.db");
    let file_text = file.to_str().unwrap();
    let began = Instant::now();
    let (ok, said) = server.cli(&["backup", file_text]);
    assert!(ok, "{said}");
    thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::SeqCst);
    thread::sleep(Duration::from_millis(300));
    assert!(
        said.contains("audit events verified") && said.contains("identities"),
        "{said}"
    );

    let acked = std::mem::take(&mut *acked.lock().unwrap());
    let before: Vec<Acked> = acked.into_iter().filter(|a| a.at < began).collect();
    assert!(
        before.len() >= 10,
        "the load ran: {} registrations before the backup",
        before.len()
    );

    // A second backup onto the same file is refused, the first untouched.
    let written = std::fs::read(&file).unwrap();
    let (ok, _) = server.cli(&["backup", file_text]);
    assert!(!ok, "a backup never overwrites a file");
    assert_eq!(std::fs::read(&file).unwrap(), written);

    // The running server's database cannot be restored over.
    let (ok, _, err) = keybound(server.dir.path(), &["restore", file_text, "--force"]);
    assert!(!ok);
    assert!(err.contains("a server is running"), "{err}");

    let fresh = tempfile::tempdir().unwrap();
    // The key file goes back with the database (kept apart from the
    // backups): it opens the CA's and the log's keys and tags events.
    std::fs::copy(
        server.dir.path().join("workload-ca.key"),
        fresh.path().join("workload-ca.key"),
    )
    .unwrap();
    let (ok, out, err) = keybound(fresh.path(), &["restore", file_text]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("audit events verified"), "{out}");
    let restored = Server::start_in(fresh, LOAD_FLAGS);
    let auth = Authenticator::default();
    for mut a in before {
        let mut browser = restored.browser();
        let (status, options) = browser.post_json("/assertion/options", &json!({}));
        assert_eq!(status, 200);
        let c = challenge(&options);
        let answer = auth.assert(&mut a.credential, &ceremony(&c));
        let (status, reply) = browser.post_json("/assertion/result", &answer);
        assert_eq!(status, 200, "{} acknowledged, then lost: {reply}", a.name);
    }
    let (ok, verified) = restored.cli(&["audit", "verify"]);
    assert!(ok, "{verified}");
}

#[test]
fn restore_refuses_a_database_it_would_overwrite_and_a_broken_backup() {
    let live = tempfile::tempdir().unwrap();
    assert!(keybound(live.path(), &["init"]).0);
    let (ok, _, err) = keybound(live.path(), &["admin", "invite", "ada"]);
    assert!(ok, "{err}");
    let file = live.path().join("backup.db");
    let file_text = file.to_str().unwrap();
    let (ok, out, err) = keybound(live.path(), &["backup", file_text]);
    assert!(ok, "{err}");
    assert!(out.contains("1 identities"), "{out}");

    // No server runs, but a database is there: only with --force.
    let (ok, _, err) = keybound(live.path(), &["restore", file_text]);
    assert!(!ok);
    assert!(err.contains("--force"), "{err}");
    let (ok, _, err) = keybound(live.path(), &["restore", file_text, "--force"]);
    assert!(ok, "{err}");

    // A backup whose chain was altered is not restored.
    let tampered = live.path().join("tampered.db");
    std::fs::copy(&file, &tampered).unwrap();
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        use sqlx::Connection;
        let url = format!("sqlite://{}", tampered.display());
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::query("UPDATE audit_events SET subject = 'mallory' WHERE seq = 1")
            .execute(&mut conn)
            .await
            .unwrap();
    });
    let fresh = tempfile::tempdir().unwrap();
    let (ok, _, err) = keybound(fresh.path(), &["restore", tampered.to_str().unwrap()]);
    assert!(!ok);
    assert!(err.contains("BROKEN"), "{err}");
    assert!(
        !fresh.path().join("keybound.db").exists(),
        "nothing was put in place"
    );

    let (ok, _, err) = keybound(fresh.path(), &["restore", "/no/such/backup.db"]);
    assert!(!ok);
    assert!(err.contains("no such backup file"), "{err}");
}

#[test]
fn postgresql_is_backed_up_with_pg_dump() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args([
            "backup",
            dir.path().join("b.db").to_str().unwrap(),
            "--database-url",
            "postgres://kb:s3cret@127.0.0.1:1/keybound",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("pg_dump"), "{err}");
    assert!(!err.contains("s3cret"), "{err}");
}

/// A server killed with SIGKILL leaves its last commits in `keybound.db-wal`:
/// a restore over that database must not let the old log be read as the
/// restored file's.
#[test]
fn restore_over_a_crashed_servers_database_drops_its_log() {
    let source = tempfile::tempdir().unwrap();
    // Admin commands no longer create a database (h-cli): init first.
    assert!(keybound(source.path(), &["init"]).0);
    let (ok, _, err) = keybound(source.path(), &["admin", "invite", "ada"]);
    assert!(ok, "{err}");
    let file = source.path().join("backup.db");
    let (ok, _, err) = keybound(source.path(), &["backup", file.to_str().unwrap()]);
    assert!(ok, "{err}");

    let mut crashed = Server::start_on(
        "127.0.0.1:0",
        crate::support::http::RP_ID,
        crate::support::http::ORIGIN,
        &[],
    );
    let (ok, _) = crashed.cli(&["admin", "invite", "zed"]);
    assert!(ok);
    crashed.kill();
    let dir = crashed.dir.path();
    let wal = dir.join("keybound.db-wal");
    assert!(
        std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0) > 0,
        "the crash left commits in the log"
    );

    let (ok, out, err) = keybound(dir, &["restore", file.to_str().unwrap(), "--force"]);
    assert!(ok, "{out}{err}");
    // Another server's database: with it, its key file.
    let (ok, verified, _) = keybound(dir, &["audit", "verify"]);
    assert!(!ok, "tags under another key: {verified}");
    assert!(
        verified.contains("is it the one the servers use"),
        "{verified}"
    );
    std::fs::copy(
        source.path().join("workload-ca.key"),
        dir.join("workload-ca.key"),
    )
    .unwrap();
    let (ok, export, _) = keybound(dir, &["audit", "export"]);
    assert!(ok);
    assert!(export.contains("\"subject\":\"ada\""), "{export}");
    assert!(
        !export.contains("\"subject\":\"zed\""),
        "the replaced database's log leaked into the restored one: {export}"
    );
    let (ok, verified, _) = keybound(dir, &["audit", "verify"]);
    assert!(ok, "{verified}");
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// A backup holds names, addresses, the enumeration secret and session
/// hashes: its owner's only, whatever the umask; and a file already there,
/// even an empty one, is never written over.
#[test]
fn backups_are_private_and_never_overwrite() {
    let live = tempfile::tempdir().unwrap();
    assert!(keybound(live.path(), &["init"]).0);
    let (ok, _, err) = keybound(live.path(), &["admin", "invite", "ada"]);
    assert!(ok, "{err}");
    let file = live.path().join("backup.db");
    let (ok, _, err) = keybound(live.path(), &["backup", file.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert_eq!(mode(&file), 0o600);

    let placed = live.path().join("placed.db");
    std::fs::write(&placed, b"").unwrap();
    let (ok, _, err) = keybound(live.path(), &["backup", placed.to_str().unwrap()]);
    assert!(!ok);
    assert!(err.contains("exists"), "{err}");
    assert_eq!(std::fs::read(&placed).unwrap(), b"");

    // Restored: the database is the private copy moved in.
    let fresh = tempfile::tempdir().unwrap();
    let (ok, _, err) = keybound(fresh.path(), &["restore", file.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert_eq!(mode(&fresh.path().join("keybound.db")), 0o600);
    assert!(!fresh.path().join("keybound.db.restoring").exists());
}

/// Opening these as a store would create keybound's schema in them and
/// call them databases with no events; with --force one would replace the
/// live database.
#[test]
fn restore_refuses_a_file_that_is_not_a_keybound_database() {
    let live = tempfile::tempdir().unwrap();
    assert!(keybound(live.path(), &["init"]).0);
    let (ok, _, err) = keybound(live.path(), &["admin", "invite", "ada"]);
    assert!(ok, "{err}");
    let db = live.path().join("keybound.db");
    let before = std::fs::read(&db).unwrap();

    let others = tempfile::tempdir().unwrap();
    let empty = others.path().join("empty.db");
    std::fs::write(&empty, b"").unwrap();
    let text = others.path().join("notes.txt");
    std::fs::write(&text, "not a database at all\n".repeat(100)).unwrap();
    let foreign = others.path().join("foreign.db");
    let no_events = others.path().join("no-events.db");
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        use sqlx::Connection;
        let url = format!("sqlite://{}?mode=rwc", foreign.display());
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::query("CREATE TABLE songs (title TEXT); INSERT INTO songs VALUES ('x')")
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
    });
    // keybound's schema, but its audit log emptied: no server ever ran on
    // it, no command wrote to it.
    let (ok, _, err) = keybound(live.path(), &["backup", no_events.to_str().unwrap()]);
    assert!(ok, "{err}");
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        use sqlx::Connection;
        let url = format!("sqlite://{}", no_events.display());
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::query("DELETE FROM audit_events")
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
    });

    for (file, says) in [
        (&empty, "empty file"),
        (&text, "not a SQLite database"),
        (&foreign, "not a keybound database"),
        (&no_events, "no audit events"),
    ] {
        let (ok, out, err) = keybound(live.path(), &["restore", file.to_str().unwrap(), "--force"]);
        assert!(!ok, "{}: {out}", file.display());
        assert!(err.contains("is not a good backup"), "{err}");
        assert!(err.contains(says), "{}: {err}", file.display());
        assert_eq!(
            std::fs::read(&db).unwrap(),
            before,
            "the live database is untouched"
        );
        assert!(!live.path().join("keybound.db.restoring").exists());
    }
    // The refused files were not made into keybound databases either.
    assert_eq!(std::fs::read(&empty).unwrap(), b"");
    let fresh = tempfile::tempdir().unwrap();
    let (ok, _, _) = keybound(fresh.path(), &["restore", empty.to_str().unwrap()]);
    assert!(!ok);
    assert!(!fresh.path().join("keybound.db").exists());
    let (ok, _, err) = keybound(live.path(), &["audit", "verify"]);
    assert!(ok, "{err}");
}
