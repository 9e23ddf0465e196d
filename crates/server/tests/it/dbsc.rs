//! Device Bound Session Credentials through the real router, with a client
//! written from the specification (W3C DBSC as Chromium speaks it): the
//! registration header on the new session, `Secure-Session-Response` to
//! the registration path, the session config, `Sec-Secure-Session-Id` and
//! the 403 challenge at refresh. A session cookie copied with the bound
//! cookie but without the key is refused once the refresh interval passes.

use std::sync::atomic::{AtomicI64, Ordering};

use super::*;
use keybound_jose::{Algorithm as JoseAlg, SigningKey};
use keybound_service::Clock;
use serde_json::Map;

struct FakeClock(AtomicI64);
impl Clock for FakeClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// The refresh interval the tests run with.
const INTERVAL_MS: i64 = 30_000;

async fn dbsc_app() -> (Router, Arc<Service>, Arc<FakeClock>) {
    let store = Store::open("sqlite::memory:").await.unwrap();
    let mut config = Config::new("localhost", OriginPolicy::exact([ORIGIN]).unwrap(), [5; 32]);
    config.dbsc_refresh_ms = INTERVAL_MS;
    let clock = Arc::new(FakeClock(AtomicI64::new(1_800_000_000_000)));
    let service = Arc::new(Service::new(
        store,
        config,
        clock.clone(),
        Box::new(rand_chacha::ChaCha20Rng::seed_from_u64(16)),
    ));
    // Forward-auth for an app everyone signed in may use, asked from
    // loopback (where the test's "proxy" is).
    let policies = keybound_service::policies::PolicySet::load(&[(
        "app.cedar",
        r#"permit (principal, action, resource in Keybound::App::"app.localhost:8080");"#,
    )])
    .unwrap();
    service
        .install_policies(policies, keybound_service::PolicyLoad::Start, None)
        .await
        .unwrap();
    let loopback: keybound_server::IpNet = "127.0.0.0/8".parse().unwrap();
    let state = AppState::new(service.clone(), false)
        .with_trusted_proxies(keybound_server::TrustedProxies::new([loopback]));
    (router(state), service, clock)
}

/// Whether nginx's `auth_request` would let the browser into the app.
async fn forward_allows(browser: &mut Browser) -> bool {
    let headers = [
        ("x-original-url", "http://app.localhost:8080/reports"),
        ("x-original-method", "GET"),
    ];
    let (status, headers, _) = browser
        .request("GET", "/api/authz/auth-request", &headers, "")
        .await;
    status == StatusCode::OK && headers.get("remote-user").is_some()
}

/// The browser's DBSC side: the session key and the proofs it signs.
struct SessionKey(SigningKey);

impl SessionKey {
    fn new() -> Self {
        let alg = JoseAlg::Es256;
        SessionKey(SigningKey::from_pkcs8(alg, &SigningKey::generate_pkcs8(alg).unwrap()).unwrap())
    }

    /// `Secure-Session-Response`: a `dbsc+jwt` answering `challenge`, as a
    /// structured-field string.
    fn response(&self, challenge: &str, registration: bool) -> String {
        let mut header = Map::new();
        header.insert("typ".into(), "dbsc+jwt".into());
        if registration {
            header.insert("jwk".into(), self.0.public_jwk(None).unwrap().to_json());
        }
        let jwt = keybound_jose::sign(
            &header,
            &json!({"jti": challenge}),
            &self.0,
            &aws_lc_rs::rand::SystemRandom::new(),
        )
        .unwrap();
        format!("\"{jwt}\"")
    }
}

/// The `name="value"` parameter of a structured header.
fn param(header: &str, name: &str) -> String {
    let after = header.split(&format!("{name}=\"")).nth(1).unwrap();
    after.split('"').next().unwrap().to_owned()
}

/// Enrols `name` from a fresh browser; returns it signed in and the
/// `Secure-Session-Registration` header that came with its session.
async fn signed_in(app: &Router, service: &Service, name: &str) -> (Browser, String) {
    let token = service
        .invite(name, false, &Operator::local("test"))
        .await
        .unwrap();
    let mut browser = Browser::new(app.clone());
    let (_, options) = browser
        .post(
            "/attestation/options",
            json!({ "token": token.value }).to_string(),
        )
        .await;
    let user = b64::decode(options["user"]["id"].as_str().unwrap()).unwrap();
    let c = challenge(&options);
    let (_, json) = Authenticator::default().register(
        Algorithm::Es256,
        &Ceremony {
            rp_id: "localhost",
            origin: ORIGIN,
            challenge: &c,
        },
        &user,
    );
    let (status, headers, _) = browser
        .request(
            "POST",
            "/attestation/result",
            &[("content-type", "application/json")],
            json.to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let registration = headers
        .get("secure-session-registration")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    (browser, registration)
}

/// Registers `key` as the browser would: POST to the header's path with the
/// proof of its challenge. Returns the status and the session config.
async fn register(
    browser: &mut Browser,
    registration: &str,
    key: &SessionKey,
) -> (StatusCode, Value) {
    let response = key.response(&param(registration, "challenge"), true);
    let (status, _, body) = browser
        .request(
            "POST",
            &param(registration, "path"),
            &[("secure-session-response", &response)],
            "",
        )
        .await;
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

/// A refresh as the browser does it: without a proof (403 and a
/// challenge), then with one. Returns the final status.
async fn refresh(browser: &mut Browser, id: &str, key: &SessionKey) -> StatusCode {
    let sid = format!("\"{id}\"");
    let (status, headers, _) = browser
        .request(
            "POST",
            "/dbsc/refresh",
            &[("sec-secure-session-id", &sid)],
            "",
        )
        .await;
    if status != StatusCode::FORBIDDEN {
        return status;
    }
    let header = headers
        .get("secure-session-challenge")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(param(&header, "id"), id);
    let challenge = header.split('"').nth(1).unwrap().to_owned();
    let (status, _, _) = browser
        .request(
            "POST",
            "/dbsc/refresh",
            &[
                ("sec-secure-session-id", &sid),
                ("secure-session-response", &key.response(&challenge, false)),
            ],
            "",
        )
        .await;
    status
}

/// Whether `/me` shows the browser signed in.
async fn signed_in_now(browser: &mut Browser) -> bool {
    browser.request("GET", "/me", &[], "").await.0 == StatusCode::OK
}

fn cookie(browser: &Browser, name: &str) -> Option<String> {
    browser
        .cookies
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

#[tokio::test]
async fn a_bound_session_refreshes_and_a_copied_cookie_is_refused_after_the_interval() {
    let (app, service, clock) = dbsc_app().await;
    let (mut browser, registration) = signed_in(&app, &service, "ada").await;
    assert!(registration.starts_with("(ES256 RS256);path=\"/dbsc/start\";challenge=\""));
    assert!(
        signed_in_now(&mut browser).await,
        "unbound sessions work as before"
    );
    // Pages invite an unbound session to bind again.
    let (_, headers, _) = browser.request("GET", "/me", &[], "").await;
    assert!(headers.get("secure-session-registration").is_some());

    let key = SessionKey::new();
    let (status, config) = register(&mut browser, &registration, &key).await;
    assert_eq!(status, StatusCode::OK);
    let id = config["session_identifier"].as_str().unwrap().to_owned();
    assert_eq!(config["refresh_url"], "/dbsc/refresh");
    assert_eq!(config["scope"]["include_site"], false);
    assert_eq!(config["credentials"][0]["type"], "cookie");
    assert_eq!(config["credentials"][0]["name"], "kb_bound");
    assert_eq!(
        config["credentials"][0]["attributes"],
        "Path=/; HttpOnly; SameSite=Lax"
    );
    assert!(cookie(&browser, "kb_bound").is_some());
    assert!(signed_in_now(&mut browser).await);
    assert!(forward_allows(&mut browser).await);
    let (_, headers, _) = browser.request("GET", "/me", &[], "").await;
    assert!(
        headers.get("secure-session-registration").is_none(),
        "bound: no more invitations"
    );

    // The thief copies both cookies, not the key.
    let mut thief = Browser::at(app.clone(), [10, 0, 0, 66]);
    thief.cookies = browser.cookies.clone();
    assert!(signed_in_now(&mut thief).await, "within the interval");
    // The session cookie alone never passes once the session is bound.
    let mut bare = Browser::at(app.clone(), [10, 0, 0, 67]);
    bare.cookies = vec![("kb_session".into(), cookie(&browser, "kb_session").unwrap())];
    assert!(!signed_in_now(&mut bare).await);
    assert!(!forward_allows(&mut bare).await, "forward-auth too");

    clock.0.fetch_add(INTERVAL_MS, Ordering::SeqCst);
    assert!(
        !signed_in_now(&mut thief).await,
        "the copied bound cookie expired"
    );
    assert!(!forward_allows(&mut thief).await);
    // The thief cannot renew it: their key is not the session's.
    assert_eq!(
        refresh(&mut thief, &id, &SessionKey::new()).await,
        StatusCode::UNAUTHORIZED
    );
    assert!(!signed_in_now(&mut thief).await);

    // The browser holding the key renews it and goes on.
    assert!(
        !signed_in_now(&mut browser).await,
        "expired for it too, until it refreshes"
    );
    assert_eq!(refresh(&mut browser, &id, &key).await, StatusCode::OK);
    assert!(signed_in_now(&mut browser).await);
    assert!(forward_allows(&mut browser).await);

    // Signing out ends the device-bound session: refresh is refused (the
    // browser forgets it), and nothing is left to renew.
    let (status, _) = browser.post("/signout", "{}").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        refresh(&mut browser, &id, &key).await,
        StatusCode::UNAUTHORIZED
    );

    let audit = service.store().audit_events().await.unwrap();
    let reasons: Vec<_> = audit
        .iter()
        .filter(|e| e.event.kind.starts_with("dbsc."))
        .map(|e| {
            (
                e.event.kind.as_str(),
                e.event.reason.clone().unwrap_or_default(),
            )
        })
        .collect();
    // Successful refreshes are not audited; asking an ended session for a
    // challenge is answered without writing anything.
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert_eq!(reasons[0].0, "dbsc.register");
    assert_eq!(
        reasons[1],
        ("dbsc.refused", "dbsc_proof_signature: refresh".into())
    );
}

#[tokio::test]
async fn hostile_dbsc_requests_get_4xx_never_5xx() {
    let (app, service, clock) = dbsc_app().await;
    let (mut browser, registration) = signed_in(&app, &service, "ada").await;
    let key = SessionKey::new();
    let huge = format!("\"{}\"", "a".repeat(20_000));
    let none = format!(
        "\"{}.{}.\"",
        b64::encode(
            json!({"typ": "dbsc+jwt", "alg": "none", "jwk": key.0.public_jwk(None).unwrap().to_json()})
                .to_string()
                .as_bytes()
        ),
        b64::encode(json!({"jti": param(&registration, "challenge")}).to_string().as_bytes())
    );
    for response in [
        huge.as_str(),
        none.as_str(),
        "",
        "\"\"",
        "\"a\\\"b\"",
        "x.y.z",
    ] {
        let (status, _, _) = browser
            .request(
                "POST",
                "/dbsc/start",
                &[("secure-session-response", response)],
                "",
            )
            .await;
        assert!(status.is_client_error(), "{response:.40}: {status}");
    }
    // No session cookie: nothing to bind.
    let mut stranger = Browser::new(app.clone());
    let (status, _) = register(&mut stranger, &registration, &key).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // A registration challenge answered after it expired.
    clock.0.fetch_add(5 * 60 * 1000, Ordering::SeqCst);
    let (status, _) = register(&mut browser, &registration, &key).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Refresh of nothing, or with junk ids.
    for id in [
        "",
        "\"\"",
        "\"nope\"",
        &format!("\"{}\"", "f".repeat(5_000)),
    ] {
        let (status, _, _) = browser
            .request(
                "POST",
                "/dbsc/refresh",
                &[("sec-secure-session-id", id)],
                "",
            )
            .await;
        assert!(
            status.is_client_error() && status != StatusCode::FORBIDDEN,
            "{id:.20}: {status}"
        );
    }
    assert!(
        signed_in_now(&mut browser).await,
        "still an unbound session"
    );
}

#[tokio::test]
async fn a_replayed_refresh_proof_gets_a_fresh_challenge_not_a_cookie() {
    let (app, service, _) = dbsc_app().await;
    let (mut browser, registration) = signed_in(&app, &service, "ada").await;
    let key = SessionKey::new();
    let (_, config) = register(&mut browser, &registration, &key).await;
    let id = config["session_identifier"].as_str().unwrap().to_owned();
    let sid = format!("\"{id}\"");
    let (_, headers, _) = browser
        .request(
            "POST",
            "/dbsc/refresh",
            &[("sec-secure-session-id", &sid)],
            "",
        )
        .await;
    let header = headers
        .get("secure-session-challenge")
        .unwrap()
        .to_str()
        .unwrap();
    let challenge = header.split('"').nth(1).unwrap().to_owned();
    let proof = key.response(&challenge, false);
    let headers = [
        ("sec-secure-session-id", sid.as_str()),
        ("secure-session-response", proof.as_str()),
    ];
    let (status, first, _) = browser.request("POST", "/dbsc/refresh", &headers, "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(first.get(header::SET_COOKIE).is_some());
    let (status, again, _) = browser.request("POST", "/dbsc/refresh", &headers, "").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(again.get(header::SET_COOKIE).is_none());
    assert!(again.get("secure-session-challenge").is_some());
}
