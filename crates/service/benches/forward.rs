//! Forward-auth decisions with the session cached: what a proxy waits for
//! on every request. One thread (one core): decisions per second, and the
//! latency distribution (p50, p99, p99.9) of single decisions.
//!
//! `cargo bench -p keybound-service --bench forward`
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::cast_precision_loss,
    missing_docs
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use keybound_service::{
    ClientContext, Config, ForwardDecision, ForwardedRequest, Operator, RegistrationRequest,
    RegistrationStart, Service, SystemClock,
};
use keybound_soft_authenticator::{Algorithm, Authenticator, Ceremony};
use keybound_store::Store;
use keybound_webauthn::OriginPolicy;
use rand_chacha::rand_core::SeedableRng;

const ORIGIN: &str = "http://localhost:8080";
const WARM_UP: usize = 20_000;
const SAMPLES: usize = 200_000;

async fn signed_in() -> (Service, String) {
    let store = Store::open("sqlite::memory:").await.unwrap();
    let config = Config::new("localhost", OriginPolicy::exact([ORIGIN]).unwrap(), [9; 32]);
    let service = Service::new(
        store,
        config,
        Arc::new(SystemClock),
        Box::new(rand_chacha::ChaCha20Rng::seed_from_u64(1)),
    );
    let token = service
        .invite("ada", false, &Operator::local("bench"))
        .await
        .unwrap();
    let browser = b"bench-browser";
    let options = service
        .begin_registration(
            browser,
            RegistrationStart::Invitation(&token.value),
            &RegistrationRequest::default(),
        )
        .await
        .unwrap();
    let options = serde_json::to_value(&options).unwrap();
    let b64 = |v: &serde_json::Value| keybound_webauthn::b64::decode(v.as_str().unwrap()).unwrap();
    let (user, challenge) = (b64(&options["user"]["id"]), b64(&options["challenge"]));
    let (_, json) = Authenticator::default().register(
        Algorithm::Es256,
        &Ceremony {
            rp_id: "localhost",
            origin: ORIGIN,
            challenge: &challenge,
        },
        &user,
    );
    let enrolled = service
        .finish_registration(
            browser,
            json.to_string().as_bytes(),
            &ClientContext::default(),
        )
        .await
        .unwrap();
    let cookie = enrolled.session.expect("a session").value;
    (service, cookie)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(at).copied().unwrap_or_default()
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (service, cookie) = signed_in().await;
        let request =
            ForwardedRequest::new("GET", "https", "app.example.com", "/reports/2026?page=3")
                .unwrap();
        let ctx = ClientContext {
            ip: Some("203.0.113.7".to_owned()),
            user_agent: None,
        };
        for _ in 0..WARM_UP {
            let decision = service.forward_auth(Some(&cookie), &request, &ctx).await;
            assert!(matches!(decision, Ok(ForwardDecision::Allow(_))));
        }
        let mut each = Vec::with_capacity(SAMPLES);
        let started = Instant::now();
        for _ in 0..SAMPLES {
            let t = Instant::now();
            let decision = service.forward_auth(Some(&cookie), &request, &ctx).await;
            each.push(t.elapsed());
            std::hint::black_box(decision.ok());
        }
        let total = started.elapsed();
        each.sort_unstable();
        println!(
            "forward_auth, session cached, 1 thread: {SAMPLES} decisions in {:.3} s = {:.0} decisions/s",
            total.as_secs_f64(),
            SAMPLES as f64 / total.as_secs_f64()
        );
        println!(
            "latency: p50 {:?}  p99 {:?}  p99.9 {:?}  max {:?}",
            percentile(&each, 0.50),
            percentile(&each, 0.99),
            percentile(&each, 0.999),
            each.last().copied().unwrap_or_default()
        );
    });
}
