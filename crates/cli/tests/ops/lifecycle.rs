//! SIGTERM and SIGINT stop the server gracefully: `/readyz` turns unready,
//! the listener closes, a request under way gets its answer, and the
//! process exits 0 — or 1 once `--shutdown-grace` runs out.

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
    let mut server = Server::start_on("127.0.0.1:0", RP_ID, ORIGIN, &[]);
    assert!(get(server.port, "/readyz")
        .unwrap()
        .starts_with("HTTP/1.1 200"));
    let mut in_flight = half_sent_post(server.port);
    std::thread::sleep(Duration::from_millis(200));

    server.signal(signal);
    std::thread::sleep(Duration::from_millis(300));
    // Unready first, then the listener is gone: a new request is refused
    // at connect, or told 503.
    match get(server.port, "/readyz") {
        Err(_) => {}
        Ok(reply) => assert!(
            reply.is_empty() || reply.starts_with("HTTP/1.1 503"),
            "after {signal}: {reply}"
        ),
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
    let mut server = Server::start_on("127.0.0.1:0", RP_ID, ORIGIN, &["--shutdown-grace", "1"]);
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
    let mut server = Server::start_on("127.0.0.1:0", RP_ID, ORIGIN, &[]);
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
