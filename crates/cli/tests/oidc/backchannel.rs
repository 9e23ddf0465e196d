//! Back-channel logout (OpenID Connect Back-Channel Logout 1.0) through
//! the real binary: relying parties are small HTTP servers here, registered
//! with `--backchannel-logout-uri`; ada signs in to them through the code
//! flow, and when her session ends (offboarding, sign-out) each receives
//! one signed logout token naming the `sub` and `sid` its ID token had. A
//! client without the URI is sent nothing.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use keybound_jose::{verify, Algorithm, Jwk};
use serde_json::{json, Map, Value};

use super::*;

/// RFC 7636 Appendix B's verifier and its S256 challenge.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// The back-channel logout event (§2.4).
const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// The sender runs every 5 s; allow a few runs.
const PATIENCE: Duration = Duration::from_secs(20);

/// A POST a relying party received: its path, content type and body.
#[derive(Debug)]
struct Received {
    path: String,
    content_type: String,
    body: String,
}

/// A relying party's back-channel endpoint on a loopback port: every
/// request is answered 200 and handed to the test.
struct RelyingParty {
    port: u16,
    received: mpsc::Receiver<Received>,
}

impl RelyingParty {
    fn start() -> RelyingParty {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, received) = mpsc::channel();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                let path = line.split_whitespace().nth(1).unwrap_or("").to_owned();
                let (mut length, mut content_type) = (0usize, String::new());
                loop {
                    let mut header = String::new();
                    if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
                        break;
                    }
                    if let Some((k, v)) = header.split_once(':') {
                        match k.trim().to_ascii_lowercase().as_str() {
                            "content-length" => length = v.trim().parse().unwrap_or(0),
                            "content-type" => content_type = v.trim().to_owned(),
                            _ => {}
                        }
                    }
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
                let _ = tx.send(Received {
                    path,
                    content_type,
                    body: String::from_utf8_lossy(&body).into_owned(),
                });
            }
        });
        RelyingParty { port, received }
    }

    fn uri(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Waits for `count` requests, then a little longer to see that no
    /// more come.
    fn expect(&self, count: usize) -> Vec<Received> {
        let deadline = Instant::now() + PATIENCE;
        let mut got = Vec::new();
        while got.len() < count {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.received.recv_timeout(left) {
                Ok(r) => got.push(r),
                Err(_) => panic!("{} of {count} logout tokens came: {got:?}", got.len()),
            }
        }
        // Two more sender runs: nothing else arrives.
        if let Ok(extra) = self.received.recv_timeout(Duration::from_secs(11)) {
            panic!("an unexpected request: {extra:?}");
        }
        got
    }
}

fn enc(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

fn b64_json(part: &str) -> Map<String, Value> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap();
    match serde_json::from_slice(&bytes).unwrap() {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

/// Signs ada's `browser` in to `client_id` through the code flow; the
/// claims of the ID token it gets (checked by the strict RP tests), and
/// its access token and ID token.
fn sign_in_to(
    server: &Server,
    browser: &Browser,
    client_id: &str,
    secret: &str,
) -> (Map<String, Value>, String, String) {
    let path = format!(
        "/oauth2/authorize?response_type=code&client_id={}&redirect_uri={}&scope=openid&state=s&nonce=n&code_challenge={CHALLENGE}&code_challenge_method=S256",
        enc(client_id),
        enc(REDIRECT)
    );
    let reply = browse(server, browser, &path);
    assert_eq!(reply.status, 302, "{}", reply.body);
    let location = url::Url::parse(reply.header("location").unwrap()).unwrap();
    let code = location
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let form = format!(
        "grant_type=authorization_code&code={}&redirect_uri={}&code_verifier={VERIFIER}&client_id={}&client_secret={}",
        enc(&code),
        enc(REDIRECT),
        enc(client_id),
        enc(secret)
    );
    let reply = raw(
        server.port,
        "POST",
        "/oauth2/token",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        form.as_bytes(),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let tokens = reply.json();
    let id_token = tokens["id_token"].as_str().unwrap();
    let claims = b64_json(id_token.split('.').nth(1).unwrap());
    (
        claims,
        tokens["access_token"].as_str().unwrap().to_owned(),
        id_token.to_owned(),
    )
}

/// Verifies a received logout token against the provider's JWKS and
/// returns its claims, after the §2.4 checks every relying party makes.
fn logout_claims(server: &Server, received: &Received, client_id: &str) -> Map<String, Value> {
    assert_eq!(received.content_type, "application/x-www-form-urlencoded");
    let token = received
        .body
        .strip_prefix("logout_token=")
        .unwrap_or_else(|| panic!("a logout_token form: {}", received.body));
    let jwks = raw(server.port, "GET", "/oauth2/jwks", &[], b"").json();
    let verified = verify(token, &[Algorithm::Es256, Algorithm::Rs256], |kid| {
        jwks["keys"]
            .as_array()?
            .iter()
            .find(|k| kid.is_some_and(|kid| k["kid"] == kid))
            .and_then(|k| Jwk::parse(k).ok())
    })
    .expect("signed by a key in the provider's JWKS");
    assert_eq!(verified.header["typ"], "logout+jwt");
    let claims = verified.claims().unwrap();
    assert_eq!(claims["iss"], ORIGIN);
    let aud_ok = claims["aud"] == client_id || claims["aud"] == json!([client_id]);
    assert!(aud_ok, "aud {}", claims["aud"]);
    assert_eq!(claims["events"], json!({ EVENT: {} }));
    assert!(claims.get("nonce").is_none(), "§2.4: no nonce");
    assert!(claims["jti"].is_string());
    assert!(claims["exp"].as_i64().unwrap() > claims["iat"].as_i64().unwrap());
    claims
}

/// Registers a confidential client posting its secret; (id, secret).
fn client(server: &Server, name: &str, extra: &[&str]) -> (String, String) {
    let mut args = vec!["--token-auth-method", "client_secret_post"];
    args.extend_from_slice(extra);
    let (id, secret) = add_client(server, name, &args);
    (id, secret.unwrap())
}

#[test]
fn offboarding_sends_every_signed_in_app_its_logout_token() {
    let (server, browser, _) = signed_in_server(&[]);
    let rp = RelyingParty::start();
    let wiki_uri = rp.uri("/wiki/logout");
    let chat_uri = rp.uri("/chat/logout");
    let (wiki, wiki_secret) = client(
        &server,
        "wiki",
        &["--pairwise", "--backchannel-logout-uri", &wiki_uri],
    );
    let (chat, chat_secret) = client(&server, "chat", &["--backchannel-logout-uri", &chat_uri]);
    let (quiet, quiet_secret) = client(&server, "quiet", &[]);
    let discovery = raw(
        server.port,
        "GET",
        "/.well-known/openid-configuration",
        &[],
        b"",
    )
    .json();
    assert_eq!(discovery["backchannel_logout_supported"], true);
    assert_eq!(discovery["backchannel_logout_session_supported"], true);

    let (wiki_id, wiki_access, _) = sign_in_to(&server, &browser, &wiki, &wiki_secret);
    // Twice to the same client on one session: one sid, one token.
    let (wiki_again, _, _) = sign_in_to(&server, &browser, &wiki, &wiki_secret);
    assert_eq!(wiki_again["sid"], wiki_id["sid"]);
    let (chat_id, _, _) = sign_in_to(&server, &browser, &chat, &chat_secret);
    sign_in_to(&server, &browser, &quiet, &quiet_secret);
    assert!(wiki_id["sid"].is_string() && chat_id["sid"].is_string());
    assert_ne!(wiki_id["sid"], chat_id["sid"], "a sid per client");
    assert_ne!(wiki_id["sub"], chat_id["sub"], "wiki's sub is pairwise");

    let (ok, out) = server.cli(&["admin", "offboard", "ada"]);
    assert!(ok, "{out}");
    let mut got = rp.expect(2);
    got.sort_by(|a, b| a.path.cmp(&b.path));
    assert_eq!(got[0].path, "/chat/logout");
    assert_eq!(got[1].path, "/wiki/logout");
    let chat_logout = logout_claims(&server, &got[0], &chat);
    assert_eq!(chat_logout["sub"], chat_id["sub"]);
    assert_eq!(chat_logout["sid"], chat_id["sid"]);
    let wiki_logout = logout_claims(&server, &got[1], &wiki);
    assert_eq!(wiki_logout["sub"], wiki_id["sub"], "the pairwise sub");
    assert_eq!(wiki_logout["sid"], wiki_id["sid"]);

    // The session's tokens are dead too.
    let form = format!(
        "token={}&client_id={}&client_secret={}",
        enc(&wiki_access),
        enc(&wiki),
        enc(&wiki_secret)
    );
    let seen = raw(
        server.port,
        "POST",
        "/oauth2/introspect",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        form.as_bytes(),
    );
    assert_eq!(seen.json(), json!({"active": false}), "{}", seen.body);
}

#[test]
fn signing_out_of_keybound_signs_out_of_the_app() {
    let (server, mut browser, _) = signed_in_server(&[]);
    let rp = RelyingParty::start();
    let uri = rp.uri("/logout");
    let (wiki, secret) = client(&server, "wiki", &["--backchannel-logout-uri", &uri]);
    let (id, _, _) = sign_in_to(&server, &browser, &wiki, &secret);
    let (status, _) = browser.post_json("/signout", &json!({}));
    assert_eq!(status, 200);
    let got = rp.expect(1);
    let claims = logout_claims(&server, &got[0], &wiki);
    assert_eq!(claims["sub"], id["sub"]);
    assert_eq!(claims["sid"], id["sid"]);
}

/// RP-initiated logout at one app ends the keybound session: every app
/// signed in on it hears, the one that asked included (it may have other
/// tabs or devices' sessions to end by `sid`).
#[test]
fn logging_out_at_one_app_tells_the_others() {
    let (server, browser, _) = signed_in_server(&[]);
    let rp = RelyingParty::start();
    let wiki_uri = rp.uri("/wiki");
    let chat_uri = rp.uri("/chat");
    let (wiki, wiki_secret) = client(&server, "wiki", &["--backchannel-logout-uri", &wiki_uri]);
    let (chat, chat_secret) = client(&server, "chat", &["--backchannel-logout-uri", &chat_uri]);
    let (_, _, hint) = sign_in_to(&server, &browser, &wiki, &wiki_secret);
    let (chat_id, _, _) = sign_in_to(&server, &browser, &chat, &chat_secret);
    let reply = raw(
        server.port,
        "GET",
        &format!("/oauth2/logout?id_token_hint={}", enc(&hint)),
        &[],
        b"",
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let mut got = rp.expect(2);
    got.sort_by(|a, b| a.path.cmp(&b.path));
    let chat_logout = logout_claims(&server, &got[0], &chat);
    assert_eq!(chat_logout["sid"], chat_id["sid"]);
    logout_claims(&server, &got[1], &wiki);
}
