//! Forward-auth decisions with the session cached: what a proxy waits for
//! on every request. One thread (one core): decisions per second, and the
//! latency distribution (p50, p99, p99.9) of single decisions, first with
//! the app's two policies alone, then with 1,000 policies loaded (the
//! app's among 997 of 200 other apps, and one scoped to no app, which
//! every request evaluates; the counts printed include the two defaults).
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

use keybound_service::policies::PolicySet;
use keybound_service::{
    ClientContext, Config, ForwardDecision, ForwardedRequest, Operator, PolicyLoad,
    RegistrationRequest, RegistrationStart, Service, SystemClock,
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

/// The app's policies: everyone signed in, `/admin` at tier 3.
const APP: &str = r#"@id("app-everyone")
permit (principal, action in Keybound::Action::"http", resource in Keybound::App::"app.example.com");
@id("app-admin-tier3")
forbid (principal, action, resource in Keybound::App::"app.example.com")
  when { resource.path like "/admin*" && context.tier < 3 };
"#;

/// `APP` and 997 policies of 200 other apps (a permit by group, forbids
/// by path, tier and address), and one forbid scoped to no app: 1,000.
fn thousand() -> String {
    let mut text = APP.to_owned();
    text.push_str(
        "@id(\"no-trace\")\nforbid (principal, action == Keybound::Action::\"TRACE\", resource);\n",
    );
    for i in 0..997 {
        let app = format!("app{}.example.com", i % 200);
        let body = match i % 4 {
            0 => format!(
                "permit (principal in Keybound::Group::\"user\", action in Keybound::Action::\"http\", resource in Keybound::App::\"{app}\");"
            ),
            1 => format!(
                "forbid (principal, action, resource in Keybound::App::\"{app}\") when {{ resource.path like \"/admin{i}*\" && context.tier < 3 }};"
            ),
            2 => format!(
                "forbid (principal, action == Keybound::Action::\"DELETE\", resource in Keybound::App::\"{app}\") unless {{ context.tier >= 2 }};"
            ),
            _ => format!(
                "forbid (principal, action, resource in Keybound::App::\"{app}\") when {{ context has client_ip && context.client_ip.isInRange(ip(\"198.51.100.0/24\")) && resource.path like \"/p{i}/*\" }};"
            ),
        };
        text.push_str(&format!("@id(\"p{i}\")\n{body}\n"));
    }
    text
}

async fn load(service: &Service, text: &str) -> usize {
    let set = PolicySet::load(&[("apps.cedar", text)]).unwrap();
    let n = set.len();
    service
        .install_policies(set, PolicyLoad::Start, None)
        .await
        .unwrap();
    n
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
            hints: Default::default(),
        };
        for policies in [APP.to_owned(), thousand()] {
            let n = load(&service, &policies).await;
            run(&service, &cookie, &request, &ctx, n).await;
        }
    });
}

async fn run(
    service: &Service,
    cookie: &str,
    request: &ForwardedRequest,
    ctx: &ClientContext,
    policies: usize,
) {
    for _ in 0..WARM_UP {
        let decision = service.forward_auth(Some(cookie), None, request, ctx).await;
        assert!(matches!(decision, Ok(ForwardDecision::Allow(_))));
    }
    let mut each = Vec::with_capacity(SAMPLES);
    let started = Instant::now();
    for _ in 0..SAMPLES {
        let t = Instant::now();
        let decision = service.forward_auth(Some(cookie), None, request, ctx).await;
        each.push(t.elapsed());
        std::hint::black_box(decision.ok());
    }
    let total = started.elapsed();
    each.sort_unstable();
    println!(
        "forward_auth, session cached, {policies} policies, 1 thread: {SAMPLES} decisions in {:.3} s = {:.0} decisions/s",
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
}
