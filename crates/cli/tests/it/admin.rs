//! Issue 14 item 6 without a server: commands other than `serve` and
//! `init` never create a database, listings print tables or JSON, and
//! errors say what was not found.

use super::*;
use serde_json::Value;

/// `keybound ARGS --data-dir DIR`; (exit code, stdout, stderr).
fn run(dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env_remove("KEYBOUND_DATABASE_URL")
        .env_remove("KEYBOUND_ORIGIN")
        .env_remove("KEYBOUND_RP_ID")
        .env_remove("KEYBOUND_CONFIG")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs and parses standard output as one JSON document.
fn json(dir: &std::path::Path, args: &[&str]) -> Value {
    let (code, out, err) = run(dir, args);
    assert_eq!(code, 0, "{args:?}: {err}");
    serde_json::from_str(&out).expect(&out)
}

fn seconds(iso: &Value) -> i64 {
    let text = iso.as_str().unwrap();
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .expect(text)
        .unix_timestamp()
}

#[test]
fn commands_other_than_serve_and_init_create_no_database() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    for command in [
        &["admin", "users"][..],
        &["admin", "users", "--json"],
        &["admin", "invite", "ada", "--admin"],
        &["admin", "invitations"],
        &["admin", "promote", "ada"],
        &["audit", "verify"],
        &["audit", "alerts", "--json"],
        &["mds", "show", "4b4b4b4b-4b4b-4b4b-4b4b-4b4b4b4b4b4b"],
    ] {
        let (code, out, err) = run(&data, command);
        assert_eq!(code, 1, "{command:?}: {out}");
        let looked = format!(
            "no keybound database at sqlite://{}",
            data.join("keybound.db").display()
        );
        assert!(err.contains(&looked), "{command:?}: {err}");
        for hint in ["--data-dir", "--database-url", "keybound init"] {
            assert!(err.contains(hint), "{command:?}: {err}");
        }
        assert!(!data.exists(), "{command:?} left {} behind", data.display());
    }
    let copy = dir.path().join("copy.db");
    let (code, _, err) = run(&data, &["backup", copy.to_str().unwrap()]);
    assert_eq!(code, 1, "backup: {err}");
    assert!(err.contains("no keybound database at"), "backup: {err}");
    assert!(
        !data.exists() && !copy.exists(),
        "backup left a file behind"
    );
    // Run from elsewhere with the default data directory: the message says
    // where the relative path was.
    let out = Command::new(BIN)
        .args(["admin", "users"])
        .current_dir(dir.path())
        .env_remove("KEYBOUND_DATABASE_URL")
        .env_remove("KEYBOUND_DATA_DIR")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("sqlite://keybound-data/keybound.db (under "),
        "{err}"
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no keybound-data"
    );

    // `init` creates and migrates; then the commands work.
    let (code, out, err) = run(&data, &["init"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("created the database at sqlite://"),
        "{out}"
    );
    assert!(data.join("keybound.db").exists());
    let (code, out, _) = run(&data, &["init"]);
    assert_eq!(code, 0);
    assert!(out.contains("up to date"), "{out}");
    assert_eq!(
        json(&data, &["admin", "users", "--json"]),
        Value::Array(vec![])
    );
}

#[test]
fn an_empty_postgres_database_is_not_set_up_by_admin_commands() {
    let Some(pg) = keybound_testdb::shared("cli_refuses_to_create") else {
        return;
    };
    let url = pg.fresh_database();
    let out = Command::new(BIN)
        .args(["admin", "users", "--database-url", &url])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("no keybound database at postgres://"), "{err}");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    assert!(!runtime
        .block_on(keybound_store::Store::initialised(&url))
        .unwrap());
    let out = Command::new(BIN)
        .args(["init", "--database-url", &url])
        .output()
        .unwrap();
    assert!(out.status.success());
    let out = Command::new(BIN)
        .args(["admin", "users", "--database-url", &url])
        .output()
        .unwrap();
    assert!(out.status.success());
}

#[test]
fn listings_print_tables_or_json_with_iso_times() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert_eq!(run(d, &["init"]).0, 0);
    assert_eq!(run(d, &["admin", "invite", "ada", "--admin"]).0, 0);
    let (code, _, err) = run(
        d,
        &[
            "admin",
            "invite",
            "bob",
            "--min-tier",
            "2",
            "--invitation-lifetime",
            "60",
        ],
    );
    assert_eq!(code, 0, "{err}");

    let users = json(d, &["admin", "users", "--json"]);
    let rows: Vec<(&str, &str, &str, u64)> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["name"].as_str().unwrap(),
                u["status"].as_str().unwrap(),
                u["role"].as_str().unwrap(),
                u["credentials"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("ada", "invited", "admin", 0),
            ("bob", "invited", "user", 0)
        ]
    );
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    assert!((seconds(&users[0]["created_at"]) - now).abs() < 120);

    let open = json(d, &["admin", "invitations", "--json"]);
    assert_eq!(open.as_array().unwrap().len(), 2);
    let bob = &open[1];
    assert_eq!(bob["name"], "bob");
    assert_eq!(bob["role"], "user");
    assert_eq!(bob["min_tier"], 2);
    assert_eq!(bob["invited_by"], "cli");
    assert_eq!(
        seconds(&bob["expires_at"]) - seconds(&bob["created_at"]),
        60,
        "--invitation-lifetime"
    );
    assert_eq!(
        seconds(&open[0]["expires_at"]) - seconds(&open[0]["created_at"]),
        86_400,
        "the default"
    );
    assert_eq!(open[0]["role"], "admin");

    assert_eq!(
        json(d, &["admin", "credentials", "ada", "--json"]),
        Value::Array(vec![])
    );
    let (code, alerts, _) = run(d, &["audit", "alerts", "--json"]);
    assert_eq!(code, 0);
    let kinds: Vec<Value> = serde_json::from_str::<Vec<Value>>(&alerts)
        .expect(&alerts)
        .iter()
        .map(|l| l["kind"].clone())
        .collect();
    assert_eq!(kinds, ["admin.grant_role"], "{alerts}");

    // The tables: a header row, ISO times, no epoch milliseconds.
    let (_, table, _) = run(d, &["admin", "users"]);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    assert!(lines[0].starts_with("NAME  "), "{table}");
    for heading in ["STATUS", "ROLE", "CREDENTIALS", "CREATED"] {
        assert!(lines[0].contains(heading), "{table}");
    }
    assert!(lines[1].starts_with("ada ") && lines[1].contains("admin"));
    assert!(lines[1].contains("Z"), "an ISO time: {table}");
    let (_, table, _) = run(d, &["admin", "invitations"]);
    assert!(table.starts_with("NAME"), "{table}");
    assert!(table.contains("INVITED BY"), "{table}");
    let (_, table, _) = run(d, &["audit", "alerts"]);
    assert!(table.starts_with("TIME"), "{table}");
    assert!(table.contains("admin.grant_role") && !table.contains("\"kind\""));
    let year = time::OffsetDateTime::now_utc().year().to_string();
    for (listing, time_column) in [("users", 8), ("invitations", 3)] {
        let (_, table, _) = run(d, &["admin", listing]);
        for row in table.lines().skip(1) {
            let cell = row.split_whitespace().nth(time_column).unwrap();
            assert!(cell.starts_with(&year) && cell.ends_with('Z'), "{row}");
        }
    }
}

#[test]
fn admin_errors_say_what_was_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert_eq!(run(d, &["init"]).0, 0);
    assert_eq!(run(d, &["admin", "invite", "ada"]).0, 0);
    for command in [
        &["admin", "promote", "bob"][..],
        &["admin", "demote", "bob"],
        &["admin", "suspend", "bob"],
        &["admin", "resume", "bob"],
        &["admin", "offboard", "bob"],
        &["admin", "credentials", "bob"],
        &["admin", "revoke-invitation", "bob"],
    ] {
        let (code, _, err) = run(d, command);
        assert_eq!(code, 1, "{command:?}");
        assert!(err.contains("no person named 'bob'"), "{command:?}: {err}");
        assert_ne!(err.trim(), "keybound: not found");
    }
    // A look-alike (Cyrillic а) is named as such.
    let (code, _, err) = run(d, &["admin", "promote", "\u{0430}da"]);
    assert_eq!(code, 1);
    assert!(err.contains("no person named '\u{0430}da'"), "{err}");
    assert!(
        err.contains("'ada' looks the same") && err.contains("U+0430"),
        "{err}"
    );
    // A credential id.
    let (code, _, err) = run(d, &["admin", "revoke-credential", "AAAA"]);
    assert_eq!(code, 1);
    assert!(err.contains("no credential with id 'AAAA'"), "{err}");
    // Client text in a name is escaped in the message.
    let (_, _, err) = run(d, &["admin", "promote", "eve\u{202e}x"]);
    assert!(
        !err.contains('\u{202e}') && err.contains("\\u{202e}"),
        "{err}"
    );

    // An invitation revoked twice; states that are not what is asked.
    let (code, out, _) = run(d, &["admin", "revoke-invitation", "ADA"]);
    assert_eq!(code, 0);
    assert!(out.contains("revoked 1 invitation"), "{out}");
    let (code, _, err) = run(d, &["admin", "revoke-invitation", "ada"]);
    assert_eq!(code, 1);
    assert!(err.contains("'ada' has no open invitation"), "{err}");
    assert_eq!(
        json(d, &["admin", "invitations", "--json"]),
        Value::Array(vec![])
    );
    let (_, _, err) = run(d, &["admin", "suspend", "ada"]);
    assert!(err.contains("no active account to suspend"), "{err}");
    let (_, _, err) = run(d, &["admin", "resume", "ada"]);
    assert!(err.contains("'ada' is not suspended"), "{err}");
    let (_, _, err) = run(d, &["admin", "demote", "ada"]);
    assert!(err.contains("'ada' is not an administrator"), "{err}");
    // Issue 14 review: an invited person is not promoted (their open link
    // would silently become an admin enrolment link); an admin invitation
    // replaces the link instead.
    let (code, _, err) = run(d, &["admin", "promote", "ada"]);
    assert_eq!(code, 1, "an invited person is not granted the role");
    assert!(
        err.contains("use keybound admin invite") && err.contains("--admin (it replaces"),
        "{err}"
    );
    let (code, _, _) = run(d, &["admin", "invite", "ada", "--admin"]);
    assert_eq!(code, 0);
    let (_, _, err) = run(d, &["admin", "promote", "ada"]);
    assert!(err.contains("'ada' is already an administrator"), "{err}");
    // Every refusal is on the record.
    let (_, export, _) = run(d, &["audit", "export"]);
    let failures = export
        .lines()
        .filter(|l| l.contains("\"outcome\":\"failure\""))
        .count();
    assert!(failures >= 5, "{export}");
}

/// Issue 14 review: a SQLite file another program made with sqlx (it has
/// `_sqlx_migrations` but none of keybound's tables) is not keybound's
/// database: admin commands refuse it and leave it alone.
#[test]
fn another_programs_sqlx_database_is_not_keybound() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let db = d.join("keybound.db");
    let url = format!("sqlite://{}?mode=rwc", db.display());
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            use sqlx::Connection;
            let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
            sqlx::query("CREATE TABLE _sqlx_migrations (version BIGINT PRIMARY KEY)")
                .execute(&mut conn)
                .await
                .unwrap();
            conn.close().await.unwrap();
        });
    let (code, out, err) = run(d, &["admin", "users", "--json"]);
    assert_eq!(code, 1, "{out}");
    assert!(err.contains("no keybound database at"), "{err}");
}

/// `admin invite` builds its link from the site settings: the checks
/// `serve` runs refuse a malformed origin with the same message instead of
/// printing `https://x.example//enroll`.
#[test]
fn an_invitation_link_is_built_only_from_checked_origins() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert_eq!(run(d, &["init"]).0, 0);
    let (code, out, err) = run(
        d,
        &[
            "admin",
            "invite",
            "ada",
            "--rp-id",
            "x.example",
            "--origin",
            "https://x.example/",
        ],
    );
    assert_eq!(code, 1, "{out}");
    assert!(!out.contains("//enroll"), "{out}");
    assert!(err.contains("write https://x.example"), "{err}");
    let (code, out, err) = run(
        d,
        &[
            "admin",
            "invite",
            "ada",
            "--rp-id",
            "x.example",
            "--origin",
            "https://x.example",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("https://x.example/enroll?token="), "{out}");
}

/// Listings write to a locked standard output and take a reader that went
/// away (`| head -c1`) as the end of the listing, not as a panic (101).
#[test]
fn a_listing_into_a_closed_pipe_does_not_panic() {
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert_eq!(run(d, &["init"]).0, 0);
    // More than a pipe's buffer (64 KiB) of JSON, so the writer meets the
    // closed end.
    for i in 0..300 {
        let name = format!("user{i:03}{}", "x".repeat(56));
        assert_eq!(run(d, &["admin", "invite", &name]).0, 0);
    }
    let mut child = Command::new(BIN)
        .args(["admin", "users", "--json", "--data-dir"])
        .arg(d)
        .env_remove("KEYBOUND_DATABASE_URL")
        .env_remove("KEYBOUND_CONFIG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut one = [0u8; 1];
    stdout.read_exact(&mut one).unwrap();
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    assert_ne!(
        out.status.code(),
        Some(101),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Empty listings: `[]` as JSON, and a table's header with `(none)`.
#[test]
fn empty_listings_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert_eq!(run(d, &["init"]).0, 0);
    assert_eq!(
        json(d, &["audit", "alerts", "--json"]),
        Value::Array(vec![])
    );
    assert_eq!(
        json(d, &["admin", "invitations", "--json"]),
        Value::Array(vec![])
    );
    let (code, out, _) = run(d, &["admin", "invitations"]);
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[0].starts_with("NAME"), "{out}");
    assert_eq!(lines[1], "(none)");
}

/// An admin command says in words what it did; its audit events (a role
/// grant is High severity) go to the chain, not to the terminal as raw
/// log lines, unless KEYBOUND_LOG asks for them.
#[test]
fn admin_commands_keep_raw_audit_lines_off_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(run(dir.path(), &["init"]).0, 0);
    let (code, out, err) = run(dir.path(), &["admin", "invite", "alice", "--admin"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("/enroll?token="), "{out}");
    assert!(err.contains("'alice' is an administrator"), "{err}");
    assert!(!err.contains("keybound::audit"), "{err}");
    let (code, _, err) = run(dir.path(), &["admin", "suspend", "alice"]);
    assert_ne!(code, 0);
    assert!(err.contains("no active account"), "{err}");
    assert!(!err.contains("keybound::audit"), "{err}");
}
