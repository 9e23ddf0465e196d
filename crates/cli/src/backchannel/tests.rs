use std::sync::atomic::{AtomicI64, AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use axum::Router;
use keybound_jose::{Algorithm, Jwk, BACKCHANNEL_LOGOUT_EVENT};
use keybound_service::{Clock, Config, KeyPurpose, LOGOUT_BACKOFF_MS, MAX_LOGOUT_ATTEMPTS};
use keybound_store::Store;
use keybound_webauthn::OriginPolicy;
use rand_core::TryRngCore;
use serde_json::Value;

use super::*;

const T0: i64 = 1_800_000_000_000;

struct TestClock(AtomicI64);

impl Clock for TestClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// What the test client saw: each request's content type and body.
#[derive(Default)]
struct Client {
    status: AtomicU16,
    seen: Mutex<Vec<(String, String)>>,
}

async fn logout(State(client): State<Arc<Client>>, headers: HeaderMap, body: String) -> StatusCode {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    client.seen.lock().unwrap().push((content_type, body));
    StatusCode::from_u16(client.status.load(Ordering::SeqCst)).unwrap()
}

async fn redirect() -> impl IntoResponse {
    (StatusCode::FOUND, [(header::LOCATION, "/logout")])
}

/// A relying party on a random local port: `/logout` answers with the
/// status set, `/moved` redirects to `/logout`.
async fn relying_party(status: u16) -> (String, Arc<Client>) {
    let client = Arc::new(Client::default());
    client.status.store(status, Ordering::SeqCst);
    let app = Router::new()
        .route("/logout", post(logout))
        .route("/moved", post(redirect))
        .with_state(client.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), client)
}

async fn service() -> (Arc<Service>, Arc<TestClock>) {
    let clock = Arc::new(TestClock(AtomicI64::new(T0)));
    let store = Store::open("sqlite::memory:").await.unwrap();
    let origins = OriginPolicy::exact(["https://id.example"]).unwrap();
    let service = Service::new(
        store,
        Config::new("id.example", origins, [7; 32]),
        clock.clone(),
        Box::new(rand_core::OsRng.unwrap_err()),
    );
    (Arc::new(service), clock)
}

async fn queue(service: &Service, url: &str, sub: Option<&str>, sid: Option<&str>) {
    let mut tx = service.store().begin().await.unwrap();
    service
        .queue_backchannel_logout(&mut tx, "app-1", url, sub, sid)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

async fn queued(service: &Service) -> usize {
    let mut read = service.store().read().await.unwrap();
    read.logout_deliveries().await.unwrap().len()
}

async fn failures(service: &Service) -> Vec<keybound_service::AuditEvent> {
    service
        .store()
        .audit_events()
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.event.kind == "backchannel_logout.failed")
        .collect()
}

/// The token arrives as a form POST, verifies against the published JWKS,
/// and carries the spec's claims and header; a sent delivery is gone.
#[tokio::test]
async fn a_logout_token_reaches_the_client_and_verifies_against_the_jwks() {
    let (base, client) = relying_party(200).await;
    let (service, _) = service().await;
    queue(
        &service,
        &format!("{base}/logout"),
        Some("ann"),
        Some("s-1"),
    )
    .await;
    let sender = Sender::new().unwrap();
    assert_eq!(sender.run_once(&service).await.unwrap(), 1);
    assert_eq!(queued(&service).await, 0, "sent, so removed");
    assert_eq!(sender.run_once(&service).await.unwrap(), 0, "sent once");

    let seen = client.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    let (content_type, body) = &seen[0];
    assert_eq!(content_type, "application/x-www-form-urlencoded");
    let token = body.strip_prefix("logout_token=").unwrap();

    let jwks = service.published_jwks(KeyPurpose::IdTokens).await.unwrap();
    let keys: Vec<Jwk> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| Jwk::parse(k).unwrap())
        .collect();
    let verified = keybound_jose::verify(token, &[Algorithm::Es256], |kid| {
        keys.iter().find(|k| k.kid() == kid).cloned()
    })
    .unwrap();
    assert_eq!(verified.header["typ"], "logout+jwt");
    let claims = verified.claims().unwrap();
    assert_eq!(claims["iss"], "https://id.example");
    assert_eq!(claims["aud"], "app-1");
    assert_eq!(
        (claims["sub"].as_str(), claims["sid"].as_str()),
        (Some("ann"), Some("s-1"))
    );
    assert_eq!(
        claims["events"][BACKCHANNEL_LOGOUT_EVENT],
        Value::Object(Default::default())
    );
    assert_eq!(claims["iat"], T0 / 1000);
    assert!(claims["exp"].as_i64().unwrap() > T0 / 1000);
    assert!(claims["jti"].as_str().is_some_and(|j| !j.is_empty()));
    assert!(!claims.contains_key("nonce"));
    assert!(failures(&service).await.is_empty());
}

/// A rolled-back use case sends nothing: the delivery is queued in the
/// caller's transaction.
#[tokio::test]
async fn a_rolled_back_transaction_queues_nothing() {
    let (service, _) = service().await;
    let mut tx = service.store().begin().await.unwrap();
    service
        .queue_backchannel_logout(&mut tx, "app-1", "http://127.0.0.1:9/x", None, Some("s"))
        .await
        .unwrap();
    drop(tx);
    assert_eq!(queued(&service).await, 0);
    // Neither sub nor sid: refused.
    let mut tx = service.store().begin().await.unwrap();
    assert!(service
        .queue_backchannel_logout(&mut tx, "app-1", "http://127.0.0.1:9/x", None, None)
        .await
        .is_err());
}

/// A failing endpoint is retried after the backoff (not before), then
/// given up after the last attempt and audited; a redirect is a failure,
/// not followed.
#[tokio::test]
async fn a_failing_client_is_retried_with_backoff_then_given_up_and_audited() {
    let (base, client) = relying_party(500).await;
    let (service, clock) = service().await;
    queue(&service, &format!("{base}/logout"), Some("ann"), None).await;
    let sender = Sender::new().unwrap();
    let mut wait = LOGOUT_BACKOFF_MS;
    for attempt in 1..=MAX_LOGOUT_ATTEMPTS {
        assert_eq!(
            sender.run_once(&service).await.unwrap(),
            1,
            "attempt {attempt}"
        );
        assert_eq!(client.seen.lock().unwrap().len() as i64, attempt);
        if attempt < MAX_LOGOUT_ATTEMPTS {
            assert_eq!(queued(&service).await, 1);
            clock.0.fetch_add(wait - 1, Ordering::SeqCst);
            assert_eq!(sender.run_once(&service).await.unwrap(), 0, "not yet");
            clock.0.fetch_add(1, Ordering::SeqCst);
            wait *= 2;
        }
    }
    assert_eq!(queued(&service).await, 0, "given up");
    let failed = failures(&service).await;
    assert_eq!(failed.len(), 1);
    let event = &failed[0].event;
    assert_eq!(event.reason.as_deref(), Some("status 500"));
    assert_eq!(event.details["client_id"], "app-1");
    assert_eq!(event.details["attempts"], MAX_LOGOUT_ATTEMPTS.to_string());
    let sealed = serde_json::to_string(&failed[0]).unwrap();
    assert!(!sealed.contains("logout_token"), "never the token");

    // A redirect is not followed: the client's /logout sees nothing.
    let (base, client) = relying_party(200).await;
    queue(&service, &format!("{base}/moved"), Some("ann"), None).await;
    assert_eq!(sender.run_once(&service).await.unwrap(), 1);
    assert!(client.seen.lock().unwrap().is_empty());
    let mut read = service.store().read().await.unwrap();
    let left = read.logout_deliveries().await.unwrap();
    assert_eq!(left[0].last_error.as_deref(), Some("status 302"));
    // A client that cannot be reached at all is a failure too.
    drop(read);
    queue(&service, "http://127.0.0.1:9/logout", Some("ann"), None).await;
    clock.0.fetch_add(LOGOUT_BACKOFF_MS, Ordering::SeqCst);
    sender.run_once(&service).await.unwrap();
    let mut read = service.store().read().await.unwrap();
    let errors: Vec<Option<String>> = read
        .logout_deliveries()
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.last_error)
        .collect();
    assert!(
        errors.contains(&Some("could not connect".into())),
        "{errors:?}"
    );
}
