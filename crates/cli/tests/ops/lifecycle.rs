//! SIGTERM and SIGINT stop the server gracefully: `/readyz` turns unready
//! while requests are still served for `--shutdown-delay`, then the
//! listener closes, a request under way gets its answer, and the process
//! exits 0 — or 1 once `--shutdown-grace` runs out, or at once on a second
//! signal.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::support::http::{ORIGIN, RP_ID};
use crate::support::Server;

fn get(port: u16, path: &str) -> std::io::Result<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: kb.test\r\nConnection: close\r\n\r\n"
    )?;
    let mut reply = String::new();
    s.read_to_string(&mut reply)?;
    Ok(reply)
}

/// A POST whose head and first body byte are sent; the rest is up to the
/// test.
fn half_sent_post(port: u16) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "POST /assertion/options HTTP/1.1\r\nHost: kb.test\r\n\
         Content-Type: application/json\r\nSec-Fetch-Site: same-origin\r\n\
         Content-Length: 2\r\nConnection: close\r\n\r\n{{"
    )
    .unwrap();
    s.flush().unwrap();
    s
}

fn drains_on(signal: &str) {
    let mut server = Server::start_on("127.0.0.1:0", RP_ID, ORIGIN, &["--shutdown-delay", "2"]);
    assert!(get(server.port, "/readyz")
        .unwrap()
        .starts_with("HTTP/1.1 200"));
    let mut in_flight = half_sent_post(server.port);
    std::thread::sleep(Duration::from_millis(200));

    server.signal(signal);
    let signalled = Instant::now();
    std::thread::sleep(Duration::from_millis(300));
    // Unready, yet still serving: a load balancer polling /readyz sees the
    // 503 and moves away before any connection is refused.
    let ready = get(server.port, "/readyz").expect("still accepting during the delay");
    assert!(ready.starts_with("HTTP/1.1 503"), "after {signal}: {ready}");
    let health = get(server.port, "/healthz").expect("still accepting during the delay");
    assert!(
        health.starts_with("HTTP/1.1 200"),
        "after {signal}: {health}"
    );
    // After the delay the listener is gone: refused at connect, or closed
    // unanswered.
    std::thread::sleep(Duration::from_millis(2300).saturating_sub(signalled.elapsed()));
    match get(server.port, "/readyz") {
        Err(_) => {}
        Ok(reply) => assert!(reply.is_empty(), "after the delay: {reply}"),
    }
    assert!(
        server.exit_within(Duration::ZERO).is_none(),
        "a request is still running: the server waits for it"
    );

    in_flight.write_all(b"}").unwrap();
    let mut reply = String::new();
    in_flight.read_to_string(&mut reply).unwrap();
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(reply.contains("\"challenge\""), "{reply}");

    let status = server
        .exit_within(Duration::from_secs(10))
        .expect("the server exits once the request is answered");
    assert_eq!(status.code(), Some(0), "after {signal}");
    // The database was left whole: the chain verifies.
    let (ok, verified) = server.cli(&["audit", "verify"]);
    assert!(ok, "{verified}");
    let (_, export) = server.cli(&["audit", "export"]);
    assert!(export.contains("tls=false"), "{export}");
}

#[test]
fn sigterm_drains_a_request_in_flight_and_exits_zero() {
    drains_on("TERM");
}

#[test]
fn sigint_drains_a_request_in_flight_and_exits_zero() {
    drains_on("INT");
}

#[test]
fn a_stop_that_outlasts_the_grace_exits_one() {
    let mut server = Server::start_on(
        "127.0.0.1:0",
        RP_ID,
        ORIGIN,
        &["--shutdown-grace", "1", "--shutdown-delay", "0"],
    );
    // Never finished: the body timeout (30 s) would hold the stop.
    let _stuck = half_sent_post(server.port);
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    server.signal("TERM");
    let status = server
        .exit_within(Duration::from_secs(10))
        .expect("the grace bounds the stop");
    assert_eq!(status.code(), Some(1));
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "waited the grace: {:?}",
        started.elapsed()
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn an_idle_server_stops_at_once() {
    let mut server = Server::start_on("127.0.0.1:0", RP_ID, ORIGIN, &["--shutdown-delay", "0"]);
    // SIGHUP (a `systemctl reload`) without TLS has nothing to reload: the
    // server carries on rather than die of it.
    server.signal("HUP");
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        server.exit_within(Duration::ZERO).is_none(),
        "alive after SIGHUP"
    );
    assert!(get(server.port, "/readyz")
        .unwrap()
        .starts_with("HTTP/1.1 200"));
    let started = Instant::now();
    server.signal("TERM");
    let status = server.exit_within(Duration::from_secs(5)).unwrap();
    assert!(status.success());
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn a_second_signal_ends_the_stop_at_once() {
    let mut server = Server::start_on("127.0.0.1:0", RP_ID, ORIGIN, &["--shutdown-delay", "1"]);
    // Never finished: the stop would wait the whole grace (20 s).
    let _stuck = half_sent_post(server.port);
    std::thread::sleep(Duration::from_millis(200));
    server.signal("TERM");
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        server.exit_within(Duration::ZERO).is_none(),
        "draining the stuck request"
    );
    let again = Instant::now();
    server.signal("INT");
    let status = server
        .exit_within(Duration::from_secs(5))
        .expect("a second signal ends the stop");
    assert_eq!(status.code(), Some(1), "requests were cut off");
    assert!(
        again.elapsed() < Duration::from_secs(2),
        "{:?}",
        again.elapsed()
    );
}

#[test]
fn a_shutdown_delay_not_under_the_grace_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(crate::support::BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--rp-id",
            RP_ID,
            "--origin",
            ORIGIN,
            "--allow-insecure-origin",
            "--shutdown-grace",
            "5",
            "--shutdown-delay",
            "5",
            "--data-dir",
        ])
        .arg(dir.path())
        .env_remove("KEYBOUND_DATABASE_URL")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--shutdown-delay"), "{err}");
}
