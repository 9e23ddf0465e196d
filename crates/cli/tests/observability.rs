//! What an operator sees of a running server, through the binary: the JSON
//! log of a failed ceremony (its reason, never its challenge, cookies or
//! tokens), the access log, hostile request ids, and `/metrics` parsed by
//! Prometheus's own Python parser after ceremonies that succeed and fail.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use keybound_soft_authenticator::{b64, Algorithm, Authenticator, Credential, Tweaks};
use serde_json::{json, Value};
use support::http::{ceremony, challenge, decode, Browser, ORIGIN, RP_ID};
use support::BIN;

/// `keybound serve` with stderr (the log) in a file and the banner read.
struct Served {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
    /// The banner's lines (up to the invitation hint).
    banner: Vec<String>,
    /// The rest of stdout, kept so the server's writes never fail.
    _stdout: std::sync::mpsc::Receiver<String>,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    fn start(extra: &[&str], log: &str) -> Served {
        let dir = tempfile::tempdir().unwrap();
        let stderr = std::fs::File::create(dir.path().join("stderr.log")).unwrap();
        let mut child = Command::new(BIN)
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--rp-id",
                RP_ID,
                "--origin",
                ORIGIN,
                // Plain HTTP to an https origin, as behind a TLS proxy.
                "--allow-insecure-origin",
            ])
            .args(extra)
            .arg("--data-dir")
            .arg(dir.path())
            .env_remove("KEYBOUND_DATABASE_URL")
            .env_remove("KEYBOUND_LOG_FORMAT")
            .env_remove("KEYBOUND_METRICS_LISTEN")
            .env("KEYBOUND_LOG", log)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap();
        // The banner is read on a thread: whatever lines it has, the test
        // takes those printed before it falls quiet (or the last one).
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let (lines, banner_lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        let mut banner = vec![banner_lines
            .recv_timeout(Duration::from_secs(30))
            .expect("the server prints its address")];
        while let Ok(line) = banner_lines.recv_timeout(Duration::from_millis(500)) {
            let done = line.starts_with("invite the first admin");
            banner.push(line);
            if done {
                break;
            }
        }
        let port = banner
            .first()
            .and_then(|l| l.split("127.0.0.1:").nth(1))
            .and_then(|r| r.split_whitespace().next())
            .unwrap_or_else(|| panic!("no address in {banner:?}"))
            .parse()
            .unwrap();
        Served {
            child,
            dir,
            port,
            banner,
            _stdout: banner_lines,
        }
    }

    fn browser(&self) -> Browser {
        Browser {
            port: self.port,
            cookies: Vec::new(),
        }
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("stderr.log")
    }

    /// An admin invitation's token for `name`, from the CLI.
    fn invite(&self, name: &str) -> String {
        let out = Command::new(BIN)
            .args(["admin", "invite", name])
            .env("KEYBOUND_RP_ID", RP_ID)
            .env("KEYBOUND_ORIGIN", ORIGIN)
            .arg("--data-dir")
            .arg(self.dir.path())
            .env_remove("KEYBOUND_DATABASE_URL")
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let url = String::from_utf8(out.stdout).unwrap();
        url.trim().split("token=").nth(1).unwrap().to_owned()
    }

    /// The log's lines once one satisfies `done` (the server writes them
    /// as requests finish), each parsed as JSON.
    fn json_lines_until(&self, done: impl Fn(&Value) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let lines = json_lines(&self.log_path());
            if lines.iter().any(&done) || Instant::now() > deadline {
                return lines;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Every line of the log, each of which must be one JSON object.
fn json_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| {
            serde_json::from_str::<Value>(line)
                .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line:?}"))
        })
        .collect()
}

/// Enrols `name` from an invitation: the credential, the user handle and
/// every secret the ceremony handled (token, challenge).
fn enrol(
    server: &Served,
    browser: &mut Browser,
    auth: &Authenticator,
    name: &str,
) -> (Credential, Vec<String>) {
    let token = server.invite(name);
    let (status, options) = browser.post_json(
        "/attestation/options",
        &json!({"username": name, "token": token}),
    );
    assert_eq!(status, 200, "{options}");
    let user = decode(options["user"]["id"].as_str().unwrap());
    let c = challenge(&options);
    let (cred, answer) = auth.register(Algorithm::Es256, &ceremony(&c), &user);
    let (status, reply) = browser.post_json("/attestation/result", &answer);
    assert_eq!(status, 200, "{reply}");
    (cred, vec![token, b64(&c)])
}

/// One sign-in; its status and challenge.
fn sign_in(
    browser: &mut Browser,
    auth: &Authenticator,
    cred: &mut Credential,
    name: &str,
    tweaks: &Tweaks,
) -> (u16, String) {
    let (status, options) = browser.post_json("/assertion/options", &json!({"username": name}));
    assert_eq!(status, 200, "{options}");
    let c = challenge(&options);
    let answer = auth.assert_with(cred, &ceremony(&c), tweaks);
    (browser.post_json("/assertion/result", &answer).0, b64(&c))
}

/// A GET with one extra header line (raw bytes); the response head.
fn get_with_header(port: u16, path: &str, header: &[u8]) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: kb.test\r\n").into_bytes();
    request.extend_from_slice(header);
    request.extend_from_slice(b"\r\nConnection: close\r\n\r\n");
    s.write_all(&request).unwrap();
    let mut reply = Vec::new();
    let _ = s.read_to_end(&mut reply);
    let text = String::from_utf8_lossy(&reply).into_owned();
    text.split("\r\n\r\n").next().unwrap_or_default().to_owned()
}

fn field<'a>(line: &'a Value, name: &str) -> &'a Value {
    &line[name]
}

fn is_access(line: &Value, route: &str, status: u64) -> bool {
    field(line, "target") == "keybound::access"
        && field(line, "route") == route
        && field(line, "status") == status
}

#[test]
fn a_failed_sign_in_is_logged_with_its_reason_and_without_its_secrets() {
    let server = Served::start(&["--log-format", "json"], "info");
    let auth = Authenticator::default();
    let mut browser = server.browser();
    let (mut cred, mut secrets) = enrol(&server, &mut browser, &auth, "ada");

    // A signed-in browser holds a session; a fresh one signs in and
    // then fails a second sign-in (a bad signature).
    let mut other = server.browser();
    let (status, c) = sign_in(&mut other, &auth, &mut cred, "ada", &Tweaks::default());
    assert_eq!(status, 200);
    secrets.push(c);
    let bad = Tweaks {
        corrupt_signature: true,
        ..Tweaks::default()
    };
    let mut third = server.browser();
    let (status, c) = sign_in(&mut third, &auth, &mut cred, "ada", &bad);
    assert_eq!(status, 400);
    secrets.push(c);
    // A malformed request: refused before any use case, so no audit
    // event; the access line says why.
    assert_eq!(third.post("/assertion/options", b"{not json").0, 400);
    // An unmatched path with a token in its query.
    let head = get_with_header(server.port, "/no/such/page?token=SEKRIT0123", b"X-Trace: 1");
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");

    for jar in [&browser.cookies, &other.cookies, &third.cookies] {
        for (name, value) in jar.iter() {
            assert!(value.len() >= 16, "{name}={value}");
            secrets.push(value.clone());
        }
    }
    assert!(
        browser
            .cookies
            .iter()
            .chain(&other.cookies)
            .any(|(k, _)| k == "kb_session"),
        "a session cookie to look for"
    );
    secrets.push(b64(&cred.id));
    secrets.push("SEKRIT0123".to_owned());

    let lines = server.json_lines_until(|l| is_access(l, "unmatched", 404));
    let refused = lines
        .iter()
        .find(|l| {
            field(l, "target") == "keybound::audit"
                && field(l, "kind") == "authentication"
                && field(l, "outcome") == "failure"
        })
        .unwrap_or_else(|| panic!("no failed authentication in {lines:#?}"));
    assert_eq!(field(refused, "reason"), "signature_invalid", "{refused}");
    assert_eq!(refused["span"]["route"], "/assertion/result", "{refused}");
    let credential = field(refused, "credential").as_str().unwrap();
    assert_eq!(credential.len(), 8, "a prefix only: {refused}");
    assert!(b64(&cred.id).starts_with(credential));

    // The access log: one line per request, with route, status, latency
    // and the request id its span carries.
    let access = lines
        .iter()
        .find(|l| is_access(l, "/assertion/result", 400))
        .unwrap_or_else(|| panic!("no access line in {lines:#?}"));
    assert!(
        field(access, "latency_ms").as_f64().unwrap() > 0.0,
        "{access}"
    );
    assert_eq!(field(access, "refusal"), "signature_invalid", "{access}");
    assert_eq!(field(access, "method"), "POST");
    assert_eq!(field(access, "client"), "127.0.0.1");
    assert_eq!(&access["span"]["request_id"], field(access, "request_id"));
    assert_eq!(
        access["span"]["request_id"], refused["span"]["request_id"],
        "the refusal is logged inside its request's span"
    );
    // The successful sign-in's request names who signed in.
    assert!(
        lines
            .iter()
            .any(|l| is_access(l, "/assertion/result", 200) && l["span"]["identity"] == "ada"),
        "{lines:#?}"
    );
    assert!(lines.iter().any(|l| is_access(l, "unmatched", 404)));
    assert!(
        lines.iter().any(|l| is_access(l, "/assertion/options", 400)
            && field(l, "refusal") == "malformed_request"),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .filter(|l| is_access(l, "/assertion/result", 200))
            .all(|l| l.get("refusal").is_none()),
        "a success names no refusal"
    );

    let all = std::fs::read_to_string(server.log_path()).unwrap();
    for secret in &secrets {
        assert!(!all.contains(secret.as_str()), "{secret} is in the log");
    }
    // Not even under another spelling (standard base64, hex).
    assert!(!all.contains(&hex(&cred.id)));
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn hostile_request_ids_are_not_logged_as_given() {
    let server = Served::start(&["--log-format", "json"], "info");
    let sane = get_with_header(server.port, "/healthz", b"X-Request-Id: trace-0123456789");
    assert!(
        sane.to_ascii_lowercase()
            .contains("x-request-id: trace-0123456789"),
        "{sane}"
    );
    let huge = format!("X-Request-Id: {}", "H".repeat(4000));
    let tab = b"X-Request-Id: abc\tFORGED".to_vec();
    let high = b"X-Request-Id: abc\xffFORGED".to_vec();
    let quoted = br#"X-Request-Id: a","level":"ERROR"#.to_vec();
    for header in [huge.as_bytes().to_vec(), tab, high, quoted] {
        let head = get_with_header(server.port, "/healthz", &header);
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(!head.contains("HHHH") && !head.contains("FORGED"), "{head}");
    }
    // Other control characters never get past hyper.
    let head = get_with_header(
        server.port,
        "/healthz",
        b"X-Request-Id: abc\x1b[31mFORGED\x07",
    );
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");
    let lines = server.json_lines_until(|l| {
        field(l, "target") == "keybound::access"
            && field(l, "request_id")
                .as_str()
                .is_some_and(|id| id.len() == 32)
    });
    let ids: Vec<&str> = lines
        .iter()
        .filter(|l| is_access(l, "/healthz", 200))
        .map(|l| field(l, "request_id").as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 5, "{lines:#?}");
    assert_eq!(ids[0], "trace-0123456789");
    for id in &ids[1..] {
        assert!(
            id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()),
            "a fresh id, not the client's: {id}"
        );
    }
    let all = std::fs::read_to_string(server.log_path()).unwrap();
    assert!(!all.contains("HHHHHHHH"), "the huge id is not logged");
    assert!(!all.contains("FORGED") && !all.contains('\u{1b}'));
    assert!(!all.contains(r#""level":"ERROR"#));
}

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
    let metrics = server
        .banner
        .iter()
        .find_map(|l| l.strip_prefix("metrics: http://"))
        .and_then(|rest| rest.strip_suffix("/metrics"))
        .unwrap_or_else(|| panic!("no metrics address in {:?}", server.banner))
        .to_owned();
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

/// Events that call for attention reach a log filtered at `warn`: a
/// counter regression (a suspected clone, high severity) and the
/// quarantined credential's next attempt (warning).
#[test]
fn flagged_audit_events_are_warnings() {
    let server = Served::start(&["--log-format", "json"], "warn");
    let auth = Authenticator::default();
    let mut browser = server.browser();
    let (mut cred, _) = enrol(&server, &mut browser, &auth, "ada");
    for _ in 0..3 {
        assert_eq!(
            sign_in(&mut browser, &auth, &mut cred, "ada", &Tweaks::default()).0,
            200
        );
    }
    let clone = Tweaks {
        sign_count: Some(2),
        ..Tweaks::default()
    };
    assert_eq!(sign_in(&mut browser, &auth, &mut cred, "", &clone).0, 400);
    let again = sign_in(&mut browser, &auth, &mut cred, "ada", &Tweaks::default());
    assert_eq!(again.0, 400);

    let flagged = |l: &Value, reason: &str| {
        field(l, "target") == "keybound::audit" && field(l, "reason") == reason
    };
    let lines = server.json_lines_until(|l| flagged(l, "credential_quarantined"));
    let clone = lines
        .iter()
        .find(|l| flagged(l, "clone_suspected"))
        .unwrap_or_else(|| panic!("no clone line in {lines:#?}"));
    assert_eq!(field(clone, "level"), "WARN", "{clone}");
    assert_eq!(field(clone, "severity"), "high", "{clone}");
    let quarantined = lines
        .iter()
        .find(|l| flagged(l, "credential_quarantined"))
        .unwrap();
    assert_eq!(field(quarantined, "level"), "WARN", "{quarantined}");
    assert_eq!(field(quarantined, "severity"), "warning", "{quarantined}");
    // Routine lines (the successful sign-ins, the access log) are info:
    // filtered out here.
    assert!(
        lines.iter().all(|l| field(l, "level") != "INFO"),
        "{lines:#?}"
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
    let metrics = server
        .banner
        .iter()
        .find_map(|l| l.strip_prefix("metrics: http://"))
        .and_then(|rest| rest.strip_suffix("/metrics"))
        .unwrap()
        .to_owned();
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
