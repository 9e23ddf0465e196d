//! Issue 12 items 16 and 18 at the terminal: text a client chose cannot
//! forge lines or columns, nor smuggle escape sequences, in the admin and
//! audit commands; names are one rule; `--since` takes any text.

use super::*;

fn run(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env_remove("KEYBOUND_DATABASE_URL")
        .output()
        .unwrap()
}

/// Item 18: a multi-byte character in `--since` panicked.
#[test]
fn audit_alerts_since_takes_any_text_without_panicking() {
    let dir = tempfile::tempdir().unwrap();
    for since in ["1é", "é", "1€", "1h\u{301}"] {
        let out = run(dir.path(), &["audit", "alerts", "--since", since]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "a usage error: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(
            stderr.contains("expected a number and s, m, h or d"),
            "{stderr}"
        );
    }
    assert!(run(dir.path(), &["init"]).status.success());
    let out = run(dir.path(), &["audit", "alerts", "--since", "24h"]);
    assert!(out.status.success());
}

/// A name stored before the naming rule (open registration accepted
/// anything) holding a newline, tabs, a right-to-left override and a C1
/// control: listing it prints one escaped line, and its events export
/// as JSON lines without raw control or bidi characters.
#[test]
fn client_text_cannot_forge_lines_or_escape_sequences() {
    let dir = tempfile::tempdir().unwrap();
    assert!(keybound(dir.path(), &["init"]).0);
    let (ok, _) = keybound(dir.path(), &["admin", "invite", "Ada"]);
    assert!(ok);
    let forged = "mallory\nroot\tactive\tadmin\t1 active / 1 credentials\u{202E}\u{9b}31m";
    let db = format!("sqlite://{}", dir.path().join("keybound.db").display());
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect(&db).await.unwrap();
        sqlx::query(
            "INSERT INTO identities (id, name, status, is_admin, user_handle, created_ms) \
             VALUES ('old', $1, 'active', 0, x'01', 1)",
        )
        .bind(forged)
        .execute(&mut conn)
        .await
        .unwrap();
    });

    let (ok, users) = keybound(dir.path(), &["admin", "users"]);
    assert!(ok);
    let lines: Vec<_> = users.lines().collect();
    assert_eq!(lines.len(), 3, "a header and one line each: {users}");
    // Columns are two or more spaces apart, and no cell holds two spaces
    // in a row (the second is escaped): a name cannot forge a column.
    let cells = |line: &str| -> Vec<String> {
        line.split("  ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(
        cells(lines[1])[..4],
        ["ada", "invited", "user", "0 active / 0 credentials"],
        "canonical"
    );
    assert_eq!(
        cells(lines[2])[..4],
        [
            "mallory\\u{a}root\\u{9}active\\u{9}admin\\u{9}1 active / 1 credentials\
             \\u{202e}\\u{9b}31m",
            "active",
            "user",
            "0 active / 0 credentials"
        ]
    );
    // The JSON listing gives the name back as it is, terminal-safe.
    let (ok, json) = keybound(dir.path(), &["admin", "users", "--json"]);
    assert!(ok);
    assert!(
        !json.trim_end().contains(['\u{202E}', '\u{9b}', '\n']),
        "{json}"
    );
    let listed: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(listed[1]["name"], forged);

    // The old name still works as typed, and its events are exported
    // escaped: the JSON means the same, the terminal sees no raw controls.
    let (ok, out) = keybound(dir.path(), &["admin", "offboard", forged]);
    assert!(ok);
    assert_eq!(out.lines().count(), 1, "{out}");
    let (ok, export) = keybound(dir.path(), &["audit", "export"]);
    assert!(ok);
    assert!(!export.contains(['\u{202E}', '\u{9b}']), "{export}");
    assert!(export.contains("\\u202e\\u009b31m"), "{export}");
    let subjects: Vec<String> = export
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter_map(|v| v["subject"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(subjects.last().map(String::as_str), Some(forged));

    // Spellings of a name are the name.
    let (ok, _) = keybound(dir.path(), &["admin", "credentials", "ＡＤＡ"]);
    assert!(ok);
    let (ok, _) = keybound(dir.path(), &["admin", "invite", "\u{0430}da"]);
    assert!(!ok, "a look-alike of ada");
}
