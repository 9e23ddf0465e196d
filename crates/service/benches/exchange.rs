//! RFC 8693 token exchanges for a DPoP-bound task token, per second, on
//! SQLite (a file, full durability: each exchange is one write transaction
//! with its jti and audit event), next to raw aws-lc-rs ES256 sign and
//! verify in the same run: the yardstick, since an exchange verifies two
//! ES256 signatures (the agent's assertion and its DPoP proof) and makes
//! one (the token). The agent acts on its own entitlement (an autonomous
//! task, unattended by policy), so the subject token is its own assertion.
//! The client's proofs are made outside the timed part. DPoP proof
//! verification alone (what forward-auth does before its store work) is
//! measured in the same run.
//!
//! `cargo bench -p keybound-service --bench exchange`
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

use std::sync::Arc;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    EcdsaKeyPair, KeyPair as _, UnparsedPublicKey, ECDSA_P256_SHA256_FIXED,
    ECDSA_P256_SHA256_FIXED_SIGNING,
};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use keybound_jose::{verify_dpop_proof, Algorithm, DpopChecks, SigningKey};
use keybound_service::policies::PolicySet;
use keybound_service::{
    Actor, ClientContext, ClientCredentials, Config, NewAgent, OidcParams, Operator, PolicyLoad,
    RegistrationRequest, RegistrationStart, Service, SystemClock, TaskRequest, TokenProof,
};
use keybound_soft_authenticator::{Authenticator, Ceremony};
use keybound_store::Store;
use keybound_webauthn::OriginPolicy;
use rand_chacha::rand_core::SeedableRng;
use serde_json::{json, Value};

const ORIGIN: &str = "http://localhost:8080";
const API: &str = "http://localhost:9000/reports/";

const POLICIES: &str = r#"@id("bench-ask")
permit (principal, action == Keybound::Action::"task:request", resource)
  when { principal.kind == "agent" };
@id("bench-unattended")
permit (principal, action == Keybound::Action::"task:unattended", resource)
  when { principal.kind == "agent" };
"#;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

struct Bench {
    service: Service,
    agent_key: SigningKey,
    dpop_key: SigningKey,
    task_id: String,
    counter: std::cell::Cell<u64>,
    _dir: tempfile::TempDir,
}

impl Bench {
    fn jti(&self) -> String {
        let n = self.counter.get() + 1;
        self.counter.set(n);
        format!("bench-{n}")
    }

    /// The agent's own assertion (iss = sub = its name, aud = the issuer).
    fn assertion(&self) -> String {
        let claims = json!({
            "iss": "bench-bot", "sub": "bench-bot", "aud": ORIGIN,
            "jti": self.jti(), "iat": now(), "exp": now() + 60,
        });
        keybound_jose::sign(
            json!({"typ": "JWT"}).as_object().unwrap(),
            &claims,
            &self.agent_key,
            &SystemRandom::new(),
        )
        .unwrap()
    }

    fn proof(&self, nonce: &str) -> String {
        let header = json!({
            "typ": "dpop+jwt",
            "jwk": self.dpop_key.public_jwk(None).unwrap().to_json(),
        });
        let claims = json!({
            "jti": self.jti(), "htm": "POST", "htu": format!("{ORIGIN}/oauth2/token"),
            "iat": now(), "nonce": nonce,
        });
        keybound_jose::sign(
            header.as_object().unwrap(),
            &claims,
            &self.dpop_key,
            &SystemRandom::new(),
        )
        .unwrap()
    }

    /// One exchange's inputs: the form and the DPoP proof.
    fn inputs(&self, nonce: &str) -> (OidcParams, String) {
        let own = self.assertion();
        let actor = self.assertion();
        let params = OidcParams::new(vec![
            (
                "grant_type".into(),
                "urn:ietf:params:oauth:grant-type:token-exchange".into(),
            ),
            ("subject_token".into(), own),
            (
                "subject_token_type".into(),
                "urn:ietf:params:oauth:token-type:jwt".into(),
            ),
            ("actor_token".into(), actor),
            (
                "actor_token_type".into(),
                "urn:ietf:params:oauth:token-type:jwt".into(),
            ),
            ("resource".into(), API.into()),
            ("scope".into(), "read".into()),
            ("task_id".into(), self.task_id.clone()),
        ]);
        (params, self.proof(nonce))
    }
}

fn key() -> SigningKey {
    SigningKey::from_pkcs8(
        Algorithm::Es256,
        &SigningKey::generate_pkcs8(Algorithm::Es256).unwrap(),
    )
    .unwrap()
}

/// `name` enrolled with a passkey: an active person (an agent's owner
/// must be one).
async fn enrol(service: &Service, operator: &Operator, name: &str) {
    let token = service.invite(name, false, operator).await.unwrap();
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
    let b64 = |v: &Value| keybound_webauthn::b64::decode(v.as_str().unwrap()).unwrap();
    let (user, challenge) = (b64(&options["user"]["id"]), b64(&options["challenge"]));
    let (_, answer) = Authenticator::default().register(
        keybound_soft_authenticator::Algorithm::Es256,
        &Ceremony {
            rp_id: "localhost",
            origin: ORIGIN,
            challenge: &challenge,
        },
        &user,
    );
    service
        .finish_registration(
            browser,
            answer.to_string().as_bytes(),
            &ClientContext::default(),
        )
        .await
        .unwrap();
}

async fn setup() -> Bench {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let store = Store::open(&url).await.unwrap();
    let config = Config::new("localhost", OriginPolicy::exact([ORIGIN]).unwrap(), [9; 32]);
    let service = Service::new(
        store,
        config,
        Arc::new(SystemClock),
        Box::new(rand_chacha::ChaCha20Rng::seed_from_u64(1)),
    );
    let set = PolicySet::load(&[("agents.cedar", POLICIES)]).unwrap();
    service
        .install_policies(set, PolicyLoad::Start, None)
        .await
        .unwrap();
    let operator = Operator::local("bench");
    let ctx = ClientContext::default();
    enrol(&service, &operator, "alice").await;
    let agent_key = key();
    let dpop_key = key();
    let jwk: Value = agent_key.public_jwk(None).unwrap().to_json();
    service
        .add_agent(
            &Actor::Operator(&operator),
            &NewAgent {
                name: "bench-bot".into(),
                owner: "alice".into(),
                spiffe_id: None,
                key_jwk: Some(jwk),
                description: String::new(),
            },
            &ctx,
        )
        .await
        .unwrap();
    let mut bench = Bench {
        service,
        agent_key,
        dpop_key,
        task_id: String::new(),
        counter: std::cell::Cell::new(0),
        _dir: dir,
    };
    let task = bench
        .service
        .request_task(
            &bench.assertion(),
            &TaskRequest {
                delegator: None,
                resources: vec![API.into()],
                actions: vec!["read".into()],
                lifetime_s: Some(3600),
                purpose: "bench".into(),
            },
            &ctx,
        )
        .await
        .unwrap();
    bench.task_id = task.id.clone();
    bench
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let b = runtime.block_on(setup());
    let ctx = ClientContext::default();
    let token_url = format!("{ORIGIN}/oauth2/token");
    let credentials = ClientCredentials::default();
    let nonce = runtime.block_on(b.service.dpop_nonce()).unwrap();
    // One exchange outside the measurement: it must succeed.
    {
        let (params, proof) = b.inputs(&nonce);
        let reply = runtime
            .block_on(b.service.oidc_token(
                &params,
                &credentials,
                &TokenProof {
                    dpop: Some(&proof),
                    url: &token_url,
                },
                &ctx,
            ))
            .unwrap();
        assert_eq!(reply["token_type"], "DPoP", "{reply}");
    }

    // The yardstick: raw aws-lc-rs ES256 of a message of a proof's size.
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
    let message = b.proof(&nonce).into_bytes();
    let signature = pair.sign(&rng, &message).unwrap();
    let public = UnparsedPublicKey::new(
        &ECDSA_P256_SHA256_FIXED,
        pair.public_key().as_ref().to_vec(),
    );

    let mut group = c.benchmark_group("token_exchange");
    group.bench_function("raw_aws_lc_rs_es256_verify", |bench| {
        bench.iter(|| public.verify(&message, signature.as_ref()).unwrap());
    });
    group.bench_function("raw_aws_lc_rs_es256_sign", |bench| {
        bench.iter(|| pair.sign(&rng, &message).unwrap());
    });
    // A DPoP proof for an API request (with `ath`), verified as
    // forward-auth does before its store work: every stateless check of
    // RFC 9449 §4.3 and the signature.
    let api_url = format!("{API}weekly");
    let api_proof = {
        let header = json!({
            "typ": "dpop+jwt",
            "jwk": b.dpop_key.public_jwk(None).unwrap().to_json(),
        });
        let claims = json!({
            "jti": b.jti(), "htm": "GET", "htu": api_url, "iat": now(),
            "ath": keybound_jose::dpop_ath("a-task-token"), "nonce": nonce,
        });
        keybound_jose::sign(
            header.as_object().unwrap(),
            &claims,
            &b.dpop_key,
            &SystemRandom::new(),
        )
        .unwrap()
    };
    let checks = DpopChecks {
        method: "GET",
        url: &api_url,
        now_s: now(),
        max_age_s: 3600,
        max_future_s: 5,
        access_token: Some("a-task-token"),
    };
    verify_dpop_proof(&api_proof, &checks).unwrap();
    group.bench_function("keybound_dpop_proof_verify", |bench| {
        bench.iter(|| verify_dpop_proof(&api_proof, &checks).unwrap());
    });
    group.bench_function("keybound_token_exchange_sqlite", |bench| {
        bench.iter_batched(
            || {
                let nonce = runtime.block_on(b.service.dpop_nonce()).unwrap();
                b.inputs(&nonce)
            },
            |(params, proof)| {
                let reply = runtime
                    .block_on(b.service.oidc_token(
                        &params,
                        &credentials,
                        &TokenProof {
                            dpop: Some(&proof),
                            url: &token_url,
                        },
                        &ctx,
                    ))
                    .unwrap();
                std::hint::black_box(reply);
            },
            BatchSize::SmallInput,
        );
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
