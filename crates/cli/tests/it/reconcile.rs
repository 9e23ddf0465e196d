//! Issue 19 item 3 at the command line: `keybound audit reconcile` says the
//! state matches the log, or names each difference on a line of its own
//! (exit code 1), with names escaped for the terminal.

use super::*;

/// `keybound ARGS --data-dir DIR`: (exit code, stdout, stderr).
fn run(dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env_remove("KEYBOUND_DATABASE_URL")
        .env_remove("KEYBOUND_CONFIG")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `sql` on the database behind keybound's back.
fn sql(dir: &std::path::Path, sql: &str) {
    let url = format!("sqlite://{}", dir.join("keybound.db").display());
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::query(sql).execute(&mut conn).await.unwrap();
    });
}

#[test]
fn audit_reconcile_names_an_admin_flag_set_by_sql() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert_eq!(run(d, &["init"]).0, 0);
    assert_eq!(run(d, &["admin", "invite", "ada", "--admin"]).0, 0);
    assert_eq!(run(d, &["admin", "invite", "bob"]).0, 0);
    let (code, out, err) = run(d, &["audit", "reconcile"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.starts_with("state matches the log: 2 identities, 0 credentials"),
        "{out}"
    );

    sql(d, "UPDATE identities SET is_admin = 1 WHERE name = 'bob'");
    let (code, out, err) = run(d, &["audit", "reconcile"]);
    assert_eq!(code, 1, "{out}{err}");
    let first = out.lines().next().unwrap();
    assert!(
        first.starts_with(
            "identity bob: is_admin = 1 in the database, the log implies 0 (last event seq "
        ),
        "{out}"
    );
    assert!(out.contains("1 differences from the log"), "{out}");

    let (code, out, _) = run(d, &["audit", "reconcile", "--json"]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let diff = &v["differences"][0];
    assert_eq!(diff["object"], "identity bob");
    assert_eq!(diff["field"], "is_admin");
    assert_eq!(
        (diff["actual"].as_str(), diff["implied"].as_str()),
        (Some("1"), Some("0"))
    );
    assert!(diff["last_event_seq"].as_u64().is_some());
    assert_eq!(v["settled"], true);
}

#[test]
fn audit_reconcile_escapes_a_name_written_by_sql() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert_eq!(run(d, &["init"]).0, 0);
    // A name the naming rule would refuse, written straight into the table.
    sql(
        d,
        "INSERT INTO identities (id, name, kind, status, is_admin, user_handle, created_ms)
         VALUES ('x', 'eve' || char(27) || '[2J', 'person', 'active', 1, x'01', 0)",
    );
    let (code, out, _) = run(d, &["audit", "reconcile"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        !out.contains('\u{1b}'),
        "no raw escape reaches the terminal: {out:?}"
    );
    assert!(out.starts_with("identity eve"), "{out}");
    assert!(
        out.contains("row = present in the database, the log implies absent (no event sets it)"),
        "{out}"
    );
    let (_, out, _) = run(d, &["audit", "reconcile", "--json"]);
    assert!(!out.contains('\u{1b}'), "{out:?}");
}
