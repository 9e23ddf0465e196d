//! Connections are bounded in time and number: half-sent requests, slow
//! bodies and idle keep-alive connections are closed, at most
//! `max_connections` are served at once, and none of it stops `/healthz`
//! from answering. Over real sockets, with `keybound_server::serve`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use keybound_server::{serve, ConnectionLimits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;

use super::*;

struct Serving {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn serving(limits: ConnectionLimits) -> Serving {
    let (app, _) = app().await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, app, limits, async {
        let _ = stopped.await;
    }));
    Serving {
        addr,
        stop: Some(stop),
        task,
    }
}

fn limits(header_ms: u64, body_ms: u64, idle_ms: u64, max: usize) -> ConnectionLimits {
    ConnectionLimits {
        header_read_timeout: Duration::from_millis(header_ms),
        request_body_timeout: Duration::from_millis(body_ms),
        keep_alive_timeout: Duration::from_millis(idle_ms),
        max_connections: max,
        max_connections_per_address: 0,
    }
}

/// A connection that sent half a request head.
async fn half_sent(addr: SocketAddr) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: kb.test\r\n")
        .await
        .unwrap();
    s
}

/// Everything the server sends until it closes, if it closes within
/// `within`.
async fn until_closed(s: &mut TcpStream, within: Duration) -> Option<String> {
    let mut all = Vec::new();
    let read = timeout(within, async {
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => all.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    read.ok()
        .map(|()| String::from_utf8_lossy(&all).into_owned())
}

/// `/healthz` on a new connection, if it answers within `within`.
async fn healthz(addr: SocketAddr, within: Duration) -> Option<String> {
    timeout(within, async {
        let mut s = TcpStream::connect(addr).await.ok()?;
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: kb.test\r\nConnection: close\r\n\r\n")
            .await
            .ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).await.ok()?;
        Some(out)
    })
    .await
    .ok()
    .flatten()
}

#[tokio::test]
async fn a_half_sent_request_is_closed_after_the_header_timeout() {
    let server = serving(limits(400, 5000, 10_000, 64)).await;
    let mut s = half_sent(server.addr).await;
    let started = Instant::now();
    let closed = until_closed(&mut s, Duration::from_secs(5)).await;
    assert!(closed.is_some(), "still open after 5 s");
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(300) && elapsed < Duration::from_secs(3),
        "{elapsed:?}"
    );
}

#[tokio::test]
async fn a_body_that_does_not_arrive_in_time_fails_and_closes() {
    let server = serving(limits(5000, 400, 10_000, 64)).await;
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    s.write_all(
        b"POST /assertion/options HTTP/1.1\r\nHost: kb.test\r\n\
          Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"user",
    )
    .await
    .unwrap();
    let started = Instant::now();
    let reply = until_closed(&mut s, Duration::from_secs(5)).await.unwrap();
    assert!(reply.starts_with("HTTP/1.1 400"), "{reply}");
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn an_idle_connection_is_closed_after_the_keep_alive_timeout() {
    let server = serving(limits(5000, 5000, 400, 64)).await;
    // One request, kept alive, then nothing.
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: kb.test\r\n\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let reply = until_closed(&mut s, Duration::from_secs(4)).await.unwrap();
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(started.elapsed() >= Duration::from_millis(300));
    // A connection that never sends a byte.
    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    assert!(until_closed(&mut silent, Duration::from_secs(4))
        .await
        .is_some());
}

#[tokio::test]
async fn the_connection_cap_is_enforced() {
    let server = serving(limits(10_000, 10_000, 10_000, 4)).await;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(half_sent(server.addr).await);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        healthz(server.addr, Duration::from_millis(500)).await,
        None,
        "a fifth connection waits"
    );
    // One slot frees: the next connection is served.
    drop(held.pop());
    let answer = healthz(server.addr, Duration::from_secs(3)).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

/// Issue 12 (review): one address cannot hold every slot. Connections from
/// 127.0.0.1 beyond its share are closed at once; 127.0.0.2 is still served.
#[tokio::test]
async fn one_address_cannot_hold_every_connection() {
    let server = serving(ConnectionLimits {
        max_connections_per_address: 2,
        ..limits(10_000, 10_000, 10_000, 8)
    })
    .await;
    let _held = [half_sent(server.addr).await, half_sent(server.addr).await];
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut third = half_sent(server.addr).await;
    assert!(
        until_closed(&mut third, Duration::from_secs(2))
            .await
            .is_some(),
        "the third from one address is closed at once"
    );
    let other = tokio::net::TcpSocket::new_v4().unwrap();
    other.bind("127.0.0.2:0".parse().unwrap()).unwrap();
    let mut s = other.connect(server.addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: kb.test\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut out = String::new();
    timeout(Duration::from_secs(3), s.read_to_string(&mut out))
        .await
        .unwrap()
        .unwrap();
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
}

#[tokio::test]
async fn many_half_sent_requests_do_not_stop_healthz() {
    // Ten times the cap: each slot is freed by the header timeout.
    let server = serving(limits(300, 5000, 10_000, 8)).await;
    let mut held = Vec::new();
    for _ in 0..80 {
        held.push(half_sent(server.addr).await);
    }
    let started = Instant::now();
    let answer = healthz(server.addr, Duration::from_secs(10)).await;
    assert!(
        answer
            .as_deref()
            .is_some_and(|a| a.starts_with("HTTP/1.1 200")),
        "{answer:?} after {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn shutdown_closes_idle_connections_and_returns() {
    let mut server = serving(limits(10_000, 10_000, 10_000, 64)).await;
    let mut idle = TcpStream::connect(server.addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: kb.test\r\n\r\n")
        .await
        .unwrap();
    let mut first = [0u8; 12];
    idle.read_exact(&mut first).await.unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");
    let _ = server.stop.take().unwrap().send(());
    let done = timeout(Duration::from_secs(3), &mut server.task).await;
    assert!(matches!(done, Ok(Ok(Ok(())))), "{done:?}");
    assert!(until_closed(&mut idle, Duration::from_secs(1))
        .await
        .is_some());
    assert!(
        TcpStream::connect(server.addr).await.is_err(),
        "no longer listening"
    );
}
