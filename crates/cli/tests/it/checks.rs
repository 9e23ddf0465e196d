//! Issue 14 item 4: settings that would start and then fail in a browser
//! are refused by `serve` and `check-config` alike, with a message that
//! names the setting and the fix; the banner names the origin to open.

use super::*;

/// Runs `keybound ARGS` in `dir` (as its data directory); (exit code,
/// stdout, stderr). A run still going after a minute is killed and the
/// test fails: `serve` that a check no longer refuses would run forever.
fn run(dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    use std::io::Read;
    let mut child = Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env_remove("KEYBOUND_DATABASE_URL")
        .env_remove("KEYBOUND_ORIGIN")
        .env_remove("KEYBOUND_RP_ID")
        .env_remove("KEYBOUND_CONFIG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let drain = |mut from: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = from.read_to_string(&mut text);
            text
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            // Killed: the caller's exit-code assertion fails (-1) and says so.
            let _ = child.kill();
            let _ = child.wait();
            let err = stderr.join().unwrap();
            return (
                -1,
                stdout.join().unwrap(),
                format!("still running after 60 s: {err}"),
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    (
        status.code().unwrap_or(-1),
        stdout.join().unwrap(),
        stderr.join().unwrap(),
    )
}

const PROXY: [&str; 2] = ["--trusted-proxy", "10.0.0.1"];

#[test]
fn each_bad_setting_is_refused_by_serve_and_check_config() {
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "--rp-id",
                "example.com",
                "--origin",
                "https://login.other.com",
            ],
            "--rp-id example.com does not cover --origin https://login.other.com",
        ),
        (
            &["--rp-id", "192.168.1.5", "--origin", "https://192.168.1.5"],
            "--rp-id 192.168.1.5: an IP address cannot be an RP ID",
        ),
        (
            &["--rp-id", "example.com", "--origin", "https://example.com/"],
            "trailing slash, as browsers send it; write https://example.com",
        ),
        (
            &[
                "--rp-id",
                "example.com",
                "--origin",
                "https://example.com/app",
            ],
            "--origin \"https://example.com/app\": an origin is scheme://host[:port] with no path",
        ),
        (
            &["--rp-id", "example.com", "--origin", "http://example.com"],
            "--origin http://example.com: browsers run passkeys only on https origins",
        ),
        (
            &["--rp-id", "com", "--origin", "https://com"],
            "--rp-id com: a public suffix",
        ),
        (
            &["--rp-id", "co.uk", "--origin", "https://shop.co.uk"],
            "--rp-id co.uk: a public suffix",
        ),
        (
            &["--rp-id", "github.io", "--origin", "https://me.github.io"],
            "--rp-id github.io: a public suffix",
        ),
        (
            &["--rp-id", "a..example", "--origin", "https://a..example"],
            "--rp-id \"a..example\": an RP ID is a lowercase domain name",
        ),
        (
            &["--rp-id=-a.example", "--origin=https://-a.example"],
            "--rp-id \"-a.example\": an RP ID is a lowercase domain name",
        ),
        (
            &["--rp-id", "a-.example", "--origin", "https://a-.example"],
            "--rp-id \"a-.example\": an RP ID is a lowercase domain name",
        ),
        (
            &[
                "--rp-id",
                "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example",
                "--origin",
                "https://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example",
            ],
            "labels 1-63 letters",
        ),
        (
            &[
                "--rp-id",
                "bücher.example",
                "--origin",
                "https://xn--bcher-kva.example",
            ],
            "--rp-id xn--bcher-kva.example",
        ),
        (
            &[
                "--rp-id",
                "id.example.com",
                "--origin",
                "https://id.example.com",
                "--trusted-proxy",
                "10.0.0.1",
                "--cookie-domain",
                "other.com",
            ],
            "--cookie-domain \"other.com\": must be the RP ID (id.example.com) or a parent",
        ),
        (
            &[
                "--rp-id",
                "id.example.com",
                "--origin",
                "https://id.example.com",
                "--trusted-proxy",
                "10.0.0.1",
                "--cookie-domain",
                "com",
            ],
            "--cookie-domain com: a public suffix",
        ),
        (
            &["--group-min-tier", "admins=2"],
            "--group-min-tier admins=…: there is no group \"admins\"",
        ),
    ];
    for (args, says) in cases {
        for command in ["check-config", "serve"] {
            let dir = tempfile::tempdir().unwrap();
            let mut all = vec![command, "--listen", "127.0.0.1:0"];
            all.extend_from_slice(args);
            // A declared proxy, so only the setting under test is wrong.
            all.extend_from_slice(&PROXY);
            let (code, out, err) = run(dir.path(), &all);
            assert_eq!(code, 1, "{all:?}: {out}{err}");
            assert!(err.contains(says), "{all:?}: {err}");
            assert!(!out.contains("ok"), "{out}");
            assert!(
                !dir.path().join("keybound.db").exists(),
                "{command} refused before creating anything"
            );
        }
    }
}

#[test]
fn https_needs_tls_or_a_declared_proxy_or_an_explicit_waiver() {
    let dir = tempfile::tempdir().unwrap();
    let site = ["--rp-id", "example.com", "--origin", "https://example.com"];
    for command in ["check-config", "serve"] {
        let mut args = vec![command, "--listen", "127.0.0.1:0"];
        args.extend_from_slice(&site);
        let (code, _, err) = run(dir.path(), &args);
        assert_eq!(code, 1, "{command}: {err}");
        assert!(err.contains("nothing terminates TLS"), "{err}");
        assert!(err.contains("--tls-cert") && err.contains("--trusted-proxy"));
    }
    let tls = ["--tls-cert", "cert.pem", "--tls-key", "key.pem"];
    for extra in [&PROXY[..], &tls, &["--allow-insecure-origin"]] {
        let mut args = vec!["check-config"];
        args.extend_from_slice(&site);
        args.extend_from_slice(extra);
        let (code, out, err) = run(dir.path(), &args);
        assert_eq!(code, 0, "{extra:?}: {err}");
        assert_eq!(out.lines().next(), Some("ok"), "{out}");
        assert!(out.contains("open: https://example.com\n"), "{out}");
    }
    // The waiver covers http too; never a malformed origin.
    let (code, _, err) = run(
        dir.path(),
        &[
            "check-config",
            "--rp-id",
            "example.com",
            "--origin",
            "http://example.com",
            "--allow-insecure-origin",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let (code, _, _) = run(
        dir.path(),
        &[
            "check-config",
            "--rp-id",
            "example.com",
            "--origin",
            "https://example.com/",
            "--allow-insecure-origin",
        ],
    );
    assert_eq!(code, 1);
}

#[test]
fn the_config_file_is_checked_too_and_warnings_do_not_refuse() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("keybound.toml");
    std::fs::write(
        &file,
        "rp_id = \"example.com\"\norigins = [\"https://example.com/\"]\n",
    )
    .unwrap();
    let config = file.to_str().unwrap();
    let (code, _, err) = run(dir.path(), &["check-config", "--config", config]);
    assert_eq!(code, 1);
    assert!(err.contains("write https://example.com"), "{err}");

    std::fs::write(&file, "[group_min_tier]\nadmin = 2\n").unwrap();
    let (code, out, err) = run(dir.path(), &["check-config", "--config", config]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("ok\n"), "{out}");
    assert!(
        err.contains("warning: administrators must enrol a passkey of tier 2"),
        "{err}"
    );
    assert!(err.contains("security key"), "{err}");
    assert!(
        !dir.path().join("keybound.db").exists(),
        "check-config opens no database"
    );
}

#[test]
fn the_banner_names_the_origin_to_open() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--origin",
            "http://localhost:8080",
            "--data-dir",
        ])
        .arg(dir.path())
        .env_remove("KEYBOUND_DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let second = lines.next().unwrap().unwrap();
    let _server = Server(child);
    assert!(
        first.starts_with("keybound listening on 127.0.0.1:"),
        "{first}"
    );
    assert!(
        !first.contains("http://"),
        "the socket is not a URL: {first}"
    );
    assert_eq!(second, "open: http://localhost:8080");
}

/// A step-up window longer than 15 minutes, or than a session, is warned
/// about (not refused); a zero lifetime is refused.
#[test]
fn long_step_up_windows_are_warned_about_and_zero_lifetimes_refused() {
    let dir = tempfile::tempdir().unwrap();
    let site = ["--rp-id", "localhost"];
    let mut args = vec!["check-config"];
    args.extend_from_slice(&site);
    args.extend_from_slice(&["--step-up-window", "1200", "--session-lifetime", "600"]);
    let (code, _, err) = run(dir.path(), &args);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("warning: --step-up-window 1200: over 15 minutes"),
        "{err}"
    );
    assert!(
        err.contains("--step-up-window 1200 exceeds --session-lifetime 600"),
        "{err}"
    );
    let (code, _, err) = run(dir.path(), &["check-config", "--rp-id", "localhost"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        !err.contains("--step-up-window"),
        "defaults warn of nothing: {err}"
    );
    for zero in [
        "--session-lifetime",
        "--invitation-lifetime",
        "--step-up-window",
    ] {
        let (code, _, err) = run(
            dir.path(),
            &["check-config", "--rp-id", "localhost", zero, "0"],
        );
        assert_ne!(code, 0, "{zero} 0: {err}");
    }
}
