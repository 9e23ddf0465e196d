//! Issue 19 at the command line: `keybound audit key` and `keybound audit
//! checkpoint` print what the server serves at `/audit/v1/key` and
//! `/audit/v1/checkpoint`; before the first seal they fail with a message
//! that says how to get one.

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

/// The status line and body of a GET.
fn get(port: u16, path: &str) -> (String, String) {
    let reply = http_get(port, path);
    let (head, body) = reply.split_once("\r\n\r\n").unwrap();
    (head.lines().next().unwrap().to_owned(), body.to_owned())
}

#[test]
fn audit_key_and_checkpoint_fail_before_the_first_seal() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert_eq!(run(d, &["init"]).0, 0);
    for what in ["key", "checkpoint"] {
        let (code, out, err) = run(d, &["audit", what]);
        assert_eq!(code, 1, "{what}: {out}{err}");
        assert_eq!(out, "", "{what}");
        assert!(
            err.contains("no checkpoint has been signed yet: start `keybound serve`"),
            "{what}: {err}"
        );
    }
}

#[test]
fn audit_key_and_checkpoint_print_what_the_server_serves() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(d)
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
    let _server = Server(child);
    let port: u16 = first
        .split("127.0.0.1:")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap();

    // The sealer signs the server's start within a run or two.
    let mut served = None;
    for _ in 0..100 {
        let (status, note) = get(port, "/audit/v1/checkpoint");
        if status.starts_with("HTTP/1.1 200") {
            served = Some(note);
            break;
        }
        assert!(status.starts_with("HTTP/1.1 404"), "{status}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let note = served.expect("a checkpoint within 10 s");
    assert!(note.starts_with("localhost/keybound-audit\n"), "{note}");

    // Nothing new is logged while the test reads (the sealer signs only
    // a larger log), so the two must agree byte for byte.
    let (code, printed, err) = run(d, &["audit", "checkpoint"]);
    assert_eq!(code, 0, "{err}");
    let (_, note) = get(port, "/audit/v1/checkpoint");
    assert_eq!(printed, note);

    let (status, key) = get(port, "/audit/v1/key");
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    let (code, printed, err) = run(d, &["audit", "key"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(printed, key);
    assert!(
        printed.starts_with("localhost/keybound-audit+") && printed.ends_with('\n'),
        "{printed}"
    );
    assert_eq!(printed.lines().count(), 1);
}
