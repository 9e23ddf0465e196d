//! `serve --tls-cert --tls-key`: https with HSTS and ALPN http/1.1, a
//! certificate replaced on disk (or signalled with SIGHUP) served from the
//! next connection, a bad replacement refused while the old one serves on,
//! and a handshake bounded in time like a request head.

use std::io::Read;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::support::http::{ORIGIN, RP_ID};
use crate::support::tls::{get, TestCa};
use crate::support::{Server, BIN};

fn tls_server(dir: &std::path::Path, extra: &[&str]) -> Server {
    let mut args = vec![
        "--tls-cert".to_owned(),
        dir.join("cert.pem").display().to_string(),
        "--tls-key".to_owned(),
        dir.join("key.pem").display().to_string(),
    ];
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Server::start_on("127.0.0.1:0", RP_ID, ORIGIN, &args)
}

/// Waits up to `limit` for the server to show the certificate `der`.
fn serves_within(port: u16, ca: &TestCa, der: &[u8], limit: Duration) -> bool {
    let started = Instant::now();
    loop {
        if get(port, ca, "/healthz").is_ok_and(|r| r.peer == der) {
            return true;
        }
        if started.elapsed() > limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn https_is_served_with_hsts_and_the_certificate_is_reloaded() {
    let ca = TestCa::new();
    let files = tempfile::tempdir().unwrap();
    let first = ca.leaf();
    first.install(files.path());
    let server = tls_server(files.path(), &[]);

    let reply = get(server.port, &ca, "/").unwrap();
    assert!(reply.text.starts_with("HTTP/1.1 200"), "{}", reply.text);
    assert!(
        reply
            .text
            .to_ascii_lowercase()
            .contains("\r\nstrict-transport-security: max-age=63072000\r\n"),
        "{}",
        reply.text
    );
    assert_eq!(reply.peer, first.der);
    assert_eq!(reply.alpn.as_deref(), Some(&b"http/1.1"[..]));
    let (_, export) = server.cli(&["audit", "export"]);
    assert!(
        export.contains("tls=true"),
        "the start event says so: {export}"
    );
    // Plain HTTP on the TLS port gets no page.
    let mut plain = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    std::io::Write::write_all(
        &mut plain,
        b"GET / HTTP/1.1\r\nHost: kb.test\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut raw = Vec::new();
    let _ = plain.read_to_end(&mut raw);
    assert!(!String::from_utf8_lossy(&raw).contains("200 OK"));

    // Renewed in place: seen without a signal.
    let second = ca.leaf();
    second.install(files.path());
    assert!(
        serves_within(server.port, &ca, &second.der, Duration::from_secs(6)),
        "the changed files are served"
    );

    // A key that is not the certificate's, then garbage: refused, and the
    // second certificate serves on, by polling and after SIGHUP alike.
    let third = ca.leaf();
    std::fs::write(files.path().join("cert.pem"), &third.cert_pem).unwrap();
    std::thread::sleep(Duration::from_secs(3));
    server.signal("HUP");
    std::thread::sleep(Duration::from_millis(300));
    let reply = get(server.port, &ca, "/healthz").unwrap();
    assert!(reply.text.starts_with("HTTP/1.1 200"), "{}", reply.text);
    assert_eq!(reply.peer, second.der, "a mismatched pair is not served");
    std::fs::write(files.path().join("cert.pem"), "not a certificate").unwrap();
    std::thread::sleep(Duration::from_secs(3));
    let reply = get(server.port, &ca, "/healthz").unwrap();
    assert_eq!(reply.peer, second.der, "garbage is not served");

    // SIGHUP loads a good pair at once.
    let fourth = ca.leaf();
    fourth.install(files.path());
    server.signal("HUP");
    assert!(serves_within(
        server.port,
        &ca,
        &fourth.der,
        Duration::from_secs(2)
    ));
}

#[test]
fn a_handshake_is_bounded_by_the_header_timeout() {
    let ca = TestCa::new();
    let files = tempfile::tempdir().unwrap();
    ca.leaf().install(files.path());
    let server = tls_server(files.path(), &["--header-read-timeout", "1"]);
    let mut silent = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    silent
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let started = Instant::now();
    let mut raw = Vec::new();
    let _ = silent.read_to_end(&mut raw);
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "closed after {:?}",
        started.elapsed()
    );
}

#[test]
fn bad_tls_settings_are_refused_at_start() {
    let ca = TestCa::new();
    let files = tempfile::tempdir().unwrap();
    let (cert, key) = ca.leaf().install(files.path());
    let other = ca.leaf();
    let wrong_key = files.path().join("wrong-key.pem");
    std::fs::write(&wrong_key, &other.key_pem).unwrap();
    let cert = cert.to_str().unwrap();
    let key = key.to_str().unwrap();
    for (args, says) in [
        (vec!["--tls-cert", cert], "--tls-key"),
        (vec!["--tls-key", key], "--tls-cert"),
        (
            vec!["--tls-cert", cert, "--tls-key", "/no/such/key.pem"],
            "/no/such/key.pem",
        ),
        (
            vec!["--tls-cert", key, "--tls-key", key],
            "no PEM certificate",
        ),
        (
            vec!["--tls-cert", cert, "--tls-key", wrong_key.to_str().unwrap()],
            "wrong-key.pem",
        ),
    ] {
        let data = tempfile::tempdir().unwrap();
        let out = std::process::Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data.path())
            .args(&args)
            .env_remove("KEYBOUND_DATABASE_URL")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}
