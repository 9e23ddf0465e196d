//! The ceremony API through the real router (in process): the conformance
//! flow with cookies, and the hostile requests that must get 4xx, never 5xx.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use keybound_server::{router, AppState, MAX_BODY};
use keybound_service::{Config, Operator, Service, SystemClock};
use keybound_soft_authenticator::{Algorithm, Authenticator, Ceremony};
use keybound_store::Store;
use keybound_webauthn::{b64, OriginPolicy};
use rand_chacha::rand_core::SeedableRng;
use serde_json::{json, Value};
use tower::ServiceExt;

mod admin;
mod agent_api;
mod apps;
mod audit_pages;
mod audit_publish;
mod bounds;
mod connections;
mod console;
mod csrf;
mod dbsc;
mod forward;
mod names;
mod pages;
mod rate_limits;
mod refusals;
mod serving;
mod step_up;
mod tasks;
mod workload;

const ORIGIN: &str = "http://localhost:8080";

async fn app() -> (Router, Arc<Service>) {
    app_with(|_| {}).await
}

async fn app_with(tweak: impl FnOnce(&mut Config)) -> (Router, Arc<Service>) {
    let store = Store::open("sqlite::memory:").await.unwrap();
    let mut config = Config::new("localhost", OriginPolicy::exact([ORIGIN]).unwrap(), [5; 32]);
    tweak(&mut config);
    let service = Arc::new(Service::new(
        store,
        config,
        Arc::new(SystemClock),
        Box::new(rand_chacha::ChaCha20Rng::seed_from_u64(3)),
    ));
    (router(AppState::new(service.clone(), false)), service)
}

/// A browser: remembers cookies between requests.
struct Browser {
    app: Router,
    cookies: Vec<(String, String)>,
    ip: std::net::IpAddr,
}

impl Browser {
    fn new(app: Router) -> Browser {
        Browser::at(app, [127, 0, 0, 7])
    }

    /// A browser at another client address.
    fn at(app: Router, ip: [u8; 4]) -> Browser {
        Browser::at_ip(app, ip.into())
    }

    /// A browser at any address (IPv6, IPv4-mapped).
    fn at_ip(app: Router, ip: std::net::IpAddr) -> Browser {
        Browser {
            app,
            cookies: vec![],
            ip,
        }
    }

    /// Sends a request with this browser's cookies and `headers`, keeps the
    /// cookies it sets, and returns status, headers and body.
    async fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Body>,
    ) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
        let cookie = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::COOKIE, cookie);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let mut request = request.body(body.into()).unwrap();
        // What `into_make_service_with_connect_info` adds for a real socket.
        request
            .extensions_mut()
            .insert(axum::extract::ConnectInfo(std::net::SocketAddr::new(
                self.ip, 5555,
            )));
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        for set in response.headers().get_all(header::SET_COOKIE) {
            let set = set.to_str().unwrap();
            // The session cookie must travel on a top-level navigation
            // from an app (Lax); the ceremony cookie never leaves (Strict).
            let same_site = if set.starts_with("kb_session=") || set.starts_with("kb_bound=") {
                "SameSite=Lax"
            } else {
                "SameSite=Strict"
            };
            assert!(set.contains("HttpOnly") && set.contains(same_site), "{set}");
            let (pair, _) = set.split_once(';').unwrap();
            let (k, v) = pair.split_once('=').unwrap();
            self.cookies.retain(|(name, _)| name != k);
            if !v.is_empty() {
                self.cookies.push((k.to_owned(), v.to_owned()));
            }
        }
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), MAX_BODY * 2)
            .await
            .unwrap();
        (status, headers, bytes.to_vec())
    }

    async fn post(&mut self, path: &str, body: impl Into<Body>) -> (StatusCode, Value) {
        let (status, _, bytes) = self
            .request("POST", path, &[("content-type", "application/json")], body)
            .await;
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }
}

/// Enrols with the invitation `token` from a browser at `ip`, as the
/// enrolment page does; the browser comes back signed in.
async fn enrol_at(
    app: &Router,
    ip: [u8; 4],
    token: &str,
) -> (Browser, keybound_soft_authenticator::Credential) {
    let mut browser = Browser::at(app.clone(), ip);
    let (_, options) = browser
        .post(
            "/attestation/options",
            json!({ "token": token }).to_string(),
        )
        .await;
    let user = b64::decode(options["user"]["id"].as_str().unwrap()).unwrap();
    let c = challenge(&options);
    let (cred, json) = Authenticator::default().register(
        Algorithm::Es256,
        &Ceremony {
            rp_id: "localhost",
            origin: ORIGIN,
            challenge: &c,
        },
        &user,
    );
    let (status, _) = browser.post("/attestation/result", json.to_string()).await;
    assert_eq!(status, StatusCode::OK);
    (browser, cred)
}

fn challenge(options: &Value) -> Vec<u8> {
    b64::decode(options["challenge"].as_str().unwrap()).unwrap()
}

#[tokio::test]
async fn invitation_then_sign_in_over_the_conformance_api() {
    let (app, service) = app().await;
    let token = service
        .invite("ada", false, &Operator::local("test"))
        .await
        .unwrap();
    let mut browser = Browser::new(app);
    let auth = Authenticator::default();

    let (status, options) = browser
        .post(
            "/attestation/options",
            json!({"username": "ada", "token": token.value}).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (options["status"].as_str(), options["errorMessage"].as_str()),
        (Some("ok"), Some(""))
    );
    let user = b64::decode(options["user"]["id"].as_str().unwrap()).unwrap();
    let c = challenge(&options);
    let ceremony = Ceremony {
        rp_id: "localhost",
        origin: ORIGIN,
        challenge: &c,
    };
    let (mut cred, json) = auth.register(Algorithm::Es256, &ceremony, &user);
    let (status, reply) = browser.post("/attestation/result", json.to_string()).await;
    assert_eq!(
        (status, reply["status"].as_str()),
        (StatusCode::OK, Some("ok"))
    );
    // The same result again: the challenge is gone.
    let (status, reply) = browser.post("/attestation/result", json.to_string()).await;
    assert_eq!(
        (status, reply["status"].as_str()),
        (StatusCode::BAD_REQUEST, Some("failed"))
    );

    let (_, options) = browser
        .post("/assertion/options", json!({"username": "ada"}).to_string())
        .await;
    assert_eq!(
        options["allowCredentials"][0]["id"],
        json!(b64::encode(&cred.id))
    );
    let c = challenge(&options);
    let json = auth.assert(
        &mut cred,
        &Ceremony {
            challenge: &c,
            ..ceremony
        },
    );
    let (status, reply) = browser.post("/assertion/result", json.to_string()).await;
    assert_eq!(
        (status, reply["username"].as_str()),
        (StatusCode::OK, Some("ada"))
    );
    assert!(browser.cookies.iter().any(|(k, _)| k == "kb_session"));

    // Signed in, the browser may add a second credential without a token.
    let (status, options) = browser
        .post("/attestation/options", json!({}).to_string())
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        options["excludeCredentials"][0]["id"],
        json!(b64::encode(&cred.id))
    );
    let (status, _) = browser.post("/signout", "").await;
    assert_eq!(status, StatusCode::OK);

    // Options honour what the request asks for.
    let (_, options) = browser
        .post(
            "/assertion/options",
            json!({"username": "", "userVerification": "required", "extensions": {"credProps": true}})
                .to_string(),
        )
        .await;
    assert_eq!(options["userVerification"], "required");
    // credProps is a registration extension: not echoed at sign-in.
    assert!(options.get("extensions").is_none());
    assert!(options.get("allowCredentials").is_none(), "username-less");

    // Every ceremony event names the client's address.
    let events = service.store().audit_events().await.unwrap();
    let kinds: Vec<_> = events.iter().map(|e| e.event.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "admin.invite",
            "registration",
            "registration",
            "authentication",
            "sign_out"
        ]
    );
    for e in &events[1..] {
        assert_eq!(e.event.ip.as_deref(), Some("127.0.0.7"), "{}", e.event.kind);
    }
    assert_eq!(
        events[2].event.reason.as_deref(),
        Some("no_matching_challenge")
    );
}

#[tokio::test]
async fn hostile_requests_get_4xx_with_status_failed() {
    let (app, _) = app().await;
    let mut browser = Browser::new(app);
    for path in ["/attestation/options", "/assertion/options"] {
        let (status, reply) = browser.post(path, "{not json").await;
        assert_eq!(
            (status, reply["status"].as_str()),
            (StatusCode::BAD_REQUEST, Some("failed"))
        );
    }
    for path in ["/attestation/result", "/assertion/result"] {
        // No options were asked for: no ceremony cookie, nothing to answer.
        let mut fresh = Browser::new(browser.app.clone());
        let (status, _) = fresh.post(path, "{}").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        for body in ["", "null", "{]", "{\"id\":\"AA\"}"] {
            let (status, reply) = browser.post(path, body).await;
            assert_eq!(
                (status, reply["status"].as_str()),
                (StatusCode::BAD_REQUEST, Some("failed")),
                "{path} {body}"
            );
        }
    }
    let huge = vec![b' '; MAX_BODY + 1];
    let (status, _) = browser.post("/assertion/result", huge).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    // Registration is governed: no token, no session, no open registration.
    let (status, reply) = browser
        .post(
            "/attestation/options",
            json!({"username": "eve"}).to_string(),
        )
        .await;
    assert_eq!(
        (status, reply["status"].as_str()),
        (StatusCode::FORBIDDEN, Some("failed"))
    );
}

#[tokio::test]
async fn every_browser_gets_its_own_ceremony_cookie() {
    let (app, _) = app().await;
    let mut a = Browser::new(app.clone());
    let mut b = Browser::new(app);
    a.post("/assertion/options", json!({"username": ""}).to_string())
        .await;
    b.post("/assertion/options", json!({"username": ""}).to_string())
        .await;
    let cookie = |br: &Browser| {
        br.cookies
            .iter()
            .find(|(k, _)| k == "kb_ceremony")
            .unwrap()
            .1
            .clone()
    };
    assert_ne!(cookie(&a), cookie(&b));
    assert_eq!(cookie(&a).len(), 43, "32 random bytes, base64url");
    // A browser keeps its cookie across ceremonies.
    let first = cookie(&a);
    a.post("/assertion/options", json!({"username": ""}).to_string())
        .await;
    assert_eq!(cookie(&a), first);
}
