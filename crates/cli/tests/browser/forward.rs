//! An app behind nginx `auth_request` on another host name under the
//! cookie domain, as a person meets it: keybound at `https://kb.test:P`,
//! the app at `https://app.kb.test:Q`, both on loopback (Chromium's
//! `--host-resolver-rules`) with a certificate of the test CA whose key
//! Chromium is told to trust. (`*.localhost` over http would be a secure
//! context, but Chromium keeps a `Domain=localhost` cookie host-only, so
//! the app would never see the session.) Then:
//! opening the app sends them to keybound's sign-in, a passkey brings them
//! back to the app as themselves, and a route whose policy wants tier 3
//! sends them to the step-up page for that tier.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use super::*;

/// The app: an HTML page saying who nginx said the request is from.
pub(crate) fn echo_app() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
                head.push(byte[0]);
            }
            let head = String::from_utf8_lossy(&head).into_owned();
            let header = |name: &str| {
                head.lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
                    })
                    .unwrap_or_default()
            };
            let body = format!(
                "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
                 <meta name=\"viewport\" content=\"width=device-width\">\
                 <title>The app</title></head><body><main><h1>The app</h1>\
                 <p>Signed in as <b id=\"remote-user\">{}</b> (groups <span id=\"groups\">{}</span>, \
                 tier <span id=\"tier\">{}</span>), as keybound told nginx.</p></main></body></html>",
                header("remote-user"),
                header("remote-groups"),
                header("remote-tier")
            );
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

/// nginx as `docs/manual/connect-nginx.md` configures it, stopped when
/// dropped.
pub(crate) struct Nginx(Child, #[allow(dead_code)] tempfile::TempDir);

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn nginx(port: u16, keybound: u16, app: u16, tls: (&Path, &Path)) -> Option<Nginx> {
    let binary = Path::new("/usr/sbin/nginx");
    if !binary.exists() {
        let message = "/usr/sbin/nginx not found (install Debian's nginx)";
        if std::env::var_os("CI").is_some() {
            panic!("{message}: the forward-auth browser test must run in CI");
        }
        eprintln!("\n!!! SKIPPING the forward-auth browser test: {message}\n");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let (cert, key) = (tls.0.display(), tls.1.display());
    let config = format!(
        "daemon off; master_process off; pid {d}/nginx.pid; error_log {d}/error.log;
events {{ worker_connections 64; }}
http {{
  access_log off; client_body_temp_path {d}/body; proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
  server {{
    listen 127.0.0.1:{port} ssl;
    server_name app.kb.test;
    ssl_certificate {cert};
    ssl_certificate_key {key};
    location = /internal/keybound-authz {{
      internal;
      proxy_pass https://127.0.0.1:{keybound}/api/authz/auth-request;
      proxy_pass_request_body off;
      proxy_set_header Content-Length \"\";
      proxy_set_header X-Original-URL $scheme://$http_host$request_uri;
      proxy_set_header X-Original-Method $request_method;
    }}
    location / {{
      auth_request /internal/keybound-authz;
      auth_request_set $kb_user $upstream_http_remote_user;
      auth_request_set $kb_groups $upstream_http_remote_groups;
      auth_request_set $kb_tier $upstream_http_remote_tier;
      auth_request_set $kb_location $upstream_http_location;
      error_page 401 =302 $kb_location;
      proxy_set_header Remote-User $kb_user;
      proxy_set_header Remote-Groups $kb_groups;
      proxy_set_header Remote-Tier $kb_tier;
      proxy_pass http://127.0.0.1:{app};
    }}
  }}
}}
"
    );
    let file = dir.path().join("nginx.conf");
    std::fs::write(&file, config).unwrap();
    let child = Command::new(binary)
        .arg("-p")
        .arg(dir.path())
        .arg("-c")
        .arg(&file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        std::thread::sleep(Duration::from_millis(50));
    }
    Some(Nginx(child, dir))
}

/// keybound and an app behind nginx as one person meets them, with the
/// switches a Chromium needs to reach both (`kb.test` and `*.kb.test` on
/// loopback, the test CA's leaf pinned).
pub(crate) struct Site {
    pub(crate) server: Server,
    pub(crate) origin: String,
    /// `app.kb.test:PORT`, the app's host as its policies name it.
    pub(crate) app_host: String,
    pub(crate) switches: Vec<String>,
    _nginx: Nginx,
    _files: tempfile::TempDir,
    _policies: tempfile::TempDir,
}

/// [`Site`] with `policies` for the app (given its host), or `None` (after
/// a loud message) where there is no nginx and this is not CI.
pub(crate) fn site(policies: impl Fn(&str) -> String) -> Option<Site> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let keybound_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app_host = format!("app.kb.test:{port}");
    let origin = format!("https://kb.test:{keybound_port}");
    let ca = support::tls::TestCa::new();
    let files = tempfile::tempdir().unwrap();
    let leaf = ca.leaf_for(&["kb.test", "*.kb.test"]);
    let (cert, key) = leaf.install(files.path());
    let policy_dir = support::policy_dir(&policies(&app_host));
    let server = Server::start_on(
        &format!("127.0.0.1:{keybound_port}"),
        "kb.test",
        &origin,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
            "--trusted-proxy",
            "127.0.0.1",
            "--cookie-domain",
            "kb.test",
            "--policy-dir",
            policy_dir.path().to_str().unwrap(),
        ],
    );
    let nginx = nginx(port, server.port, echo_app(), (&cert, &key))?;
    let pin = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &leaf.spki).as_ref())
    };
    Some(Site {
        server,
        origin,
        app_host,
        // chromiumoxide puts the `--` in front.
        switches: vec![
            format!("ignore-certificate-errors-spki-list={pin}"),
            "host-resolver-rules=MAP kb.test 127.0.0.1, MAP *.kb.test 127.0.0.1".to_owned(),
        ],
        _nginx: nginx,
        _files: files,
        _policies: policy_dir,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_behind_nginx_signs_in_and_steps_up_through_keybound() {
    let Some(site) = site(support::app_policies) else {
        return;
    };
    let (server, origin, app_host) = (&site.server, site.origin.clone(), site.app_host.clone());
    let Some(mut chrome) = Chrome::launch_with(
        "forward_auth",
        &origin,
        passkey_authenticator(),
        &site.switches,
    )
    .await
    else {
        return;
    };
    chrome.goto(&invite(server, "ada")).await;
    chrome.click("#enroll-passkey").await;
    chrome.wait_path("/me").await;
    let _autofill_off = chrome.without_autofill().await;
    chrome.click("#sign-out").await;
    chrome.wait_path("/").await;

    // The app, signed out: to keybound's sign-in, which remembers it.
    let app = format!("https://{app_host}/reports?week=49");
    chrome.goto(&app).await;
    let here = chrome.wait_path("/").await;
    assert!(here.starts_with("/?rd=https"), "{here}");
    assert_eq!(
        chrome.eval("location.origin").await,
        Some(origin.clone().into())
    );
    chrome.click("#signin-passkey").await;
    chrome.wait_path("/reports").await;
    assert_eq!(
        chrome.eval("location.href").await,
        Some(app.clone().into()),
        "back on the app, where it started"
    );
    assert_eq!(chrome.text("#remote-user").await, "ada");
    assert_eq!(chrome.text("#groups").await, "user");
    chrome.shot("app-through-nginx").await;

    // /admin wants tier 3: the step-up page, for tier 3.
    chrome
        .goto(&format!("https://{app_host}/admin/users"))
        .await;
    let here = chrome.wait_path("/step-up").await;
    assert!(here.ends_with("&tier=3"), "{here}");
    assert!(here.contains("rd=http"), "{here}");
    assert_eq!(
        chrome.eval("document.body.dataset.page").await,
        Some("step-up-return".into())
    );
    chrome.wait_text("main", "tier 3").await;
    chrome.shot("app-step-up").await;
    chrome.close().await;
}
