//! Device Bound Session Credentials (issue 16, item 3) with a client
//! written from the specification: a session key signs `dbsc+jwt` proofs
//! whose `jti` is the server's challenge. A session bound to it admits
//! only with the bound cookie a refresh renews, so a copied session
//! cookie stops working at the refresh interval; and the hostile proofs
//! are refused with their reason in the audit log.

use super::*;
use keybound_jose::{Algorithm as JoseAlg, SigningKey};
use serde_json::{json, Map};

const APP: &str = r#"@id("app-everyone")
permit (principal, action in Keybound::Action::"http", resource in Keybound::App::"app.example.com");"#;

/// The browser's side of DBSC: a session key and the proofs it signs.
struct SessionKey(SigningKey);

impl SessionKey {
    fn new(alg: JoseAlg) -> Self {
        SessionKey(SigningKey::from_pkcs8(alg, &SigningKey::generate_pkcs8(alg).unwrap()).unwrap())
    }

    /// A proof answering `challenge`; at registration the header carries
    /// the public key as `jwk`.
    fn proof(&self, challenge: &str, registration: bool) -> String {
        let mut header = Map::new();
        header.insert("typ".into(), "dbsc+jwt".into());
        if registration {
            header.insert("jwk".into(), self.0.public_jwk(None).unwrap().to_json());
        }
        keybound_jose::sign(
            &header,
            &json!({"jti": challenge}),
            &self.0,
            &aws_lc_rs::rand::SystemRandom::new(),
        )
        .unwrap()
    }
}

fn ctx() -> ClientContext {
    ClientContext::default()
}

async fn dbsc_world() -> World {
    let w = world_with(|c| c.dbsc_refresh_ms = 60_000).await;
    let set = keybound_service::policies::PolicySet::load(&[("app.cedar", APP)]).unwrap();
    w.service
        .install_policies(set, PolicyLoad::Start, None)
        .await
        .unwrap();
    w
}

async fn session_of(w: &World, name: &str) -> String {
    let (mut cred, _) = w.enrol(name).await;
    let (_, signed) = w.sign_in(&mut cred, name, &Tweaks::default()).await;
    signed.unwrap().session.value
}

async fn forward(w: &World, session: &str, bound: Option<&str>) -> bool {
    let request = ForwardedRequest::new("GET", "https", "app.example.com", "/x").unwrap();
    matches!(
        w.service
            .forward_auth(Some(session), bound, &request, &ctx())
            .await
            .unwrap(),
        ForwardDecision::Allow(_)
    )
}

/// Whether the pages' gate lets the session act with `bound`.
async fn admits(w: &World, session: &str, bound: Option<&str>) -> bool {
    w.service
        .dbsc_gate(session, bound, false)
        .await
        .unwrap()
        .admits()
}

/// Whether the pages' gate invites the session to bind.
async fn invited(w: &World, session: &str) -> bool {
    w.service.dbsc_gate(session, None, true).await.unwrap() == DbscGate::Unbound { invite: true }
}

async fn register(w: &World, session: &str, key: &SessionKey) -> DbscBound {
    let challenge = w.service.dbsc_offer(session);
    w.service
        .dbsc_register(session, &key.proof(&challenge, true), &ctx())
        .await
        .unwrap()
}

async fn refresh(
    w: &World,
    bound: &DbscBound,
    session: &str,
    key: &SessionKey,
) -> Result<DbscBound, ServiceError> {
    let challenge = w.service.dbsc_refresh_challenge(&bound.id).await.unwrap();
    w.service
        .dbsc_refresh(
            &bound.id,
            Some(session),
            &key.proof(&challenge, false),
            &ctx(),
        )
        .await
}

/// The `dbsc.refused` reasons recorded, in order.
async fn refusals(w: &World) -> Vec<String> {
    w.audit()
        .await
        .into_iter()
        .filter(|e| e.event.kind == "dbsc.refused")
        .map(|e| e.event.reason.unwrap_or_default())
        .collect()
}

fn rejected(result: Result<DbscBound, ServiceError>, reason: Refusal) {
    assert_eq!(result.unwrap_err(), ServiceError::Rejected(reason));
}

#[tokio::test]
async fn a_bound_session_refreshes_by_proof_and_a_copied_cookie_stops_at_the_interval() {
    let w = dbsc_world().await;
    let session = session_of(&w, "ada").await;
    // Never bound (a browser without DBSC): the cookie alone admits, and
    // the forward cache now holds the session as unbound.
    assert!(forward(&w, &session, None).await);
    assert!(admits(&w, &session, None).await);

    let key = SessionKey::new(JoseAlg::Es256);
    let bound = register(&w, &session, &key).await;
    assert_eq!(bound.max_age_s, 60);
    // Bound: the cached entry was dropped by `dbsc.register`, and the
    // session cookie alone (a copy) admits no more.
    assert!(!forward(&w, &session, None).await);
    assert!(!admits(&w, &session, None).await);
    assert!(!forward(&w, &session, Some("junk")).await);
    assert!(forward(&w, &session, Some(&bound.bound_cookie)).await);
    assert!(admits(&w, &session, Some(&bound.bound_cookie)).await);

    // The interval passes: the old bound cookie (what a thief copied along)
    // stops working; the key holder refreshes and goes on.
    w.clock.0.fetch_add(60_000, Ordering::SeqCst);
    assert!(!forward(&w, &session, Some(&bound.bound_cookie)).await);
    assert!(!admits(&w, &session, Some(&bound.bound_cookie)).await);
    let renewed = refresh(&w, &bound, &session, &key).await.unwrap();
    assert_eq!(renewed.id, bound.id);
    assert!(forward(&w, &session, Some(&renewed.bound_cookie)).await);

    // Without the key there is no renewal.
    let thief = SessionKey::new(JoseAlg::Es256);
    rejected(
        refresh(&w, &bound, &session, &thief).await,
        Refusal::DbscProofSignature,
    );

    let kinds: Vec<_> = w
        .audit()
        .await
        .into_iter()
        .map(|e| e.event.kind)
        .filter(|k| k.starts_with("dbsc."))
        .collect();
    assert_eq!(
        kinds,
        ["dbsc.register", "dbsc.refused"],
        "refreshes are not audited"
    );
    assert_eq!(refusals(&w).await, ["dbsc_proof_signature: refresh"]);
}

#[tokio::test]
async fn rs256_session_keys_bind_too() {
    let w = dbsc_world().await;
    let session = session_of(&w, "ada").await;
    let key = SessionKey::new(JoseAlg::Rs256);
    let bound = register(&w, &session, &key).await;
    w.clock.0.fetch_add(1_000, Ordering::SeqCst);
    assert!(refresh(&w, &bound, &session, &key).await.is_ok());
}

#[tokio::test]
async fn hostile_registration_proofs_are_refused_and_bind_nothing() {
    let w = dbsc_world().await;
    let session = session_of(&w, "ada").await;
    let key = SessionKey::new(JoseAlg::Es256);
    let challenge = w.service.dbsc_offer(&session);
    let b64 = |v: &serde_json::Value| keybound_webauthn::b64::encode(v.to_string().as_bytes());
    let jwk = key.0.public_jwk(None).unwrap().to_json();
    let mut private = jwk.clone();
    private["d"] = "AAAA".into();
    let claims = json!({"jti": challenge});
    let none = format!(
        "{}.{}.",
        b64(&json!({"typ": "dbsc+jwt", "alg": "none", "jwk": jwk})),
        b64(&claims)
    );
    let mut header = Map::new();
    header.insert("typ".into(), "dbsc+jwt".into());
    header.insert("jwk".into(), private);
    let with_private = keybound_jose::sign(
        &header,
        &claims,
        &key.0,
        &aws_lc_rs::rand::SystemRandom::new(),
    )
    .unwrap();
    let huge = format!(
        "{}.{}.AAAA",
        b64(&json!({"typ": "dbsc+jwt", "alg": "ES256", "x": "a".repeat(20_000)})),
        b64(&claims)
    );
    let other_session = session_of(&w, "bob").await;
    let cases = [
        (none, Refusal::DbscProofAlgorithm),
        (with_private, Refusal::DbscProofMalformed),
        (huge, Refusal::DbscProofMalformed),
        (String::new(), Refusal::DbscProofMalformed),
        (
            // Bob's challenge answered for Ada's session.
            key.proof(&w.service.dbsc_offer(&other_session), true),
            Refusal::DbscChallengeInvalid,
        ),
        (key.proof("made-up", true), Refusal::DbscChallengeInvalid),
    ];
    for (proof, reason) in cases {
        rejected(
            w.service.dbsc_register(&session, &proof, &ctx()).await,
            reason,
        );
    }
    assert!(forward(&w, &session, None).await, "still unbound");
    assert_eq!(refusals(&w).await.len(), 6);
    assert!(refusals(&w)
        .await
        .iter()
        .all(|r| r.starts_with("dbsc_") && r.ends_with(": registration")));
}

#[tokio::test]
async fn a_challenge_is_answered_once_and_only_while_fresh() {
    let w = dbsc_world().await;
    let session = session_of(&w, "ada").await;
    let key = SessionKey::new(JoseAlg::Es256);
    let challenge = w.service.dbsc_offer(&session);
    let proof = key.proof(&challenge, true);
    let bound = w
        .service
        .dbsc_register(&session, &proof, &ctx())
        .await
        .unwrap();
    rejected(
        w.service.dbsc_register(&session, &proof, &ctx()).await,
        Refusal::DbscChallengeReplayed,
    );
    // A second registration with a fresh challenge: already bound.
    rejected(
        w.service
            .dbsc_register(
                &session,
                &key.proof(&w.service.dbsc_offer(&session), true),
                &ctx(),
            )
            .await,
        Refusal::DbscAlreadyBound,
    );

    let challenge = w.service.dbsc_refresh_challenge(&bound.id).await.unwrap();
    let proof = key.proof(&challenge, false);
    assert!(w
        .service
        .dbsc_refresh(&bound.id, Some(&session), &proof, &ctx())
        .await
        .is_ok());
    rejected(
        w.service
            .dbsc_refresh(&bound.id, Some(&session), &proof, &ctx())
            .await,
        Refusal::DbscChallengeReplayed,
    );
    // A registration challenge does not answer a refresh.
    rejected(
        w.service
            .dbsc_refresh(
                &bound.id,
                Some(&session),
                &key.proof(&w.service.dbsc_offer(&session), false),
                &ctx(),
            )
            .await,
        Refusal::DbscChallengeInvalid,
    );
    // Expired: issued, then answered after the challenge lifetime.
    let challenge = w.service.dbsc_refresh_challenge(&bound.id).await.unwrap();
    w.clock.0.fetch_add(5 * 60 * 1000, Ordering::SeqCst);
    rejected(
        w.service
            .dbsc_refresh(
                &bound.id,
                Some(&session),
                &key.proof(&challenge, false),
                &ctx(),
            )
            .await,
        Refusal::DbscChallengeExpired,
    );
    let late = session_of(&w, "bob").await;
    let stale = w.service.dbsc_offer(&late);
    w.clock.0.fetch_add(5 * 60 * 1000, Ordering::SeqCst);
    rejected(
        w.service
            .dbsc_register(&late, &key.proof(&stale, true), &ctx())
            .await,
        Refusal::DbscChallengeExpired,
    );
}

#[tokio::test]
async fn a_refresh_needs_the_bound_session_live_and_its_own_cookie() {
    let w = dbsc_world().await;
    let session = session_of(&w, "ada").await;
    let other = session_of(&w, "bob").await;
    let key = SessionKey::new(JoseAlg::Es256);
    let bound = register(&w, &session, &key).await;

    let challenge = w.service.dbsc_refresh_challenge(&bound.id).await.unwrap();
    for cookie in [Some(other.as_str()), None] {
        rejected(
            w.service
                .dbsc_refresh(&bound.id, cookie, &key.proof(&challenge, false), &ctx())
                .await,
            Refusal::DbscSessionMismatch,
        );
    }
    for id in ["", "unknown", &"f".repeat(MAX_DBSC_SESSION_ID + 1)] {
        assert_eq!(
            w.service.dbsc_refresh_challenge(id).await.unwrap_err(),
            ServiceError::NotFound
        );
        rejected(
            w.service
                .dbsc_refresh(id, Some(&session), &key.proof(&challenge, false), &ctx())
                .await,
            Refusal::DbscSessionNotLive,
        );
    }

    // Signing out ends the binding at once: no challenge, no refresh.
    let challenge = w.service.dbsc_refresh_challenge(&bound.id).await.unwrap();
    assert!(w.service.sign_out(&session, &ctx()).await.unwrap());
    assert_eq!(
        w.service
            .dbsc_refresh_challenge(&bound.id)
            .await
            .unwrap_err(),
        ServiceError::NotFound
    );
    rejected(
        w.service
            .dbsc_refresh(
                &bound.id,
                Some(&session),
                &key.proof(&challenge, false),
                &ctx(),
            )
            .await,
        Refusal::DbscSessionNotLive,
    );
    // Nor can an ended session be bound.
    rejected(
        w.service
            .dbsc_register(
                &session,
                &key.proof(&w.service.dbsc_offer(&session), true),
                &ctx(),
            )
            .await,
        Refusal::DbscSessionNotLive,
    );
}

#[tokio::test]
async fn a_refresh_proof_is_answered_once_across_nodes_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    replayed_on_another_node(&format!("sqlite://{}", dir.path().join("kb.db").display())).await;
}

#[tokio::test]
async fn a_refresh_proof_is_answered_once_across_nodes_on_postgres() {
    let Some(pg) = keybound_testdb::shared("dbsc replay across nodes") else {
        return;
    };
    replayed_on_another_node(&pg.fresh_database()).await;
}

/// Two nodes on the database at `url`: a refresh proof accepted by one is
/// a replay on the other, and so is a registration proof.
async fn replayed_on_another_node(url: &str) {
    let clock = Arc::new(FakeClock(AtomicI64::new(1_800_000_000_000)));
    let node = |seed: u64| {
        let (url, clock) = (url.to_owned(), clock.clone());
        async move {
            let config = Config::new(RP_ID, OriginPolicy::exact([ORIGIN]).unwrap(), [9; 32]);
            World {
                service: Service::new(
                    Store::open(&url).await.unwrap(),
                    config,
                    clock.clone(),
                    Box::new(rand_chacha::ChaCha20Rng::seed_from_u64(seed)),
                ),
                clock,
                auth: Authenticator::default(),
            }
        }
    };
    let a = node(1).await;
    let b = node(2).await;
    let session = session_of(&a, "ada").await;
    let key = SessionKey::new(JoseAlg::Es256);
    let bound = register(&a, &session, &key).await;
    let challenge = a.service.dbsc_refresh_challenge(&bound.id).await.unwrap();
    let proof = key.proof(&challenge, false);
    assert!(b
        .service
        .dbsc_refresh(&bound.id, Some(&session), &proof, &ctx())
        .await
        .is_ok());
    rejected(
        a.service
            .dbsc_refresh(&bound.id, Some(&session), &proof, &ctx())
            .await,
        Refusal::DbscChallengeReplayed,
    );
    // A registration proof for a second session, accepted by b, is a
    // replay on a (not "already bound": the challenge is checked first).
    let second = session_of(&a, "bob").await;
    let proof = key.proof(&a.service.dbsc_offer(&second), true);
    assert!(b
        .service
        .dbsc_register(&second, &proof, &ctx())
        .await
        .is_ok());
    rejected(
        a.service.dbsc_register(&second, &proof, &ctx()).await,
        Refusal::DbscChallengeReplayed,
    );
}

/// The app wants a device-bound session.
const BOUND_ONLY: &str = r#"@id("app-bound-only")
permit (principal, action in Keybound::Action::"http", resource in Keybound::App::"app.example.com")
when { context.session_bound };"#;

#[tokio::test]
async fn a_policy_can_require_a_bound_session() {
    let w = world_with(|c| c.dbsc_refresh_ms = 60_000).await;
    crate::posture::install(&w.service, BOUND_ONLY).await;
    // Two sessions of one person: one the browser bound, one never bound
    // (a browser without DBSC, or a thief's replay of an unbound cookie).
    let bound_session = session_of(&w, "ada").await;
    let (mut cred, _) = w.enrol("bob").await;
    let (_, signed) = w.sign_in(&mut cred, "bob", &Tweaks::default()).await;
    let unbound_session = signed.unwrap().session.value;
    let key = SessionKey::new(JoseAlg::Es256);
    let bound = register(&w, &bound_session, &key).await;
    assert!(
        forward(&w, &bound_session, Some(&bound.bound_cookie)).await,
        "bound and proved: admitted"
    );
    assert!(
        !forward(&w, &unbound_session, None).await,
        "a session no key binds never counts as bound"
    );
    assert!(
        !forward(&w, &bound_session, None).await,
        "the bound session's cookie alone is as no cookie"
    );
}

#[tokio::test]
async fn a_session_is_bound_only_while_young() {
    // A thief holding a copied, never-bound cookie must not bind the
    // session to their own key: the pages stop inviting it, and a
    // registration with a fresh challenge is refused.
    let w = dbsc_world().await;
    let session = session_of(&w, "ada").await;
    assert!(invited(&w, &session).await);
    w.clock.0.fetch_add(
        keybound_service::DBSC_BIND_WINDOW_MS + 1_000,
        Ordering::SeqCst,
    );
    assert!(
        !invited(&w, &session).await,
        "no invitation to bind an old session"
    );
    let key = SessionKey::new(JoseAlg::Es256);
    let fresh = w.service.dbsc_offer(&session);
    rejected(
        w.service
            .dbsc_register(&session, &key.proof(&fresh, true), &ctx())
            .await,
        Refusal::DbscBindTooLate,
    );
    assert!(refusals(&w)
        .await
        .last()
        .unwrap()
        .starts_with("dbsc_bind_too_late"));
    assert!(
        forward(&w, &session, None).await,
        "the session goes on unbound"
    );
}
