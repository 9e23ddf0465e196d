//! A log reader that stops reading (a full pipe, a stuck journal) costs
//! log lines, never requests: the server keeps answering, and counts what
//! it dropped.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::served::Served;

/// Longest a request may take while the log is stalled.
const PATIENCE: Duration = Duration::from_secs(5);

/// One keep-alive connection for many GETs.
struct Client {
    reader: BufReader<TcpStream>,
}

impl Client {
    fn connect(addr: &str) -> Client {
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        stream.set_nodelay(true).unwrap();
        Client {
            reader: BufReader::new(stream),
        }
    }

    /// The status and body of `GET path`; panics (a read timeout) when no
    /// answer comes within [`PATIENCE`].
    fn get(&mut self, path: &str) -> (u16, String) {
        // One write: a request in pieces waits on Nagle's algorithm.
        let request = format!("GET {path} HTTP/1.1\r\nHost: kb.test\r\n\r\n");
        self.reader.get_mut().write_all(request.as_bytes()).unwrap();
        let mut status_line = String::new();
        self.reader
            .read_line(&mut status_line)
            .unwrap_or_else(|e| panic!("no answer to {path} within {PATIENCE:?}: {e}"));
        let status = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("not a status line: {status_line:?}"));
        let mut length = 0;
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line).unwrap();
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap();
                }
            }
        }
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body).unwrap();
        (status, String::from_utf8_lossy(&body).into_owned())
    }
}

/// Enough access lines to fill the pipe (64 KiB, a few hundred lines)
/// many times over and then the writer's queue, while nobody reads the
/// server's stderr; every request is still answered promptly, and the
/// dropped lines are counted.
#[test]
fn a_stalled_log_reader_does_not_stall_requests() {
    let server = Served::start_with_unread_stderr(&["--metrics-listen", "127.0.0.1:0"], "info");
    let metrics = server.metrics_address();
    let public = format!("127.0.0.1:{}", server.port);
    let started = Instant::now();
    // Four connections at once: more than the machine's worker threads,
    // which a blocking log write would all hold.
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let public = public.clone();
            std::thread::spawn(move || {
                let mut client = Client::connect(&public);
                for _ in 0..5_000 {
                    let (status, _) = client.get("/healthz");
                    assert_eq!(status, 200);
                }
            })
        })
        .collect();
    for client in clients {
        client.join().unwrap();
    }
    eprintln!("20000 requests in {:?}", started.elapsed());
    // A new connection is answered too, at once.
    let asked = Instant::now();
    let (status, _) = Client::connect(&public).get("/healthz");
    assert_eq!(status, 200);
    assert!(asked.elapsed() < PATIENCE, "{:?}", asked.elapsed());
    let (status, text) = Client::connect(&metrics).get("/metrics");
    assert_eq!(status, 200);
    let dropped: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("keybound_log_lines_dropped_total "))
        .unwrap_or_else(|| panic!("no dropped-lines count in {text}"))
        .trim()
        .parse()
        .unwrap();
    assert!(dropped > 0.0, "lines were dropped, and counted: {dropped}");
}
