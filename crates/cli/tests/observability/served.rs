//! `keybound serve` for these tests, and what they share: ceremonies
//! through the soft authenticator, raw requests, the JSON log.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use keybound_soft_authenticator::{b64, Algorithm, Authenticator, Credential, Tweaks};
use serde_json::{json, Value};

use crate::support::http::{ceremony, challenge, decode, Browser, ORIGIN, RP_ID};
use crate::support::BIN;

/// `keybound serve` with stderr (the log) in a file and the banner read.
pub(crate) struct Served {
    child: Child,
    dir: tempfile::TempDir,
    pub(crate) port: u16,
    /// The banner's lines (up to the invitation hint).
    pub(crate) banner: Vec<String>,
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
    pub(crate) fn start(extra: &[&str], log: &str) -> Served {
        let dir = tempfile::tempdir().unwrap();
        let stderr = std::fs::File::create(dir.path().join("stderr.log")).unwrap();
        Served::start_in(dir, extra, log, stderr.into())
    }

    /// With stderr a pipe that nobody reads (held open, never drained).
    pub(crate) fn start_with_unread_stderr(extra: &[&str], log: &str) -> Served {
        let dir = tempfile::tempdir().unwrap();
        Served::start_in(dir, extra, log, Stdio::piped())
    }

    fn start_in(dir: tempfile::TempDir, extra: &[&str], log: &str, stderr: Stdio) -> Served {
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

    pub(crate) fn browser(&self) -> Browser {
        Browser {
            port: self.port,
            cookies: Vec::new(),
        }
    }

    /// The metrics listener's address, as the banner announces it.
    pub(crate) fn metrics_address(&self) -> String {
        self.banner
            .iter()
            .find_map(|l| l.strip_prefix("metrics: http://"))
            .and_then(|rest| rest.strip_suffix("/metrics"))
            .unwrap_or_else(|| panic!("no metrics address in {:?}", self.banner))
            .to_owned()
    }

    pub(crate) fn log_path(&self) -> PathBuf {
        self.dir.path().join("stderr.log")
    }

    /// An admin invitation's token for `name`, from the CLI.
    pub(crate) fn invite(&self, name: &str) -> String {
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
    pub(crate) fn json_lines_until(&self, done: impl Fn(&Value) -> bool) -> Vec<Value> {
        self.json_lines_until_all(|lines| lines.iter().any(&done))
    }

    /// The log's lines once they satisfy `done` together. Lines are
    /// written by the log's own thread, so they may trail the responses.
    pub(crate) fn json_lines_until_all(&self, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let lines = json_lines(&self.log_path());
            if done(&lines) || Instant::now() > deadline {
                return lines;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Every line of the log, each of which must be one JSON object.
pub(crate) fn json_lines(path: &Path) -> Vec<Value> {
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
pub(crate) fn enrol(
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
pub(crate) fn sign_in(
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
pub(crate) fn get_with_header(port: u16, path: &str, header: &[u8]) -> String {
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

pub(crate) fn field<'a>(line: &'a Value, name: &str) -> &'a Value {
    &line[name]
}

pub(crate) fn is_access(line: &Value, route: &str, status: u64) -> bool {
    field(line, "target") == "keybound::access"
        && field(line, "route") == route
        && field(line, "status") == status
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
