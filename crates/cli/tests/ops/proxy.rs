//! keybound behind Debian's nginx (and Caddy), as the README configures
//! them: ceremonies work through the proxy, and the audit log records the
//! client's address from `X-Forwarded-For` only when the proxy is declared
//! with `--trusted-proxy`. The client connects from 127.0.0.2 and the
//! proxies from 127.0.0.1, so the two addresses differ on one machine.
//!
//! Without nginx or caddy the tests say so loudly and pass, except under CI
//! (`CI` set), where a missing proxy fails them.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use keybound_soft_authenticator::{Algorithm, Authenticator, Ceremony};
use serde_json::{json, Value};

use crate::support::http::{challenge, decode};
use crate::support::Server;

const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

/// The proxy's binary, or `None` (after a loud message) outside CI.
pub(crate) fn tool(path: &str, test: &str) -> Option<PathBuf> {
    let found = Path::new(path);
    if found.exists() {
        return Some(found.to_owned());
    }
    let message = format!("{path} not found (install Debian's package)");
    if std::env::var_os("CI").is_some() {
        panic!("{message}: the reverse-proxy tests must run in CI");
    }
    eprintln!(
        "\n{}\n!!! SKIPPING {test}: {message}\n{}\n",
        "!".repeat(78),
        "!".repeat(78)
    );
    None
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A proxy process, stopped when dropped.
pub(crate) struct Proxy {
    pub(crate) child: Child,
    pub(crate) port: u16,
    pub(crate) _dir: tempfile::TempDir,
}

impl Drop for Proxy {
    /// nginx runs as one process here (`master_process off`) and Caddy is
    /// one: killing it leaves nothing behind (a leftover worker would keep
    /// the test's inherited file descriptors open).
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proxy {
    pub(crate) fn wait_listening(self) -> Proxy {
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the proxy never listened"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        self
    }
}

/// The nginx configuration the README shows, on `port`, to keybound on
/// `upstream`; everything nginx writes stays in `dir`.
fn nginx_config(dir: &Path, port: u16, upstream: u16) -> String {
    let d = dir.display();
    format!(
        "daemon off;\nmaster_process off;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
         events {{ worker_connections 64; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
           fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
           server {{\n    listen 127.0.0.1:{port};\n    location / {{\n\
               proxy_pass http://127.0.0.1:{upstream};\n\
               proxy_http_version 1.1;\n\
               proxy_set_header Host $host;\n\
               proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n\
               proxy_set_header X-Forwarded-Proto $scheme;\n\
           }}\n  }}\n}}\n"
    )
}

fn nginx(binary: &Path, port: u16, upstream: u16) -> Proxy {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("nginx.conf");
    std::fs::write(&config, nginx_config(dir.path(), port, upstream)).unwrap();
    let child = Command::new(binary)
        .arg("-p")
        .arg(dir.path())
        .arg("-c")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Proxy {
        child,
        port,
        _dir: dir,
    }
    .wait_listening()
}

/// The Caddyfile the README shows.
fn caddyfile(port: u16, upstream: u16) -> String {
    format!(
        "{{\n  admin off\n  auto_https off\n}}\n\
         http://localhost:{port} {{\n  bind 127.0.0.1\n  reverse_proxy 127.0.0.1:{upstream}\n}}\n"
    )
}

fn caddy(binary: &Path, port: u16, upstream: u16) -> Proxy {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("Caddyfile");
    std::fs::write(&config, caddyfile(port, upstream)).unwrap();
    let child = Command::new(binary)
        .args(["run", "--adapter", "caddyfile", "--config"])
        .arg(&config)
        .env("HOME", dir.path())
        .env("XDG_DATA_HOME", dir.path())
        .env("XDG_CONFIG_HOME", dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Proxy {
        child,
        port,
        _dir: dir,
    }
    .wait_listening()
}

/// A browser on another address (127.0.0.2) than the proxies; it may add
/// an `X-Forwarded-For` of its own, as anyone can.
struct Client {
    port: u16,
    cookies: Vec<(String, String)>,
    forged: Option<&'static str>,
}

/// A connection from 127.0.0.2 (std cannot bind before connecting).
fn connect_from(from: IpAddr, port: u16) -> TcpStream {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap();
    let stream = runtime.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind((from, 0).into()).unwrap();
        let stream = socket
            .connect((Ipv4Addr::LOCALHOST, port).into())
            .await
            .unwrap();
        stream.into_std().unwrap()
    });
    stream.set_nonblocking(false).unwrap();
    stream
}

impl Client {
    fn post(&mut self, path: &str, body: &Value) -> (u16, Value) {
        let mut s = connect_from(CLIENT, self.port);
        let body = body.to_string();
        let cookie: Vec<String> = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let forged = self
            .forged
            .map(|ip| format!("X-Forwarded-For: {ip}\r\n"))
            .unwrap_or_default();
        write!(
            s,
            "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
             Sec-Fetch-Site: same-origin\r\n{forged}Content-Length: {}\r\nCookie: {}\r\n\
             Connection: close\r\n\r\n{body}",
            body.len(),
            cookie.join("; ")
        )
        .unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).unwrap();
        let text = String::from_utf8_lossy(&raw).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
        let chunked = head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked");
        let body = if chunked {
            dechunk(body)
        } else {
            body.to_owned()
        };
        for line in head.lines() {
            let lower = line.to_ascii_lowercase();
            if lower.starts_with("set-cookie: ") {
                let (pair, _) = line
                    .get("set-cookie: ".len()..)
                    .unwrap()
                    .split_once(';')
                    .unwrap();
                let (k, v) = pair.split_once('=').unwrap();
                self.cookies.retain(|(name, _)| name != k);
                self.cookies.push((k.to_owned(), v.to_owned()));
            }
        }
        (status, serde_json::from_str(&body).unwrap_or(Value::Null))
    }
}

/// A chunked body (Caddy re-chunks what it proxies) as one string.
pub(crate) fn dechunk(mut rest: &str) -> String {
    let mut body = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap();
        if size == 0 {
            break;
        }
        body.push_str(after.get(..size).unwrap());
        rest = after.get(size + 2..).unwrap();
    }
    body
}

/// Enrols `name` from an invitation, then signs in, through `port`, as a
/// page at `origin` would; both must succeed.
fn enrol_and_sign_in(
    server: &Server,
    port: u16,
    origin: &str,
    name: &str,
    forged: Option<&'static str>,
) {
    let mut client = Client {
        port,
        cookies: Vec::new(),
        forged,
    };
    let (ok, url) = server.cli(&["admin", "invite", name]);
    assert!(ok);
    let token = url.trim().split("token=").nth(1).unwrap().to_owned();
    let (status, options) = client.post(
        "/attestation/options",
        &json!({"username": name, "token": token}),
    );
    assert_eq!(status, 200, "{options}");
    let user = decode(options["user"]["id"].as_str().unwrap());
    let c = challenge(&options);
    let ceremony = Ceremony {
        rp_id: "localhost",
        origin,
        challenge: &c,
    };
    let auth = Authenticator::default();
    let (mut cred, answer) = auth.register(Algorithm::Es256, &ceremony, &user);
    let (status, reply) = client.post("/attestation/result", &answer);
    assert_eq!(
        (status, reply["status"].as_str()),
        (200, Some("ok")),
        "{reply}"
    );

    let (status, options) = client.post("/assertion/options", &json!({}));
    assert_eq!(status, 200);
    let c = challenge(&options);
    let ceremony = Ceremony {
        rp_id: "localhost",
        origin,
        challenge: &c,
    };
    let answer = auth.assert(&mut cred, &ceremony);
    let (status, reply) = client.post("/assertion/result", &answer);
    assert_eq!(status, 200, "{reply}");
}

/// The addresses the audit log recorded for `name`'s registration and
/// sign-in.
fn recorded_addresses(server: &Server, name: &str) -> Vec<String> {
    let (ok, export) = server.cli(&["audit", "export"]);
    assert!(ok);
    let events: Vec<Value> = export
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|e: &Value| {
            e["subject"] == name
                && (e["kind"] == "registration" || e["kind"] == "authentication")
                && e["outcome"] == "success"
        })
        .collect();
    assert_eq!(events.len(), 2, "a registration and a sign-in: {events:?}");
    events
        .iter()
        .map(|e| e["ip"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// keybound on its own port, with the origin the proxy on `proxy_port`
/// serves.
fn keybound_for(proxy_port: u16, trusted: bool) -> (Server, String) {
    let origin = format!("http://localhost:{proxy_port}");
    let trust: &[&str] = if trusted {
        &["--trusted-proxy", "127.0.0.1"]
    } else {
        &[]
    };
    (
        Server::start_on("127.0.0.1:0", "localhost", &origin, trust),
        origin,
    )
}

fn through(proxy_name: &str, start: impl Fn(u16, u16) -> Proxy) {
    // Declared: the address comes from X-Forwarded-For, and a client's own
    // entry (left of what the proxy appended) is not believed.
    let port = free_port();
    let (server, origin) = keybound_for(port, true);
    let _proxy = start(port, server.port);
    enrol_and_sign_in(&server, port, &origin, "ada", None);
    assert_eq!(
        recorded_addresses(&server, "ada"),
        ["127.0.0.2", "127.0.0.2"],
        "{proxy_name}"
    );
    enrol_and_sign_in(&server, port, &origin, "bob", Some("198.51.100.9"));
    assert_eq!(
        recorded_addresses(&server, "bob"),
        ["127.0.0.2", "127.0.0.2"],
        "{proxy_name}"
    );
    // Straight to keybound with a forged header: the socket's address.
    enrol_and_sign_in(&server, server.port, &origin, "cy", Some("198.51.100.9"));
    assert_eq!(
        recorded_addresses(&server, "cy"),
        ["127.0.0.2", "127.0.0.2"]
    );
    let (ok, verified) = server.cli(&["audit", "verify"]);
    assert!(ok, "{verified}");
    drop(_proxy);

    // Not declared: the proxy is the client.
    let port = free_port();
    let (server, origin) = keybound_for(port, false);
    let _proxy = start(port, server.port);
    enrol_and_sign_in(&server, port, &origin, "dee", Some("198.51.100.9"));
    assert_eq!(
        recorded_addresses(&server, "dee"),
        ["127.0.0.1", "127.0.0.1"],
        "{proxy_name}"
    );
}

#[test]
fn behind_nginx_the_client_address_comes_from_the_declared_proxy() {
    let Some(binary) = tool("/usr/sbin/nginx", "the nginx test") else {
        return;
    };
    through("nginx", |port, upstream| nginx(&binary, port, upstream));
}

#[test]
fn behind_caddy_the_client_address_comes_from_the_declared_proxy() {
    let Some(binary) = tool("/usr/bin/caddy", "the Caddy test") else {
        return;
    };
    through("caddy", |port, upstream| caddy(&binary, port, upstream));
}
