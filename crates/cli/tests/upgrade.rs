//! A database written by keybound at commit acfc9e6 (before issue 13) and
//! opened by this binary: the migrations since then apply, the old audit
//! chain verifies, and events appended now chain onto it.
//!
//! The database is `tests/fixtures/acfc9e6.db`, made by
//! `tests/fixtures/make-acfc9e6-db.sh` (README.md beside it says what is in
//! it). Each test works on a copy in a temporary directory; nothing here
//! writes the fixture.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_keybound");
const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/acfc9e6.db");

/// The events acfc9e6 wrote, by kind (README.md beside the fixture).
const OLD_KINDS: &[(&str, usize)] = &[
    ("admin.invite", 4),
    ("admin.offboard", 1),
    ("authentication", 8),
    ("offboard.end_session", 2),
    ("offboard.revoke_credential", 1),
    ("registration", 5),
    ("sign_out", 1),
];
const OLD_EVENTS: usize = 22;

/// A temporary data directory holding a copy of the fixture.
fn copy_of_fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(FIXTURE, dir.path().join("keybound.db")).unwrap();
    dir
}

/// `keybound ARGS --data-dir DIR`: (success, stdout, stderr).
fn keybound(dir: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env_remove("KEYBOUND_DATABASE_URL")
        .env_remove("KEYBOUND_CONFIG")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn verify(dir: &Path) -> (bool, String) {
    let (ok, out, _) = keybound(dir, &["audit", "verify"]);
    (ok, out)
}

/// `audit export`, one JSON value a line.
fn export(dir: &Path) -> Vec<Value> {
    let (ok, out, err) = keybound(dir, &["audit", "export"]);
    assert!(ok, "{err}");
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn count_kinds(events: &[Value]) -> BTreeMap<String, usize> {
    let mut kinds = BTreeMap::new();
    for e in events {
        *kinds
            .entry(e["kind"].as_str().unwrap().to_owned())
            .or_insert(0) += 1;
    }
    kinds
}

struct Server(Child);

impl Server {
    /// `keybound serve` on the copy until dropped; returns once it listens
    /// (its start is in the audit log by then).
    fn start(dir: &Path) -> Server {
        let mut child = Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir)
            .env_remove("KEYBOUND_DATABASE_URL")
            .env_remove("KEYBOUND_CONFIG")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        assert!(first.contains("listening"), "{first:?}");
        Server(child)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_fixture_is_one_file_in_rollback_journal_mode() {
    // Bytes 18 and 19 of a SQLite header are 2 in WAL mode: a WAL-mode
    // fixture would need its -wal file to be whole.
    let bytes = std::fs::read(FIXTURE).unwrap();
    assert!(bytes.starts_with(b"SQLite format 3\0"));
    assert_eq!(bytes[18..20], [1, 1]);
    assert!(!Path::new(&format!("{FIXTURE}-wal")).exists());
    assert!(bytes.len() < 1 << 20, "{} bytes", bytes.len());
}

#[test]
fn a_database_written_by_acfc9e6_opens_verifies_and_grows() {
    let dir = copy_of_fixture();

    // The first command opens the store: the migrations since acfc9e6
    // apply, and the old chain verifies as it was written.
    let (ok, verified) = verify(dir.path());
    assert!(ok, "{verified}");
    assert_eq!(
        verified.lines().next().unwrap_or_default(),
        format!("audit chain verified: {OLD_EVENTS} events"),
        "{verified}"
    );
    let old = export(dir.path());
    assert_eq!(old.len(), OLD_EVENTS);
    let expected: BTreeMap<String, usize> = OLD_KINDS
        .iter()
        .map(|(k, n)| ((*k).to_owned(), *n))
        .collect();
    assert_eq!(count_kinds(&old), expected);
    assert!(old.iter().any(|e| e["kind"] == "authentication"
        && e["subject"] == "linus"
        && e["outcome"] == "failure"
        && e["reason"] == "credential_revoked"));

    // The people as acfc9e6 left them.
    let (ok, users, err) = keybound(dir.path(), &["admin", "users", "--json"]);
    assert!(ok, "{err}");
    let listed: Vec<serde_json::Value> = serde_json::from_str(&users).expect(&users);
    // Each person as the table showed them: status, role, credentials.
    let state = |name: &str| -> String {
        let p = listed
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{name} not in {users}"));
        format!(
            "{} {} {} active / {} credentials",
            p["status"].as_str().unwrap_or_default(),
            p["role"].as_str().unwrap_or_default(),
            p["credentials_active"],
            p["credentials"]
        )
    };
    for (name, status, role, credentials) in [
        ("ada", "active", "admin", "2 active / 2 credentials"),
        ("Grace", "active", "user", "1 active / 1 credentials"),
        ("dave", "active", "user", "1 active / 1 credentials"),
        ("linus", "offboarded", "user", "0 active / 1 credentials"),
        ("mallory", "invited", "user", "0 active / 0 credentials"),
    ] {
        let line = state(name);
        for field in [status, role, credentials] {
            assert!(line.contains(field), "{name}: {line:?} lacks {field:?}");
        }
    }
    assert_eq!(listed.len(), 5, "five: {users}");

    // New events, with the server running as a deployment would: its
    // start, an invitation, and a refused one — "grace" is Grace's name
    // under the name rule keyed when the old rows were opened, and her
    // account is live.
    {
        let _server = Server::start(dir.path());
        let (ok, url, err) = keybound(dir.path(), &["admin", "invite", "hedy"]);
        assert!(ok, "{err}");
        assert!(url.contains("token="), "{url}");
        // (Its audited reason is checked below rather than the wording.)
        let (ok, _, _) = keybound(dir.path(), &["admin", "invite", "grace"]);
        assert!(!ok, "a live account found by its name key is not invited");
    }

    let all = export(dir.path());
    assert!(all.len() > OLD_EVENTS + 1, "{} events", all.len());
    let (ok, verified) = verify(dir.path());
    assert!(ok, "{verified}");
    assert_eq!(
        verified.lines().next().unwrap_or_default(),
        format!("audit chain verified: {} events", all.len()),
        "{verified}"
    );
    // The old events are untouched, and the new ones follow them.
    assert_eq!(all[..OLD_EVENTS], old[..]);
    let new = &all[OLD_EVENTS..];
    assert_eq!(new[0]["prev_hash"], old[OLD_EVENTS - 1]["hash"]);
    for (i, e) in all.iter().enumerate() {
        assert_eq!(e["seq"], i + 1);
    }
    let kinds = count_kinds(new);
    assert_eq!(kinds.get("server.start"), Some(&1), "{kinds:?}");
    assert!(new
        .iter()
        .any(|e| e["kind"] == "admin.invite" && e["subject"] == "hedy"));
    assert!(new.iter().any(|e| e["kind"] == "admin.invite"
        && e["subject"] == "grace"
        && e["outcome"] == "failure"
        && e["reason"]
            .as_str()
            .is_some_and(|r| r.contains("identity_active"))));

    let (ok, users, _) = keybound(dir.path(), &["admin", "users"]);
    assert!(ok);
    assert!(
        users
            .lines()
            .any(|l| l.starts_with("hedy ") && l.contains("invited")),
        "{users}"
    );
}

#[test]
fn an_old_event_changed_by_one_byte_fails_verification() {
    let dir = copy_of_fixture();
    let offboard = export(dir.path())
        .into_iter()
        .find(|e| e["kind"] == "admin.offboard")
        .unwrap();
    let seq = offboard["seq"].as_i64().unwrap();
    assert_eq!(offboard["subject"], "linus");

    // "linus" becomes "linux" in the stored row, behind keybound's back.
    let db = format!("sqlite://{}", dir.path().join("keybound.db").display());
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect(&db).await.unwrap();
        let done = sqlx::query("UPDATE audit_events SET subject = 'linux' WHERE seq = ?")
            .bind(seq)
            .execute(&mut conn)
            .await
            .unwrap();
        assert_eq!(done.rows_affected(), 1);
    });
    let (ok, broken) = verify(dir.path());
    assert!(!ok, "{broken}");
    assert!(
        broken.contains(&format!("event {seq} was altered")),
        "{broken}"
    );
}
