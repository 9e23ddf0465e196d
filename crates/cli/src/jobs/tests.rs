use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::time::Instant;

use keybound_service::{AuthenticationRequest, Clock, Config};
use keybound_store::Store;
use keybound_webauthn::OriginPolicy;
use rand_core::TryRngCore;

use super::*;

/// A clock the test moves.
struct TestClock(AtomicI64);

impl Clock for TestClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

async fn service(clock: Arc<TestClock>) -> Arc<Service> {
    let store = Store::open("sqlite::memory:").await.unwrap();
    let origins = OriginPolicy::exact(["http://localhost:8080"]).unwrap();
    let config = Config::new("localhost", origins, [7; 32]);
    Arc::new(Service::new(
        store,
        config,
        clock,
        Box::new(rand_core::OsRng.unwrap_err()),
    ))
}

/// Challenges stored, expired or not (the store's purge counts them, and
/// the transaction is rolled back).
async fn stored_challenges(service: &Service) -> u64 {
    let mut tx = service.store().begin().await.unwrap();
    tx.purge_expired(i64::MAX).await.unwrap()
}

async fn until(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let started = Instant::now();
    while !done().await {
        assert!(started.elapsed() < Duration::from_secs(10), "{what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn the_purge_job_removes_what_expired_and_keeps_what_is_live() {
    let clock = Arc::new(TestClock(AtomicI64::new(1_700_000_000_000)));
    let service = service(clock.clone()).await;
    let request = AuthenticationRequest::default();
    service
        .begin_authentication(b"browser-1", "", &request)
        .await
        .unwrap();
    // Past the first challenge's five minutes; then a live one.
    clock.0.fetch_add(6 * 60 * 1000, Ordering::SeqCst);
    service
        .begin_authentication(b"browser-2", "", &request)
        .await
        .unwrap();
    assert_eq!(
        stored_challenges(&service).await,
        2,
        "beginning a ceremony purges nothing"
    );

    let mut jobs = Jobs::new();
    jobs.every(Duration::from_millis(10), Purge(service.clone()));
    until("the expired challenge is purged", async || {
        stored_challenges(&service).await == 1
    })
    .await;
    jobs.stop().await;
    assert_eq!(stored_challenges(&service).await, 1, "the live one stays");
}

/// Counts its runs.
struct Count(Arc<AtomicUsize>);

impl Job for Count {
    async fn run(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn a_job_runs_at_once_then_on_its_interval_until_stopped() {
    let runs = Arc::new(AtomicUsize::new(0));
    let mut jobs = Jobs::new();
    jobs.every(Duration::from_secs(3600), Count(runs.clone()));
    let fast = Arc::new(AtomicUsize::new(0));
    jobs.every(Duration::from_millis(5), Count(fast.clone()));
    until("the fast job runs again", async || {
        fast.load(Ordering::SeqCst) >= 3
    })
    .await;
    assert_eq!(runs.load(Ordering::SeqCst), 1, "at once, then hourly");
    jobs.stop().await;
    let stopped_at = fast.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(fast.load(Ordering::SeqCst), stopped_at, "no run after stop");
}

/// Never finishes a run (a metadata fetch from a server that does not
/// answer).
struct Hang;

impl Job for Hang {
    async fn run(&mut self) {
        std::future::pending::<()>().await;
    }
}

#[tokio::test]
async fn a_stop_abandons_a_run_that_does_not_finish() {
    let mut jobs = Jobs::new();
    jobs.every(Duration::from_secs(3600), Hang);
    let runs = Arc::new(AtomicUsize::new(0));
    jobs.every(Duration::from_secs(3600), Count(runs.clone()));
    until("the quick job ran", async || {
        runs.load(Ordering::SeqCst) == 1
    })
    .await;
    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(10), jobs.stop())
        .await
        .expect("the stop does not wait for the hung run");
    assert!(started.elapsed() >= STOP_WAIT, "a run gets its chance");
    assert!(started.elapsed() < STOP_WAIT * 3, "{:?}", started.elapsed());
}

/// The rotation job takes the step the schedule says is due: past the
/// default 30 days less a day, the successor key is published.
#[tokio::test]
async fn the_rotation_job_publishes_the_successor_when_due() {
    let clock = Arc::new(TestClock(AtomicI64::new(1_700_000_000_000)));
    let service = service(clock.clone()).await;
    let jwks_len = async |service: &Service| {
        let jwks = service
            .published_jwks(keybound_service::KeyPurpose::IdTokens)
            .await
            .unwrap();
        jwks["keys"].as_array().unwrap().len()
    };
    assert_eq!(jwks_len(&service).await, 1);
    clock.0.fetch_add(29 * 24 * 3600 * 1000, Ordering::SeqCst);
    let mut jobs = Jobs::new();
    jobs.every(Duration::from_millis(10), RotateKeys(service.clone()));
    until("the successor is published", async || {
        jwks_len(&service).await == 2
    })
    .await;
    jobs.stop().await;
}
