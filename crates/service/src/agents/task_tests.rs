//! The token exchange, task token introspection and revocation, and
//! forward-auth with DPoP, end to end on two nodes sharing one SQLite
//! file: the happy paths, then each hostile case refused with the RFC's
//! error, nothing issued, and the precise reason in the audit log.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use keybound_jose::{Algorithm, SigningKey};
use keybound_store::{AgentRow, Identity, IdentityKind, IdentityStatus, Store, TaskRow};
use keybound_webauthn::OriginPolicy;
use rand_chacha::rand_core::SeedableRng;
use serde_json::{json, Map, Value};

use super::exchange::{ACCESS_TOKEN_TYPE, ID_TOKEN_TYPE, JWT_TOKEN_TYPE, TOKEN_EXCHANGE};
use crate::oidc::{
    signing, ClientCredentials, ClientRegistration, OAuthError, OidcError, OidcParams,
};
use crate::policies::PolicySet;
use crate::{
    ClientContext, Clock, Config, ForwardDecision, ForwardedRequest, Operator, PolicyLoad, Refusal,
    Service, TokenProof,
};

const API: &str = "https://api.example.test/";
const OTHER_API: &str = "https://b.example.test/";
const NOW: i64 = 1_800_000_000_000;

struct Fixed(AtomicI64);

impl Clock for Fixed {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// Two nodes on one database, a person (alice, the agent's owner and
/// delegator), another (bob), the agent `report-bot` with a registered
/// key, a delegated task and an autonomous one, and an OIDC client.
struct World {
    a: Service,
    b: Service,
    clock: Arc<Fixed>,
    agent_key: SigningKey,
    dpop_key: SigningKey,
    alice: String,
    bob: String,
    client: crate::RegisteredClient,
    _dir: tempfile::TempDir,
}

const APP_POLICY: &str = r#"@id("agents-read-api")
permit (principal, action in Keybound::Action::"http", resource in Keybound::App::"api.example.test");"#;

fn key() -> SigningKey {
    SigningKey::from_pkcs8(
        Algorithm::Es256,
        &SigningKey::generate_pkcs8(Algorithm::Es256).unwrap(),
    )
    .unwrap()
}

fn rng() -> aws_lc_rs::rand::SystemRandom {
    aws_lc_rs::rand::SystemRandom::new()
}

async fn insert_identity(s: &Service, name: &str, kind: IdentityKind) -> String {
    let id = format!("id-{name}");
    let mut tx = s.store().begin().await.unwrap();
    tx.insert_identity(&Identity {
        id: id.clone(),
        kind,
        name: name.into(),
        status: IdentityStatus::Active,
        is_admin: false,
        user_handle: name.as_bytes().to_vec(),
        created_ms: NOW,
    })
    .await
    .unwrap();
    tx.commit().await.unwrap();
    id
}

fn task_row(id: &str, delegator: Option<&str>) -> TaskRow {
    TaskRow {
        id: id.into(),
        agent_id: "id-report-bot".into(),
        delegator_id: delegator.map(str::to_owned),
        resources: json!([API, OTHER_API]).to_string(),
        actions: json!(["read", "write"]).to_string(),
        lifetime_s: 900,
        purpose: "weekly report".into(),
        context: "{}".into(),
        status: "active".into(),
        needs_approval: true,
        created_ms: NOW,
        expires_ms: NOW + 900_000,
        approved_ms: Some(NOW),
        approved_by: Some("alice".into()),
        approval_tier: Some(2),
        approval_credential: None,
        ended_ms: None,
        ended_by: None,
        end_reason: None,
        uses: 0,
        last_used_ms: None,
    }
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("kb.db").display());
    let clock = Arc::new(Fixed(AtomicI64::new(NOW)));
    let node = |seed: u64| {
        let url = url.clone();
        let clock = clock.clone();
        async move {
            let config = Config::new(
                "kb.test",
                OriginPolicy::exact(["https://kb.test"]).unwrap(),
                [0; 32],
            );
            let rng: Box<dyn rand_core::CryptoRng + Send> =
                Box::new(rand_chacha::ChaCha20Rng::seed_from_u64(seed));
            Service::new(Store::open(&url).await.unwrap(), config, clock, rng)
        }
    };
    let a = node(1).await;
    let b = node(2).await;
    for s in [&a, &b] {
        let set = PolicySet::load(&[("app.cedar", APP_POLICY)]).unwrap();
        s.install_policies(set, PolicyLoad::Start, None)
            .await
            .unwrap();
    }
    let alice = insert_identity(&a, "alice", IdentityKind::Person).await;
    let bob = insert_identity(&a, "bob", IdentityKind::Person).await;
    let agent = insert_identity(&a, "report-bot", IdentityKind::Agent).await;
    let agent_key = key();
    let jwk = agent_key.public_jwk(None).unwrap();
    let mut tx = a.store().begin().await.unwrap();
    tx.insert_agent(&AgentRow {
        identity_id: agent,
        owner_id: alice.clone(),
        proof: "key".into(),
        spiffe_id: None,
        key_jwk: Some(jwk.to_json().to_string()),
        key_thumbprint: Some(jwk.thumbprint()),
        description: String::new(),
        created_by: "test".into(),
        created_ms: NOW,
        status: "active".into(),
        status_reason: None,
        changed_ms: None,
    })
    .await
    .unwrap();
    tx.insert_task(&task_row("task-delegated", Some(&alice)))
        .await
        .unwrap();
    tx.insert_task(&task_row("task-autonomous", None))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let client = a
        .add_oidc_client(
            crate::Actor::Operator(&Operator::local("cli")),
            ClientRegistration {
                name: "reports".into(),
                redirect_uris: vec!["https://reports.test/cb".into()],
                public: false,
                auth_method: None,
                backchannel_logout_uri: None,
                post_logout_redirect_uris: vec![],
                pairwise: true,
                id_token_alg: None,
                jwks: None,
            },
            &ClientContext::default(),
        )
        .await
        .unwrap();
    a.oidc_ready().await.unwrap();
    b.oidc_ready().await.unwrap();
    a.dpop_ready().await.unwrap();
    b.dpop_ready().await.unwrap();
    World {
        a,
        b,
        clock,
        agent_key,
        dpop_key: key(),
        alice,
        bob,
        client,
        _dir: dir,
    }
}

impl World {
    fn now_s(&self) -> i64 {
        self.clock.0.load(Ordering::SeqCst) / 1000
    }

    fn issuer(&self) -> String {
        self.a.config().oidc.issuer.clone()
    }

    fn token_url(&self) -> String {
        format!("{}/oauth2/token", self.issuer())
    }

    /// The agent's proof (a JWT signed by its registered key), `jti` fresh.
    fn agent_proof(&self, jti: &str, exp_in_s: i64) -> String {
        let claims = json!({
            "iss": "report-bot", "sub": "report-bot", "aud": self.issuer(),
            "iat": self.now_s().min(self.now_s() + exp_in_s - 60),
            "exp": self.now_s() + exp_in_s, "jti": jti,
        });
        let mut header = Map::new();
        header.insert("typ".into(), json!("JWT"));
        keybound_jose::sign(&header, &claims, &self.agent_key, &rng()).unwrap()
    }

    /// A DPoP proof by `key` for `method` `url`.
    fn proof_by(
        &self,
        key: &SigningKey,
        method: &str,
        url: &str,
        jti: &str,
        token: Option<&str>,
    ) -> String {
        let key_of_nonces = self.a.dpop.0.get().expect("dpop_ready");
        let nonce = super::nonce::make(key_of_nonces, super::nonce::step_of(self.now_s()));
        self.proof_with(key, method, url, jti, token, Some(&nonce))
    }

    /// A DPoP proof with the nonce given (or none).
    fn proof_with(
        &self,
        key: &SigningKey,
        method: &str,
        url: &str,
        jti: &str,
        token: Option<&str>,
        nonce: Option<&str>,
    ) -> String {
        let mut claims = json!({"jti": jti, "htm": method, "htu": url, "iat": self.now_s()});
        if let Some(nonce) = nonce {
            claims["nonce"] = json!(nonce);
        }
        if let Some(token) = token {
            claims["ath"] = json!(keybound_jose::dpop_ath(token));
        }
        let mut header = Map::new();
        header.insert("typ".into(), json!("dpop+jwt"));
        header.insert("jwk".into(), key.public_jwk(None).unwrap().to_json());
        keybound_jose::sign(&header, &claims, key, &rng()).unwrap()
    }

    fn proof(&self, method: &str, url: &str, jti: &str, token: Option<&str>) -> String {
        self.proof_by(&self.dpop_key, method, url, jti, token)
    }

    /// An ID token keybound signed for `person` at the client.
    async fn id_token(&self, person: &str) -> String {
        let client = &self.client.client;
        let sub = self.a.oidc_subject(client, person).await.unwrap();
        let Value::Object(claims) = json!({
            "iss": self.issuer(), "sub": sub, "aud": client.client_id,
            "iat": self.now_s(), "exp": self.now_s() + 300,
        }) else {
            unreachable!()
        };
        let mut tx = self.a.store().begin().await.unwrap();
        let token = signing::sign_jwt(&self.a, &mut tx, "ES256", "JWT", &claims)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        token
    }

    /// The exchange's form for the delegated task, alice's ID token as the
    /// subject, with `extra` pairs.
    async fn delegated_form(&self, jti: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let subject = self.id_token(&self.alice).await;
        let mut form = vec![
            ("grant_type".to_owned(), TOKEN_EXCHANGE.to_owned()),
            ("subject_token".to_owned(), subject),
            ("subject_token_type".to_owned(), ID_TOKEN_TYPE.to_owned()),
            ("actor_token".to_owned(), self.agent_proof(jti, 120)),
            ("actor_token_type".to_owned(), JWT_TOKEN_TYPE.to_owned()),
            ("task_id".to_owned(), "task-delegated".to_owned()),
        ];
        for (k, v) in extra {
            form.retain(|(name, _)| name != k || *k == "resource");
            form.push(((*k).to_owned(), (*v).to_owned()));
        }
        form
    }

    async fn exchange_on(
        &self,
        node: &Service,
        form: Vec<(String, String)>,
        dpop: Option<&str>,
    ) -> Result<Value, OidcError> {
        let url = self.token_url();
        node.oidc_token(
            &OidcParams::new(form),
            &ClientCredentials::default(),
            &TokenProof { dpop, url: &url },
            &ClientContext::default(),
        )
        .await
    }

    async fn exchange(
        &self,
        form: Vec<(String, String)>,
        dpop: Option<&str>,
    ) -> Result<Value, OidcError> {
        self.exchange_on(&self.a, form, dpop).await
    }

    /// A task token for the delegated task (all resources unless asked).
    async fn task_token(&self, extra: &[(&str, &str)]) -> String {
        let jti = format!("actor-{}", rand_jti());
        let form = self.delegated_form(&jti, extra).await;
        let proof = self.proof("POST", &self.token_url(), &rand_jti(), None);
        let reply = self.exchange(form, Some(&proof)).await.unwrap();
        reply["access_token"].as_str().unwrap().to_owned()
    }

    /// The last audit event of `kind`.
    async fn last(&self, kind: &str) -> keybound_audit::NewEvent {
        self.a
            .store()
            .audit_events()
            .await
            .unwrap()
            .into_iter()
            .rev()
            .find(|e| e.event.kind == kind)
            .unwrap_or_else(|| panic!("no {kind} event"))
            .event
    }

    async fn count(&self, kind: &str, outcome: keybound_audit::Outcome) -> usize {
        self.a
            .store()
            .audit_events()
            .await
            .unwrap()
            .iter()
            .filter(|e| e.event.kind == kind && e.event.outcome == Some(outcome))
            .count()
    }

    /// Asserts the exchange was refused with `told`, audited as `reason`,
    /// and issued nothing.
    async fn refused(&self, got: Result<Value, OidcError>, told: OAuthError, reason: Refusal) {
        let issued = self
            .count("task.token", keybound_audit::Outcome::Success)
            .await;
        assert_eq!(got, Err(OidcError::OAuth(told)), "{reason}");
        let event = self.last("task.token").await;
        assert_eq!(event.outcome, Some(keybound_audit::Outcome::Failure));
        assert_eq!(event.reason.as_deref(), Some(reason.reason()));
        assert_eq!(
            self.count("task.token", keybound_audit::Outcome::Success)
                .await,
            issued,
            "nothing issued"
        );
    }

    async fn forward_on(
        &self,
        node: &Service,
        token: &str,
        proof: Option<&str>,
        method: &str,
        url: &str,
    ) -> ForwardDecision {
        let request = ForwardedRequest::from_url(method, url).unwrap();
        node.forward_auth_task(token, proof, &request, &ClientContext::default())
            .await
            .unwrap()
    }

    /// Asserts a forward-auth refusal: 401 with `error`, audited as
    /// `reason`.
    async fn unauthorized(&self, got: ForwardDecision, error: &str, reason: Refusal) {
        match got {
            ForwardDecision::Unauthorized { error: e, nonce } => {
                assert_eq!(e, error, "{reason}");
                assert!(nonce.is_some(), "a fresh nonce comes with every 401");
            }
            other => panic!("{reason}: {other:?}"),
        }
        let event = self.last("task.use").await;
        assert_eq!(event.outcome, Some(keybound_audit::Outcome::Failure));
        assert_eq!(event.reason.as_deref(), Some(reason.reason()));
    }

    async fn end_task(&self, id: &str) {
        let mut tx = self.a.store().begin().await.unwrap();
        assert!(tx
            .finish_task(id, "ended", "alice", "done", self.now_s() * 1000)
            .await
            .unwrap());
        tx.commit().await.unwrap();
    }
}

async fn introspect(node: &Service, token: &str, credentials: &ClientCredentials) -> Value {
    let params = OidcParams::new(vec![("token".into(), token.to_owned())]);
    node.oidc_introspect(&params, credentials, &ClientContext::default())
        .await
        .unwrap()
}

fn rand_jti() -> String {
    use aws_lc_rs::rand::SecureRandom as _;
    let mut bytes = [0u8; 12];
    rng().fill(&mut bytes).unwrap();
    keybound_webauthn::b64::encode(&bytes)
}

fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&keybound_webauthn::b64::decode(payload).unwrap()).unwrap()
}

fn header_of(token: &str) -> Value {
    let header = token.split('.').next().unwrap();
    serde_json::from_slice(&keybound_webauthn::b64::decode(header).unwrap()).unwrap()
}

#[tokio::test]
async fn a_delegated_task_token_is_dpop_bound_and_names_the_chain() {
    let w = world().await;
    let form = w
        .delegated_form("a1", &[("resource", API), ("scope", "read")])
        .await;
    let proof = w.proof("POST", &w.token_url(), "p1", None);
    let reply = w.exchange(form, Some(&proof)).await.unwrap();
    assert_eq!(reply["token_type"], "DPoP");
    assert_eq!(reply["issued_token_type"], ACCESS_TOKEN_TYPE);
    assert_eq!(reply["scope"], "read");
    assert_eq!(reply["expires_in"], 300);
    let token = reply["access_token"].as_str().unwrap();
    assert_eq!(header_of(token)["typ"], "at+jwt");
    assert_eq!(header_of(token)["alg"], "ES256");
    let claims = claims_of(token);
    assert_eq!(claims["iss"], w.issuer());
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["act"], json!({"sub": "report-bot"}));
    assert_eq!(claims["client_id"], "report-bot");
    assert_eq!(claims["aud"], API, "one resource: a string");
    assert_eq!(claims["scope"], "read");
    assert_eq!(claims["task_id"], "task-delegated");
    let jkt = w.dpop_key.public_jwk(None).unwrap().thumbprint();
    assert_eq!(claims["cnf"], json!({"jkt": jkt}));
    assert_eq!(claims["exp"], w.now_s() + 300);
    let event = w.last("task.token").await;
    assert_eq!(event.outcome, Some(keybound_audit::Outcome::Success));
    assert_eq!(event.subject.as_deref(), Some("report-bot"));
    for (name, value) in [
        ("task", "task-delegated"),
        ("agent", "report-bot"),
        ("delegator", "alice"),
        ("jkt", jkt.as_str()),
        ("resources", API),
        ("scope", "read"),
    ] {
        assert_eq!(
            event.details.get(name).map(String::as_str),
            Some(value),
            "{name}"
        );
    }
    assert!(event
        .details
        .get("agent_proof")
        .unwrap()
        .starts_with("key:"));

    // Nothing asked: every resource (an array) and every action; never
    // past the task's end.
    w.clock.0.fetch_add(800_000, Ordering::SeqCst);
    let token = w.task_token(&[]).await;
    let claims = claims_of(&token);
    assert_eq!(claims["aud"], json!([API, OTHER_API]));
    assert_eq!(claims["scope"], "read write");
    assert_eq!(
        claims["exp"],
        (NOW + 900_000) / 1000,
        "capped at the task's end"
    );
}

#[tokio::test]
async fn an_autonomous_task_token_is_the_agents_own() {
    let w = world().await;
    let actor = w.agent_proof("auto-1", 120);
    let form = vec![
        ("grant_type".to_owned(), TOKEN_EXCHANGE.to_owned()),
        ("subject_token".to_owned(), actor.clone()),
        ("subject_token_type".to_owned(), JWT_TOKEN_TYPE.to_owned()),
        ("actor_token".to_owned(), actor),
        ("actor_token_type".to_owned(), JWT_TOKEN_TYPE.to_owned()),
        ("task_id".to_owned(), "task-autonomous".to_owned()),
    ];
    let proof = w.proof("POST", &w.token_url(), "p-auto", None);
    let reply = w.exchange(form.clone(), Some(&proof)).await.unwrap();
    let claims = claims_of(reply["access_token"].as_str().unwrap());
    assert_eq!(claims["sub"], "report-bot");
    assert_eq!(claims["act"]["sub"], "report-bot");
    assert_eq!(
        w.last("task.token")
            .await
            .details
            .get("delegator")
            .map(String::as_str),
        Some("-")
    );

    // A person's token for an autonomous task is not the agent's proof.
    let mut form = form;
    form[1] = ("subject_token".into(), w.id_token(&w.alice).await);
    form[2] = ("subject_token_type".into(), ID_TOKEN_TYPE.into());
    form[3] = ("actor_token".into(), w.agent_proof("auto-2", 120));
    let proof = w.proof("POST", &w.token_url(), "p-auto-2", None);
    let got = w.exchange(form, Some(&proof)).await;
    w.refused(
        got,
        OAuthError::InvalidRequest,
        Refusal::ExchangeSubjectInvalid,
    )
    .await;
}

#[tokio::test]
async fn hostile_exchanges_are_refused_with_the_rfcs_errors() {
    let w = world().await;
    let url = w.token_url();

    // No DPoP proof: no bearer tokens for agents.
    let form = w.delegated_form("h1", &[]).await;
    let got = w.exchange(form, None).await;
    w.refused(got, OAuthError::InvalidRequest, Refusal::DpopMissing)
        .await;

    // No nonce, or one of another deployment: use the one sent.
    let form = w.delegated_form("h1n", &[]).await;
    let proof = w.proof_with(&w.dpop_key, "POST", &url, "n1", None, None);
    let got = w.exchange(form, Some(&proof)).await;
    w.refused(got, OAuthError::UseDpopNonce, Refusal::DpopNonceRequired)
        .await;
    let form = w.delegated_form("h1m", &[]).await;
    let proof = w.proof_with(&w.dpop_key, "POST", &url, "n2", None, Some("made-up"));
    let got = w.exchange(form, Some(&proof)).await;
    w.refused(got, OAuthError::UseDpopNonce, Refusal::DpopNonceRequired)
        .await;

    // A proof for another URL, another method.
    let form = w.delegated_form("h2", &[]).await;
    let proof = w.proof("POST", "https://kb.test/elsewhere", "x1", None);
    let got = w.exchange(form, Some(&proof)).await;
    assert_eq!(got, Err(OidcError::OAuth(OAuthError::InvalidDpopProof)));
    let form = w.delegated_form("h3", &[]).await;
    let proof = w.proof("GET", &url, "x2", None);
    let got = w.exchange(form, Some(&proof)).await;
    assert_eq!(got, Err(OidcError::OAuth(OAuthError::InvalidDpopProof)));

    // A stale proof.
    let stale = {
        let nonce = super::nonce::make(w.a.dpop.0.get().unwrap(), super::nonce::step_of(w.now_s()));
        w.clock.0.fetch_sub(120_000, Ordering::SeqCst);
        let p = w.proof_with(&w.dpop_key, "POST", &url, "x3", None, Some(&nonce));
        w.clock.0.fetch_add(120_000, Ordering::SeqCst);
        p
    };
    let form = w.delegated_form("h4", &[]).await;
    let got = w.exchange(form, Some(&stale)).await;
    assert_eq!(got, Err(OidcError::OAuth(OAuthError::InvalidDpopProof)));

    // alg none.
    let none = format!(
        "{}.{}.",
        keybound_webauthn::b64::encode(
            json!({"typ": "dpop+jwt", "alg": "none",
                   "jwk": w.dpop_key.public_jwk(None).unwrap().to_json()})
            .to_string()
            .as_bytes()
        ),
        keybound_webauthn::b64::encode(
            json!({"jti": "x4", "htm": "POST", "htu": url, "iat": w.now_s()})
                .to_string()
                .as_bytes()
        )
    );
    let form = w.delegated_form("h5", &[]).await;
    let got = w.exchange(form, Some(&none)).await;
    assert_eq!(got, Err(OidcError::OAuth(OAuthError::InvalidDpopProof)));

    // A private key in the JWK.
    let mut private = w.dpop_key.public_jwk(None).unwrap().to_json();
    private["d"] = json!("AAAA");
    let mut header = Map::new();
    header.insert("typ".into(), json!("dpop+jwt"));
    header.insert("jwk".into(), private);
    let leaky = keybound_jose::sign(
        &header,
        &json!({"jti": "x5", "htm": "POST", "htu": url, "iat": w.now_s()}),
        &w.dpop_key,
        &rng(),
    )
    .unwrap();
    let form = w.delegated_form("h6", &[]).await;
    let got = w.exchange(form, Some(&leaky)).await;
    assert_eq!(got, Err(OidcError::OAuth(OAuthError::InvalidDpopProof)));
    let event = w.last("task.token").await;
    assert!(
        matches!(event.reason.as_deref(), Some(r) if r.starts_with("dpop")),
        "{:?}",
        event.reason
    );

    // An expired actor token.
    let mut form = w.delegated_form("h7", &[]).await;
    form[3] = ("actor_token".into(), w.agent_proof("h7b", -300));
    let proof = w.proof("POST", &url, "x6", None);
    let got = w.exchange(form, Some(&proof)).await;
    w.refused(got, OAuthError::InvalidGrant, Refusal::AgentProofExpired)
        .await;

    // No actor token.
    let mut form = w.delegated_form("h8", &[]).await;
    form.retain(|(k, _)| k != "actor_token");
    let proof = w.proof("POST", &url, "x7", None);
    let got = w.exchange(form, Some(&proof)).await;
    w.refused(
        got,
        OAuthError::InvalidRequest,
        Refusal::ExchangeActorMissing,
    )
    .await;

    // Another person's subject token.
    let mut form = w.delegated_form("h9", &[]).await;
    form[1] = ("subject_token".into(), w.id_token(&w.bob).await);
    let proof = w.proof("POST", &url, "x8", None);
    let got = w.exchange(form, Some(&proof)).await;
    w.refused(
        got,
        OAuthError::InvalidGrant,
        Refusal::ExchangeSubjectNotDelegator,
    )
    .await;

    // A resource the task does not cover; a scope it does not have.
    let form = w
        .delegated_form("h10", &[("resource", "https://evil.test/")])
        .await;
    let proof = w.proof("POST", &url, "x9", None);
    let got = w.exchange(form, Some(&proof)).await;
    w.refused(
        got,
        OAuthError::InvalidTarget,
        Refusal::ExchangeResourceNotInTask,
    )
    .await;
    let form = w.delegated_form("h11", &[("scope", "read delete")]).await;
    let proof = w.proof("POST", &url, "x10", None);
    let got = w.exchange(form, Some(&proof)).await;
    w.refused(
        got,
        OAuthError::InvalidScope,
        Refusal::ExchangeScopeNotInTask,
    )
    .await;

    // Another agent's or an unknown task; an ended one.
    let form = w.delegated_form("h12", &[("task_id", "task-nobody")]).await;
    let proof = w.proof("POST", &url, "x11", None);
    let got = w.exchange(form, Some(&proof)).await;
    w.refused(got, OAuthError::InvalidGrant, Refusal::ExchangeTaskUnknown)
        .await;
    w.end_task("task-delegated").await;
    let form = w.delegated_form("h13", &[]).await;
    let proof = w.proof("POST", &url, "x12", None);
    let got = w.exchange(form, Some(&proof)).await;
    w.refused(
        got,
        OAuthError::InvalidGrant,
        Refusal::ExchangeTaskNotActive,
    )
    .await;
}

#[tokio::test]
async fn a_token_request_proof_is_taken_once_across_nodes() {
    let w = world().await;
    let proof = w.proof("POST", &w.token_url(), "once", None);
    let form = w.delegated_form("r1", &[]).await;
    w.exchange_on(&w.a, form, Some(&proof)).await.unwrap();
    let form = w.delegated_form("r2", &[]).await;
    let got = w.exchange_on(&w.b, form, Some(&proof)).await;
    w.refused(got, OAuthError::InvalidDpopProof, Refusal::DpopReplayed)
        .await;
}

#[tokio::test]
async fn forward_auth_admits_a_task_token_with_its_proof_and_counts_the_use() {
    let w = world().await;
    let token = w.task_token(&[]).await;
    let url = "https://api.example.test/reports/1";
    let proof = w.proof("GET", url, "f1", Some(&token));
    let got = w
        .forward_on(&w.a, &token, Some(&proof), "GET", &format!("{url}?week=3"))
        .await;
    let ForwardDecision::Allow(grant) = got else {
        panic!("{got:?}");
    };
    assert_eq!(grant.user, "alice", "on behalf of the delegator");
    assert_eq!(grant.groups, vec!["agent".to_owned()]);
    assert_eq!(grant.tier, 2, "the approval's tier");
    assert_eq!(grant.agent.as_deref(), Some("report-bot"));
    assert_eq!(grant.task.as_deref(), Some("task-delegated"));
    let mut tx = w.a.store().read().await.unwrap();
    assert_eq!(tx.task("task-delegated").await.unwrap().unwrap().uses, 1);
    drop(tx);

    // Aggregated: one task.use event with the count.
    let proof = w.proof("GET", url, "f2", Some(&token));
    let again = w.forward_on(&w.a, &token, Some(&proof), "GET", url).await;
    assert!(matches!(again, ForwardDecision::Allow(_)));
    assert_eq!(w.a.flush_task_uses().await.unwrap(), 1);
    let event = w.last("task.use").await;
    assert_eq!(event.details.get("count").map(String::as_str), Some("2"));
    assert_eq!(
        event.details.get("delegator").map(String::as_str),
        Some("alice")
    );
    assert_eq!(w.a.flush_task_uses().await.unwrap(), 0, "counted once");

    // Policy still decides: the other API has no permit.
    let other = "https://b.example.test/x";
    let proof = w.proof("GET", other, "f3", Some(&token));
    let denied = w.forward_on(&w.a, &token, Some(&proof), "GET", other).await;
    assert!(matches!(denied, ForwardDecision::Deny { .. }), "{denied:?}");
}

#[tokio::test]
async fn forward_auth_refuses_every_hostile_task_token_request() {
    let w = world().await;
    let token = w.task_token(&[("resource", API)]).await;
    let url = "https://api.example.test/reports";

    // Without its DPoP key: a proof by another key.
    let thief = key();
    let proof = w.proof_by(&thief, "GET", url, "t1", Some(&token));
    let got = w.forward_on(&w.a, &token, Some(&proof), "GET", url).await;
    w.unauthorized(got, "invalid_dpop_proof", Refusal::TaskTokenKeyMismatch)
        .await;

    // No proof at all.
    let got = w.forward_on(&w.a, &token, None, "GET", url).await;
    w.unauthorized(got, "invalid_dpop_proof", Refusal::DpopMissing)
        .await;

    // A proof for another URL, another method.
    let proof = w.proof("GET", "https://api.example.test/other", "t2", Some(&token));
    let got = w.forward_on(&w.a, &token, Some(&proof), "GET", url).await;
    assert!(matches!(
        got,
        ForwardDecision::Unauthorized {
            error: "invalid_dpop_proof",
            ..
        }
    ));
    let proof = w.proof("POST", url, "t3", Some(&token));
    let got = w.forward_on(&w.a, &token, Some(&proof), "GET", url).await;
    assert!(matches!(
        got,
        ForwardDecision::Unauthorized {
            error: "invalid_dpop_proof",
            ..
        }
    ));

    // A proof for another token (ath).
    let other_token = w.task_token(&[("resource", API)]).await;
    let proof = w.proof("GET", url, "t4", Some(&other_token));
    let got = w.forward_on(&w.a, &token, Some(&proof), "GET", url).await;
    assert!(matches!(
        got,
        ForwardDecision::Unauthorized {
            error: "invalid_dpop_proof",
            ..
        }
    ));

    // Replayed on a second node.
    let proof = w.proof("GET", url, "t5", Some(&token));
    let first = w.forward_on(&w.a, &token, Some(&proof), "GET", url).await;
    assert!(matches!(first, ForwardDecision::Allow(_)), "{first:?}");
    let got = w.forward_on(&w.b, &token, Some(&proof), "GET", url).await;
    w.unauthorized(got, "invalid_dpop_proof", Refusal::DpopReplayed)
        .await;

    // A token for resource A at resource B.
    let b_url = "https://b.example.test/reports";
    let proof = w.proof("GET", b_url, "t6", Some(&token));
    let got = w.forward_on(&w.a, &token, Some(&proof), "GET", b_url).await;
    w.unauthorized(got, "invalid_token", Refusal::TaskTokenWrongResource)
        .await;

    // As a bearer token.
    let got =
        w.a.forward_auth_bearer(&token, &ClientContext::default())
            .await
            .unwrap()
            .unwrap();
    w.unauthorized(got, "invalid_token", Refusal::TaskTokenAsBearer)
        .await;
    assert_eq!(
        w.a.forward_auth_bearer("not-a-task-token", &ClientContext::default())
            .await
            .unwrap(),
        None
    );

    // A forged token (signed by the agent's key, not keybound's).
    let mut header = Map::new();
    header.insert("typ".into(), json!("at+jwt"));
    let forged = keybound_jose::sign(&header, &claims_of(&token), &w.agent_key, &rng()).unwrap();
    let proof = w.proof("GET", url, "t7", Some(&forged));
    let got = w.forward_on(&w.a, &forged, Some(&proof), "GET", url).await;
    w.unauthorized(got, "invalid_token", Refusal::TaskTokenInvalid)
        .await;

    // After its task ended: refused at the next request on both nodes.
    w.end_task("task-delegated").await;
    for (node, jti) in [(&w.a, "t8"), (&w.b, "t9")] {
        let proof = w.proof("GET", url, jti, Some(&token));
        let got = w.forward_on(node, &token, Some(&proof), "GET", url).await;
        w.unauthorized(got, "invalid_token", Refusal::TaskTokenTaskEnded)
            .await;
    }

    // Past its exp.
    let fresh = world().await;
    let token = fresh.task_token(&[]).await;
    fresh.clock.0.fetch_add(301_000, Ordering::SeqCst);
    let proof = fresh.proof("GET", url, "t10", Some(&token));
    let got = fresh
        .forward_on(&fresh.a, &token, Some(&proof), "GET", url)
        .await;
    fresh
        .unauthorized(got, "invalid_token", Refusal::TaskTokenExpired)
        .await;
}

#[tokio::test]
async fn introspection_follows_the_task_and_revocation_needs_only_the_token() {
    let w = world().await;
    let token = w.task_token(&[("resource", API)]).await;
    let secret = w.client.secret.clone().unwrap();
    let credentials = ClientCredentials {
        basic: Some((w.client.client.client_id.clone(), secret)),
    };
    let answer = introspect(&w.b, &token, &credentials).await;
    assert_eq!(answer["active"], true);
    assert_eq!(answer["token_type"], "DPoP");
    assert_eq!(answer["sub"], "alice");
    assert_eq!(answer["act"]["sub"], "report-bot");
    assert_eq!(answer["client_id"], "report-bot");
    assert_eq!(answer["task_id"], "task-delegated");
    assert_eq!(answer["aud"], API);
    assert_eq!(answer["scope"], "read write");
    assert_eq!(
        answer["cnf"]["jkt"],
        w.dpop_key.public_jwk(None).unwrap().thumbprint()
    );
    assert_eq!(answer["exp"], w.now_s() + 300);

    // Revoked by presenting it, without client authentication.
    let other = w.task_token(&[("resource", API)]).await;
    w.a.oidc_revoke(
        &OidcParams::new(vec![("token".into(), other.clone())]),
        &ClientCredentials::default(),
        &ClientContext::default(),
    )
    .await
    .unwrap();
    let event = w.last("oidc.revoke").await;
    assert_eq!(event.outcome, Some(keybound_audit::Outcome::Success));
    assert_eq!(
        event.details.get("task").map(String::as_str),
        Some("task-delegated")
    );
    assert_eq!(event.details.get("revoked").map(String::as_str), Some("1"));
    let url = "https://api.example.test/r";
    let proof = w.proof("GET", url, "v1", Some(&other));
    let got = w.forward_on(&w.b, &other, Some(&proof), "GET", url).await;
    w.unauthorized(got, "invalid_token", Refusal::TaskTokenRevoked)
        .await;
    let params = OidcParams::new(vec![("token".into(), other.clone())]);
    let answer =
        w.a.oidc_introspect(&params, &credentials, &ClientContext::default())
            .await
            .unwrap();
    assert_eq!(answer, json!({"active": false}));

    // The task ended: inactive at once.
    w.end_task("task-delegated").await;
    assert_eq!(
        introspect(&w.a, &token, &credentials).await,
        json!({"active": false})
    );
}

#[tokio::test]
async fn discovery_names_the_exchange_and_dpop_algorithms() {
    let w = world().await;
    let doc = w.a.oidc_discovery();
    let grants = doc["grant_types_supported"].as_array().unwrap();
    assert!(grants.contains(&json!(TOKEN_EXCHANGE)));
    let algs = doc["dpop_signing_alg_values_supported"].as_array().unwrap();
    assert!(algs.contains(&json!("ES256")));
    assert!(!algs.contains(&json!("none")));
}
