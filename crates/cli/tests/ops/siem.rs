//! Issue 19: `keybound audit stream` delivers the audit log to a SIEM at
//! least once and resumes after a restart. Receivers: a file and standard
//! output; Debian's rsyslog (imtcp, plain and TLS with its gtls driver)
//! for RFC 5424 syslog; for OpenTelemetry a small Python `http.server`
//! receiver written here (a test double: no OpenTelemetry collector is
//! installable on this machine), which records each request body and
//! answers with the status the test sets. Without rsyslog the syslog tests
//! say so loudly and pass, except under CI.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::proxy::{free_port, tool};
use crate::support::tls::TestCa;
use crate::support::BIN;

/// Runs `keybound ARGS --data-dir DIR`: (success, stdout, stderr).
fn kb(dir: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env_remove("KEYBOUND_DATABASE_URL")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A data directory with an audit log of a few events.
fn data(people: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    assert!(kb(dir.path(), &["init"]).0);
    invite(dir.path(), people);
    dir
}

fn invite(dir: &Path, people: &[&str]) {
    for name in people {
        let (ok, _, err) = kb(dir, &["admin", "invite", name]);
        assert!(ok, "{err}");
    }
}

/// `audit export`, one line per event.
fn export(dir: &Path) -> Vec<String> {
    let (ok, out, err) = kb(dir, &["audit", "export"]);
    assert!(ok, "{err}");
    out.lines().map(str::to_owned).collect()
}

fn seq_of(line: &str) -> u64 {
    serde_json::from_str::<Value>(line).unwrap()["seq"]
        .as_u64()
        .unwrap()
}

/// What a receiver got, with the repeats of at-least-once delivery
/// dropped (a line whose seq is not past the last kept one): it must be
/// the export exactly, so none is missing and all are in order.
fn without_repeats(lines: &[String]) -> Vec<String> {
    let mut kept: Vec<String> = Vec::new();
    for line in lines {
        if kept.last().is_none_or(|last| seq_of(line) > seq_of(last)) {
            kept.push(line.clone());
        }
    }
    kept
}

fn lines_of(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Waits until `done` holds (10 s at most).
fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < Duration::from_secs(10), "{what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Streams to a file in two runs with events added between them: every
/// event once, in order, the file equal to `audit export`; a third run
/// adds nothing; `--from-start` sends everything again.
#[test]
fn a_file_stream_resumes_where_it_stopped_and_misses_nothing() {
    let dir = data(&["ada", "bob", "cy"]);
    let file = dir.path().join("siem.jsonl");
    let to = format!("file:{}", file.display());
    let (ok, _, err) = kb(
        dir.path(),
        &["audit", "stream", "--to", &to, "--max-events", "2"],
    );
    assert!(ok, "{err}");
    let all = export(dir.path());
    assert!(all.len() >= 3, "one event per invitation at least");
    assert_eq!(lines_of(&file), all[..2], "stopped after 2");

    invite(dir.path(), &["dee", "eve"]);
    let (ok, _, err) = kb(dir.path(), &["audit", "stream", "--to", &to]);
    assert!(ok, "{err}");
    let all = export(dir.path());
    assert_eq!(lines_of(&file), all, "resumed after the cursor");
    assert!(
        err.contains(&format!("acknowledged up to seq {}", all.len())),
        "{err}"
    );
    for line in &all {
        let event: Value = serde_json::from_str(line).unwrap();
        assert!(event["hash"].is_string() && event["prev_hash"].is_string());
    }

    let (ok, _, _) = kb(dir.path(), &["audit", "stream", "--to", &to]);
    assert!(ok);
    assert_eq!(lines_of(&file), all, "nothing new, nothing sent");

    let (ok, _, _) = kb(
        dir.path(),
        &["audit", "stream", "--to", &to, "--from-start"],
    );
    assert!(ok);
    assert_eq!(lines_of(&file), [all.clone(), all].concat());
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

/// Events deleted from the log's middle cannot be streamed, but the
/// stream says which are missing rather than pass over them in silence.
#[test]
fn a_gap_in_the_log_is_reported_while_streaming() {
    let dir = data(&["ada", "bob", "cy"]);
    let db = format!("sqlite://{}", dir.path().join("keybound.db").display());
    let (ok, _, err) = kb(
        dir.path(),
        &["audit", "stream", "--to", "-", "--max-events", "1"],
    );
    assert!(ok && !err.contains("WARNING"), "{err}");
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect(&db).await.unwrap();
        sqlx::query("DELETE FROM audit_events WHERE seq = 2")
            .execute(&mut conn)
            .await
            .unwrap();
    });
    let (ok, out, err) = kb(dir.path(), &["audit", "stream", "--to", "-"]);
    assert!(ok, "{err}");
    assert!(err.contains("WARNING: events 2..=2 are missing"), "{err}");
    let seqs: Vec<u64> = out.lines().map(seq_of).collect();
    assert_eq!(seqs, [3]);
}

/// `-` writes what `audit export` writes; two names keep two cursors.
#[test]
fn stdout_streams_the_export_lines_under_its_own_cursor() {
    let dir = data(&["ada"]);
    let (ok, out, err) = kb(dir.path(), &["audit", "stream", "--to", "-"]);
    assert!(ok, "{err}");
    let all = export(dir.path());
    assert_eq!(out.lines().collect::<Vec<_>>(), all);
    let (_, again, _) = kb(dir.path(), &["audit", "stream", "--to", "-"]);
    assert_eq!(again, "", "the cursor was kept");
    let (_, other, _) = kb(dir.path(), &["audit", "stream", "--to", "-", "--name", "b"]);
    assert_eq!(
        other.lines().collect::<Vec<_>>(),
        all,
        "another name starts over"
    );
}

/// `--follow` delivers events appended while it runs, and stops on
/// SIGTERM; a stream killed with SIGKILL and started again has delivered
/// every event, in order (possibly some twice).
#[test]
fn a_followed_stream_picks_up_new_events_and_survives_a_kill() {
    let dir = data(&["ada"]);
    let file = dir.path().join("siem.jsonl");
    let to = format!("file:{}", file.display());
    let follow = |dir: &Path| {
        Command::new(BIN)
            .args(["audit", "stream", "--to", &to, "--follow", "--data-dir"])
            .arg(dir)
            .env_remove("KEYBOUND_DATABASE_URL")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut child = follow(dir.path());
    let n = export(dir.path()).len();
    wait_for("the first events", || lines_of(&file).len() >= n);
    invite(dir.path(), &["bob"]);
    let all = export(dir.path());
    wait_for("the event appended while following", || {
        lines_of(&file).len() >= all.len()
    });
    child.kill().unwrap();
    child.wait().unwrap();

    invite(dir.path(), &["cy", "dee"]);
    let mut child = follow(dir.path());
    let all = export(dir.path());
    wait_for("the events after the kill", || {
        without_repeats(&lines_of(&file)) == all
    });
    rustix_kill_term(&child);
    let status = child.wait().unwrap();
    assert!(status.success(), "SIGTERM ends a followed stream cleanly");
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(err.contains("acknowledged up to seq"), "{err}");
}

fn rustix_kill_term(child: &Child) {
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

/// Unknown schemes, a missing port, an oversized name, TLS without a CA:
/// refused with a message, never a panic, and nothing delivered.
#[test]
fn hostile_stream_arguments_are_refused_in_words() {
    let dir = data(&[]);
    let long = "n".repeat(10_000);
    for (args, expected) in [
        (vec!["--to", "gopher://h:1"], "unknown scheme"),
        (vec!["--to", "syslog+udp://127.0.0.1:514"], "unknown scheme"),
        (vec!["--to", "syslog+tcp://127.0.0.1"], "no port"),
        (vec!["--to", "otlp+http://127.0.0.1/v1/logs"], "no port"),
        (vec!["--to", "-", "--name", &long], "longer than 200"),
        (vec!["--to", "syslog+tls://127.0.0.1:1"], "--ca-file"),
        (vec!["--to", "relative"], "relative URL"),
    ] {
        let mut all = vec!["audit", "stream"];
        all.extend(args.iter().copied());
        let (ok, out, err) = kb(dir.path(), &all);
        assert!(!ok, "{args:?} accepted");
        assert!(err.contains(expected), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert_eq!(out, "", "{args:?}");
    }
}

/// An OTLP/HTTP receiver (Python's http.server): each request body is
/// saved as `N-STATUS.json` in `dir`, answered with the status in
/// `dir/status` (200 when absent).
struct Otlp {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

const OTLP_RECEIVER: &str = r#"
import http.server, os, sys
d = sys.argv[1]
class H(http.server.BaseHTTPRequestHandler):
    n = 0
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        try:
            status = int(open(os.path.join(d, "status")).read())
        except OSError:
            status = 200
        H.n += 1
        name = "%04d-%d-%s.json" % (H.n, status, self.path.replace("/", "_"))
        open(os.path.join(d, name), "wb").write(body)
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
"#;

impl Otlp {
    fn start() -> Otlp {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new("python3")
            .args(["-c", OTLP_RECEIVER])
            .arg(dir.path())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().parse().unwrap();
        Otlp { child, port, dir }
    }

    fn answer(&self, status: u16) {
        std::fs::write(self.dir.path().join("status"), status.to_string()).unwrap();
    }

    /// The requests received: (status answered, path, body), in order.
    fn requests(&self) -> Vec<(u16, String, Value)> {
        let mut names: Vec<String> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".json"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|n| {
                let parts: Vec<&str> = n.trim_end_matches(".json").splitn(3, '-').collect();
                let body = std::fs::read(self.dir.path().join(n)).unwrap();
                (
                    parts[1].parse().unwrap(),
                    parts[2].replace('_', "/"),
                    serde_json::from_slice(&body).unwrap(),
                )
            })
            .collect()
    }

    /// The export lines in the bodies of the requests answered 2xx.
    fn acknowledged_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for (status, _, body) in self.requests() {
            if status / 100 != 2 {
                continue;
            }
            for record in body["resourceLogs"][0]["scopeLogs"][0]["logRecords"]
                .as_array()
                .unwrap()
            {
                let line = record["body"]["stringValue"].as_str().unwrap().to_owned();
                let attributes = record["attributes"].as_array().unwrap();
                assert_eq!(attributes[0]["key"], "keybound.seq");
                assert_eq!(
                    attributes[0]["value"]["intValue"],
                    seq_of(&line).to_string()
                );
                lines.push(line);
            }
        }
        lines
    }
}

impl Drop for Otlp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// OTLP/HTTP JSON to /v1/logs: a receiver answering 500 gets the page
/// again and again and the run fails with the cursor unmoved; once it
/// answers 200, it has every event from the first, each once, in order,
/// the body of each record the export line.
#[test]
fn otlp_delivery_counts_only_2xx_and_resumes_from_the_cursor() {
    let dir = data(&["ada", "bob"]);
    let otlp = Otlp::start();
    otlp.answer(500);
    let to = format!("otlp+http://127.0.0.1:{}/v1/logs", otlp.port);
    let (ok, _, err) = kb(dir.path(), &["audit", "stream", "--to", &to]);
    assert!(!ok, "a refusing receiver fails the run");
    assert!(err.contains("500"), "{err}");
    assert!(err.contains("acknowledged up to seq 0"), "{err}");
    let refused = otlp.requests();
    assert!(refused.len() >= 2, "retried: {}", refused.len());
    assert!(refused.iter().all(|(s, p, _)| *s == 500 && p == "/v1/logs"));

    otlp.answer(200);
    let (ok, _, err) = kb(dir.path(), &["audit", "stream", "--to", &to]);
    assert!(ok, "{err}");
    let all = export(dir.path());
    assert_eq!(otlp.acknowledged_lines(), all);
    let first = &otlp.requests()[refused.len()].2;
    let record = &first["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0];
    assert!(record["timeUnixNano"].as_str().unwrap().len() >= 19);
    assert_eq!(record["severityText"], "INFO");

    invite(dir.path(), &["cy"]);
    let (ok, _, err) = kb(dir.path(), &["audit", "stream", "--to", &to]);
    assert!(ok, "{err}");
    assert_eq!(otlp.acknowledged_lines(), export(dir.path()));
}

/// rsyslogd, unprivileged in the foreground, receiving on `port` (TLS
/// with its gtls driver when `tls` holds the CA, certificate and key PEM)
/// and writing each message's parsed RFC 5424 fields and raw text to
/// `out.log`.
struct Rsyslog {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
}

impl Rsyslog {
    fn start(binary: &Path, tls: Option<(&str, &str, &str)>) -> Rsyslog {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display();
        let port = free_port();
        let (global, driver) = match tls {
            Some((ca, cert, key)) => {
                std::fs::write(dir.path().join("ca.pem"), ca).unwrap();
                std::fs::write(dir.path().join("cert.pem"), cert).unwrap();
                std::fs::write(dir.path().join("key.pem"), key).unwrap();
                (
                    format!(
                        " DefaultNetstreamDriver=\"gtls\" \
                         DefaultNetstreamDriverCAFile=\"{d}/ca.pem\" \
                         DefaultNetstreamDriverCertFile=\"{d}/cert.pem\" \
                         DefaultNetstreamDriverKeyFile=\"{d}/key.pem\""
                    ),
                    " StreamDriver.Name=\"gtls\" StreamDriver.Mode=\"1\" \
                     StreamDriver.AuthMode=\"anon\""
                        .to_owned(),
                )
            }
            None => (String::new(), String::new()),
        };
        let config = format!(
            "global(workDirectory=\"{d}\"{global})\n\
             module(load=\"imtcp\"{driver})\n\
             template(name=\"fields\" type=\"string\" \
             string=\"%protocol-version%|%app-name%|%msgid%|%pri%|%rawmsg%\\n\")\n\
             ruleset(name=\"siem\") {{ action(type=\"omfile\" file=\"{d}/out.log\" \
             template=\"fields\" flushOnTXEnd=\"on\" asyncWriting=\"off\") }}\n\
             input(type=\"imtcp\" port=\"{port}\" ruleset=\"siem\")\n"
        );
        let conf = dir.path().join("rsyslog.conf");
        std::fs::write(&conf, config).unwrap();
        let child = Command::new(binary)
            .args(["-n", "-f"])
            .arg(&conf)
            .arg("-i")
            .arg(dir.path().join("rsyslogd.pid"))
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "rsyslogd never listened"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Rsyslog { child, dir, port }
    }

    fn out(&self) -> PathBuf {
        self.dir.path().join("out.log")
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until rsyslog wrote `n` messages; checks each was parsed as RFC
/// 5424 from keybound with the kind as MSGID and priority authpriv, and
/// returns the export lines they carry.
fn received(rsyslog: &Rsyslog, n: usize) -> Vec<String> {
    wait_for("rsyslog writes every message", || {
        lines_of(&rsyslog.out()).len() >= n
    });
    lines_of(&rsyslog.out())
        .iter()
        .map(|line| {
            let fields: Vec<&str> = line.splitn(5, '|').collect();
            assert_eq!(fields[..2], ["1", "keybound"], "{line}");
            let raw = fields[4];
            let (header, json) = raw.split_once("] ").unwrap();
            let event: Value = serde_json::from_str(json).unwrap();
            assert_eq!(fields[2], event["kind"].as_str().unwrap(), "{line}");
            let pri: u32 = fields[3].parse().unwrap();
            assert_eq!(pri / 8, 10, "authpriv: {line}");
            assert!(
                header.ends_with(&format!(
                    "[keybound@32473 seq=\"{}\" hash=\"{}\"",
                    event["seq"],
                    event["hash"].as_str().unwrap()
                )),
                "{line}"
            );
            json.to_owned()
        })
        .collect()
}

/// RFC 5424 over TCP to rsyslog, octet-counting and LF framing: with no
/// receiver the run fails and the cursor stays; once rsyslog listens it
/// receives every event from the first, in order, each the export line.
#[test]
fn syslog_over_tcp_reaches_rsyslog_in_both_framings_and_resumes() {
    let Some(binary) = tool("/usr/sbin/rsyslogd", "the rsyslog TCP test") else {
        return;
    };
    let dir = data(&["ada", "bob"]);
    let rsyslog = Rsyslog::start(&binary, None);
    let to = format!("syslog+tcp://127.0.0.1:{}", rsyslog.port);
    let closed = format!("syslog+tcp://127.0.0.1:{}", free_port());
    let (ok, _, err) = kb(
        dir.path(),
        &["audit", "stream", "--to", &closed, "--name", "siem"],
    );
    assert!(!ok, "nothing listening: {err}");
    assert!(err.contains("acknowledged up to seq 0"), "{err}");

    let (ok, _, err) = kb(
        dir.path(),
        &["audit", "stream", "--to", &to, "--name", "siem"],
    );
    assert!(ok, "{err}");
    let all = export(dir.path());
    assert_eq!(received(&rsyslog, all.len()), all, "from the first event");

    invite(dir.path(), &["cy"]);
    let lf = format!("{to}?framing=lf");
    let (ok, _, err) = kb(
        dir.path(),
        &["audit", "stream", "--to", &lf, "--name", "siem"],
    );
    assert!(ok, "{err}");
    let all = export(dir.path());
    assert_eq!(received(&rsyslog, all.len()), all, "LF framing, resumed");
}

/// RFC 5425 syslog over TLS to rsyslog's gtls driver: the server's CA
/// given by `--ca-file` delivers everything; another CA fails the
/// handshake and delivers nothing.
#[test]
fn syslog_over_tls_reaches_rsyslog_only_with_its_ca() {
    let Some(binary) = tool("/usr/sbin/rsyslogd", "the rsyslog TLS test") else {
        return;
    };
    let gtls = format!(
        "/usr/lib/{}-linux-gnu/rsyslog/lmnsd_gtls.so",
        std::env::consts::ARCH
    );
    if tool(&gtls, "the rsyslog TLS test (Debian's rsyslog-gnutls)").is_none() {
        return;
    }
    let dir = data(&["ada"]);
    let ca = TestCa::new();
    let leaf = ca.leaf_for(&["localhost", "127.0.0.1"]);
    let ca_pem = pem(&ca.der());
    let rsyslog = Rsyslog::start(&binary, Some((&ca_pem, &leaf.cert_pem, &leaf.key_pem)));
    let to = format!("syslog+tls://127.0.0.1:{}", rsyslog.port);

    let other = dir.path().join("other-ca.pem");
    std::fs::write(&other, pem(&TestCa::new().der())).unwrap();
    let (ok, _, err) = kb(
        dir.path(),
        &[
            "audit",
            "stream",
            "--to",
            &to,
            "--ca-file",
            other.to_str().unwrap(),
        ],
    );
    assert!(!ok, "an untrusted server: {err}");
    assert!(err.contains("handshake"), "{err}");

    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &ca_pem).unwrap();
    let (ok, _, err) = kb(
        dir.path(),
        &[
            "audit",
            "stream",
            "--to",
            &to,
            "--ca-file",
            ca_file.to_str().unwrap(),
        ],
    );
    assert!(ok, "{err}");
    let all = export(dir.path());
    assert_eq!(received(&rsyslog, all.len()), all);
}

fn pem(der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let body: Vec<String> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| String::from_utf8(c.to_vec()).unwrap())
        .collect();
    format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        body.join("\n")
    )
}
