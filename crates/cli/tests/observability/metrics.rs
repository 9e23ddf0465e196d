//! `/metrics` on its own listener, read with Prometheus's Python parser.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use keybound_soft_authenticator::{Algorithm, Authenticator, Tweaks};
use serde_json::{json, Value};

use crate::served::{enrol, get_with_header, sign_in, Served};
use crate::support::http::{ceremony, challenge, decode};

/// One sample: name, labels, value.
type Sample = (String, serde_json::Map<String, Value>, f64);

/// Samples of a `/metrics` text as Prometheus's Python parser reads it:
/// (name, labels, value). `None` when the parser is not installed here
/// (and this is not CI, where that fails).
fn parse_metrics(text: &str) -> Option<Vec<Sample>> {
    let probe = Command::new("python3")
        .args(["-c", "import prometheus_client"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        let message = "python3 with prometheus_client is missing (pip install prometheus_client)";
        if std::env::var_os("CI").is_some() {
            panic!("{message}: the metrics test must run in CI");
        }
        eprintln!("SKIPPED: {message}");
        return None;
    }
    let script = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        out.append([s.name, s.labels, s.value])
print(json.dumps(out))
"#;
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the parser refused /metrics: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let samples: Vec<Sample> = serde_json::from_slice(&out.stdout).unwrap();
    Some(samples)
}

fn http_get(addr: &str, path: &str) -> (String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: metrics\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut reply = String::new();
    s.read_to_string(&mut reply).unwrap();
    let (head, body) = reply.split_once("\r\n\r\n").unwrap();
    (head.to_owned(), body.to_owned())
}

/// The value of the sample `name` with exactly `labels` (0 if absent).
fn sample(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|(n, l, _)| {
            n == name
                && l.len() == labels.len()
                && labels
                    .iter()
                    .all(|(k, v)| l.get(*k).and_then(Value::as_str) == Some(*v))
        })
        .map(|(_, _, v)| *v)
        .sum()
}

#[test]
fn metrics_count_the_ceremonies_on_their_own_listener() {
    let server = Served::start(&["--metrics-listen", "127.0.0.1:0"], "warn");
    let metrics = server.metrics_address();
    let auth = Authenticator::default();
    let mut browser = server.browser();
    let (mut cred, _) = enrol(&server, &mut browser, &auth, "ada");
    let mut other = server.browser();
    let ok = sign_in(&mut other, &auth, &mut cred, "ada", &Tweaks::default());
    assert_eq!(ok.0, 200);
    let bad = Tweaks {
        corrupt_signature: true,
        ..Tweaks::default()
    };
    assert_eq!(sign_in(&mut other, &auth, &mut cred, "ada", &bad).0, 400);
    // A registration refused: the answer is for another RP ID.
    let token = server.invite("bob");
    let (_, options) = other.post_json(
        "/attestation/options",
        &json!({"username": "bob", "token": token}),
    );
    let user = decode(options["user"]["id"].as_str().unwrap());
    let c = challenge(&options);
    let wrong_rp = Tweaks {
        rp_id_hash_of: Some("evil.test".into()),
        ..Tweaks::default()
    };
    let (_, answer) = auth.register_with(Algorithm::Es256, &ceremony(&c), &user, &wrong_rp);
    assert_eq!(other.post_json("/attestation/result", &answer).0, 400);

    // The main listener has no /metrics.
    let (head, _) = http_get(&format!("127.0.0.1:{}", server.port), "/metrics");
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");

    let (head, text) = http_get(&metrics, "/metrics");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/plain; version=0.0.4"),
        "{head}"
    );
    let Some(samples) = parse_metrics(&text) else {
        return;
    };
    let ceremonies = |ceremony: &str, outcome: &str| {
        sample(
            &samples,
            "keybound_ceremonies_total",
            &[("ceremony", ceremony), ("outcome", outcome)],
        )
    };
    assert_eq!(ceremonies("registration", "success"), 1.0, "{text}");
    assert_eq!(ceremonies("registration", "failure"), 1.0, "{text}");
    assert_eq!(ceremonies("authentication", "success"), 1.0, "{text}");
    assert_eq!(ceremonies("authentication", "failure"), 1.0, "{text}");
    assert_eq!(
        sample(
            &samples,
            "keybound_refusals_total",
            &[("kind", "authentication"), ("reason", "signature_invalid")]
        ),
        1.0,
        "{text}"
    );
    assert_eq!(
        sample(
            &samples,
            "keybound_refusals_total",
            &[("kind", "registration"), ("reason", "rp_id_hash_mismatch")]
        ),
        1.0,
        "{text}"
    );
    // Latency by route and status class: two sign-ins answered, one 2xx.
    assert_eq!(
        sample(
            &samples,
            "keybound_http_request_duration_seconds_count",
            &[
                ("route", "/assertion/result"),
                ("method", "POST"),
                ("status", "2xx")
            ]
        ),
        1.0,
        "{text}"
    );
    // The probe of the main listener's /metrics: unmatched, not a route.
    assert_eq!(
        sample(
            &samples,
            "keybound_http_request_duration_seconds_count",
            &[("route", "unmatched"), ("method", "GET"), ("status", "4xx")]
        ),
        1.0,
        "{text}"
    );
    // Group commit: batches and their commit times were observed.
    assert!(sample(&samples, "keybound_store_batch_transactions_count", &[]) >= 4.0);
    assert!(sample(&samples, "keybound_store_commit_seconds_count", &[]) >= 4.0);
    // Every batch opened waited (if at all) for the writer lock.
    assert!(sample(&samples, "keybound_store_lock_wait_seconds_count", &[]) >= 4.0);
    assert_eq!(sample(&samples, "keybound_store_readers_max", &[]), 8.0);
    // No label carries a client's text.
    for (name, labels, _) in &samples {
        for value in labels.values() {
            let value = value.as_str().unwrap_or_default();
            assert!(
                !value.contains("ada") && !value.contains("bob") && value != "/metrics",
                "{name} {value}"
            );
        }
    }
}

#[test]
fn metrics_are_off_unless_asked_for() {
    let server = Served::start(&[], "info");
    assert!(
        !server.banner.iter().any(|l| l.contains("metrics")),
        "{:?}",
        server.banner
    );
    let (head, body) = http_get(&format!("127.0.0.1:{}", server.port), "/metrics");
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");
    assert!(!body.contains("keybound_"), "{body}");
    // Text logs by default: a line per request, not a JSON object.
    let head = get_with_header(server.port, "/healthz", b"X-Request-Id: plain-text-1");
    assert!(head.starts_with("HTTP/1.1 200"));
    let deadline = Instant::now() + Duration::from_secs(10);
    let line = loop {
        let log = std::fs::read_to_string(server.log_path()).unwrap();
        if let Some(line) = log
            .lines()
            .find(|l| l.contains("plain-text-1") && l.contains("keybound::access"))
        {
            break line.to_owned();
        }
        assert!(Instant::now() < deadline, "no access line in {log}");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(serde_json::from_str::<Value>(&line).is_err(), "{line}");
    assert!(
        line.contains("route=/healthz") && line.contains("status=200"),
        "{line}"
    );
}

/// Requests refused by the rate limit are counted by route, and their
/// audit events by kind.
#[test]
fn rate_limited_requests_are_counted() {
    let server = Served::start(
        &[
            "--metrics-listen",
            "127.0.0.1:0",
            "--rate-limit-per-minute",
            "2",
        ],
        "warn",
    );
    let metrics = server.metrics_address();
    let mut browser = server.browser();
    let statuses: Vec<u16> = (0..6)
        .map(|_| {
            browser
                .post_json("/assertion/options", &json!({"username": ""}))
                .0
        })
        .collect();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert!(refused >= 1, "{statuses:?}");
    let (_, text) = http_get(&metrics, "/metrics");
    let Some(samples) = parse_metrics(&text) else {
        return;
    };
    assert_eq!(
        sample(
            &samples,
            "keybound_http_rate_limited_total",
            &[("route", "/assertion/options")]
        ),
        refused as f64,
        "{text}"
    );
    assert!(
        sample(
            &samples,
            "keybound_audit_events_total",
            &[("kind", "rate_limited"), ("outcome", "failure")]
        ) >= 1.0,
        "{text}"
    );
}
