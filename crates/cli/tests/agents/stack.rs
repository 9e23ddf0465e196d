//! What both agent tests stand on: the app behind the proxy, nginx with
//! forward-auth as docs/manual/agents.md configures it, the policies, a
//! person's access token from keybound's OIDC provider, the approval with
//! a passkey, and (for the hostile cases) DPoP proofs and agent assertions
//! made by hand so that each can be wrong in exactly one way.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_lc_rs::rand::SystemRandom;
use base64::Engine as _;
use keybound_jose::{Algorithm, SigningKey};
use keybound_soft_authenticator::{Authenticator, Ceremony, Credential, Tweaks};
use serde_json::{json, Value};

use crate::support::http::{challenge, Browser};
use crate::support::Server;

pub const REDIRECT: &str = "https://app.test/cb";
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
pub const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
pub const JWT_TYPE: &str = "urn:ietf:params:oauth:token-type:jwt";

pub fn enc(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub fn fresh_id() -> String {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes).unwrap();
    b64(&bytes)
}

/// A tool the test needs (nginx): its path, or `None` after a loud message
/// outside CI (under CI a missing tool fails the test).
pub fn tool(path: &str, test: &str) -> Option<PathBuf> {
    let found = Path::new(path);
    if found.exists() {
        return Some(found.to_owned());
    }
    let message = format!("{path} not found (install Debian's package)");
    if std::env::var_os("CI").is_some() {
        panic!("{message}: {test} must run in CI");
    }
    eprintln!(
        "\n{}\n!!! SKIPPING {test}: {message}\n{}\n",
        "!".repeat(78),
        "!".repeat(78)
    );
    None
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

// ---- the API behind the proxy ------------------------------------------

/// The API: answers every request 200 with the `Remote-*` headers it got,
/// one `name: value` a line, and counts the requests that reached it.
pub struct App {
    pub port: u16,
    pub reached: Arc<Mutex<Vec<String>>>,
}

pub fn app() -> App {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let reached = Arc::new(Mutex::new(Vec::new()));
    let record = reached.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
                head.push(byte[0]);
            }
            let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
            let remote: Vec<String> = head
                .lines()
                .filter(|l| l.starts_with("remote-"))
                .map(str::to_owned)
                .collect();
            let body = remote.join("\n");
            record.lock().unwrap().push(body.clone());
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    App { port, reached }
}

/// nginx, stopped when dropped.
pub struct Nginx {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `server` block of docs/manual/agents.md: `auth_request` to
/// keybound (nginx passes the client's `Authorization` and `DPoP` headers
/// on to it), the identity headers to the API, and keybound's
/// `DPoP-Nonce` back to the agent on every answer, refusals included.
pub fn nginx_server(port: u16, keybound: u16, api: u16) -> String {
    format!(
        "  server {{
    listen 127.0.0.1:{port};

    location = /internal/keybound-authz {{
      internal;
      proxy_pass http://127.0.0.1:{keybound}/api/authz/auth-request;
      proxy_pass_request_body off;
      proxy_set_header Content-Length \"\";
      proxy_set_header X-Original-URL $scheme://$http_host$request_uri;
      proxy_set_header X-Original-Method $request_method;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }}

    location / {{
      auth_request /internal/keybound-authz;
      auth_request_set $kb_user $upstream_http_remote_user;
      auth_request_set $kb_agent $upstream_http_remote_agent;
      auth_request_set $kb_task $upstream_http_remote_task;
      auth_request_set $kb_groups $upstream_http_remote_groups;
      auth_request_set $kb_tier $upstream_http_remote_tier;
      auth_request_set $kb_nonce $upstream_http_dpop_nonce;
      add_header DPoP-Nonce $kb_nonce always;

      proxy_set_header Remote-User $kb_user;
      proxy_set_header Remote-Agent $kb_agent;
      proxy_set_header Remote-Task $kb_task;
      proxy_set_header Remote-Groups $kb_groups;
      proxy_set_header Remote-Tier $kb_tier;
      proxy_pass http://127.0.0.1:{api};
    }}
  }}
"
    )
}

pub fn nginx(binary: &Path, port: u16, keybound: u16, api: u16) -> Nginx {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let config = format!(
        "daemon off;\nmaster_process off;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
         events {{ worker_connections 64; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
           fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
         {server}}}\n",
        server = nginx_server(port, keybound, api)
    );
    let path = dir.path().join("nginx.conf");
    std::fs::write(&path, config).unwrap();
    let child = Command::new(binary)
        .arg("-p")
        .arg(dir.path())
        .arg("-c")
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "nginx never listened"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Nginx { child, _dir: dir }
}

// ---- policies ----------------------------------------------------------

/// The policies of docs/manual/agents.md: `report-bot` may ask for tasks
/// on any API; tasks on `unattended` APIs (none, or all with `"*"`) need
/// no approval; an agent holding a task with `read` may GET the API on
/// `api_host`.
pub fn agent_policies(api_host: &str, unattended: bool) -> String {
    let mut policies = format!(
        r#"@id("report-bot-may-ask")
permit (principal, action == Keybound::Action::"task:request", resource)
  when {{ principal.kind == "agent" && principal.name == "report-bot" }};

@id("reports-api-for-agents-reading")
permit (principal, action == Keybound::Action::"GET", resource in Keybound::App::"{api_host}")
  when {{ principal.kind == "agent" && context has task && context.task.actions.contains("read") }};
"#
    );
    if unattended {
        policies.push_str(
            r#"
@id("report-bot-unattended")
permit (principal, action == Keybound::Action::"task:unattended", resource)
  when { principal.kind == "agent" && principal.name == "report-bot" };
"#,
        );
    }
    policies
}

// ---- a person's delegation ---------------------------------------------

/// Registers an OIDC client through the CLI; (client_id, secret).
pub fn add_client(server: &Server, name: &str) -> (String, String) {
    let (ok, out) = server.cli(&[
        "oidc",
        "client",
        "add",
        name,
        "--json",
        "--redirect-uri",
        REDIRECT,
    ]);
    assert!(ok, "{out}");
    let added: Value = serde_json::from_str(out.trim()).unwrap();
    (
        added["client_id"].as_str().unwrap().to_owned(),
        added["client_secret"].as_str().unwrap().to_owned(),
    )
}

/// An HTTP reply, headers lower-cased.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// One HTTP/1.1 request on a fresh connection.
pub fn raw(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: kb.test\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    let _ = s.write_all(body);
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(raw.len());
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let body = raw.get(split + 4..).unwrap_or_default().to_vec();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// A form post to the token endpoint (or another) with `headers`.
pub fn post_form(server: &Server, path: &str, headers: &[(&str, &str)], form: &str) -> Reply {
    let mut all = vec![("Content-Type", "application/x-www-form-urlencoded")];
    all.extend_from_slice(headers);
    raw(server.port, "POST", path, &all, form.as_bytes())
}

/// The access token keybound's OIDC provider gives `client_id` for the
/// person signed in in `browser` (code flow with PKCE).
pub fn person_access_token(
    server: &Server,
    browser: &Browser,
    client_id: &str,
    secret: &str,
) -> String {
    let cookie: Vec<String> = browser
        .cookies
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let cookie = cookie.join("; ");
    let path = format!(
        "/oauth2/authorize?response_type=code&client_id={client_id}&redirect_uri={}\
         &scope=openid&state=s&nonce=n&code_challenge={CHALLENGE}&code_challenge_method=S256",
        enc(REDIRECT)
    );
    let reply = raw(
        server.port,
        "GET",
        &path,
        &[("Cookie", &cookie), ("Sec-Fetch-Site", "cross-site")],
        b"",
    );
    assert_eq!(reply.status, 302, "{}", reply.body);
    let location = url::Url::parse(reply.header("location").unwrap()).unwrap();
    let code = location
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{client_id}:{secret}"))
    );
    let form = format!(
        "grant_type=authorization_code&code={}&redirect_uri={}&code_verifier={VERIFIER}",
        enc(&code),
        enc(REDIRECT)
    );
    let reply = post_form(server, "/oauth2/token", &[("Authorization", &basic)], &form);
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()["access_token"].as_str().unwrap().to_owned()
}

/// The person approves task `id` on /me with the passkey: the options
/// (whose challenge is the hash of the task's details), the assertion.
pub fn approve(
    browser: &mut Browser,
    auth: &Authenticator,
    cred: &mut Credential,
    id: &str,
    rp_id: &str,
    origin: &str,
) -> (u16, Value) {
    let (status, options) =
        browser.post_json(&format!("/me/tasks/{id}/approve/options"), &json!({}));
    assert_eq!(status, 200, "{options}");
    let options = if options["publicKey"].is_object() {
        options["publicKey"].clone()
    } else {
        options
    };
    let c = challenge(&options);
    let ceremony = Ceremony {
        rp_id,
        origin,
        challenge: &c,
    };
    let answer = auth.assert_with(cred, &ceremony, &Tweaks::default());
    browser.post_json(&format!("/me/tasks/{id}/approve"), &answer)
}

// ---- hand-made proofs for the hostile cases ----------------------------

pub fn fresh_key() -> SigningKey {
    SigningKey::from_pkcs8(
        Algorithm::Es256,
        &SigningKey::generate_pkcs8(Algorithm::Es256).unwrap(),
    )
    .unwrap()
}

/// base64url(SHA-256(token)): a proof's `ath`.
pub fn ath(token: &str) -> String {
    b64(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes()).as_ref())
}

/// A DPoP proof (RFC 9449 §4.2) by `key`; `claims` and `header` entries
/// override the good defaults (null removes one).
pub fn dpop(key: &SigningKey, htm: &str, htu: &str, claims: Value, header: Value) -> String {
    let mut h = json!({
        "typ": "dpop+jwt",
        "jwk": key.public_jwk(None).unwrap().to_json(),
    });
    merge(&mut h, &header);
    let mut c = json!({"jti": fresh_id(), "htm": htm, "htu": htu, "iat": now()});
    merge(&mut c, &claims);
    keybound_jose::sign(h.as_object().unwrap(), &c, key, &SystemRandom::new()).unwrap()
}

/// A proof with `alg: none` and no signature.
pub fn dpop_unsigned(key: &SigningKey, htm: &str, htu: &str, claims: Value) -> String {
    let h = json!({
        "typ": "dpop+jwt",
        "alg": "none",
        "jwk": key.public_jwk(None).unwrap().to_json(),
    });
    let mut c = json!({"jti": fresh_id(), "htm": htm, "htu": htu, "iat": now()});
    merge(&mut c, &claims);
    format!(
        "{}.{}.",
        b64(h.to_string().as_bytes()),
        b64(c.to_string().as_bytes())
    )
}

pub fn merge(target: &mut Value, overrides: &Value) {
    for (k, v) in overrides.as_object().unwrap() {
        if v.is_null() {
            target.as_object_mut().unwrap().remove(k);
        } else {
            target[k] = v.clone();
        }
    }
}

/// An agent's own assertion (its registered key): iss = sub = its name,
/// aud = the issuer, 60 s; `overrides` as in [`dpop`].
pub fn agent_assertion(key: &SigningKey, agent: &str, issuer: &str, overrides: Value) -> String {
    let mut claims = json!({
        "iss": agent,
        "sub": agent,
        "aud": issuer,
        "jti": fresh_id(),
        "iat": now(),
        "exp": now() + 60,
    });
    merge(&mut claims, &overrides);
    keybound_jose::sign(
        json!({"typ": "JWT"}).as_object().unwrap(),
        &claims,
        key,
        &SystemRandom::new(),
    )
    .unwrap()
}

// ---- the audit log -----------------------------------------------------

pub fn audit(server: &Server) -> Vec<Value> {
    let (ok, out) = server.cli(&["audit", "export"]);
    assert!(ok);
    out.lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .collect()
}

/// An exported event's field (flat or under `event`).
pub fn field<'a>(event: &'a Value, name: &str) -> &'a Value {
    if event["event"].is_object() {
        &event["event"][name]
    } else {
        &event[name]
    }
}

pub fn kind(event: &Value) -> &str {
    field(event, "kind").as_str().unwrap_or("")
}

/// Successful `task.token` events: the task tokens issued so far.
pub fn issued(events: &[Value]) -> usize {
    events
        .iter()
        .filter(|e| kind(e) == "task.token" && field(e, "outcome") == "success")
        .count()
}
