use std::sync::atomic::{AtomicI64, Ordering};

use aws_lc_rs::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_FIXED};
use keybound_store::Store;
use keybound_webauthn::OriginPolicy;
use rand_chacha::rand_core::SeedableRng;
use serde_json::json;

use super::*;
use crate::{Clock, Config, Service};

const T0: i64 = 1_800_000_000_000;
const SECOND: i64 = 1000;

struct FakeClock(AtomicI64);
impl Clock for FakeClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

impl FakeClock {
    fn set(&self, ms: i64) {
        self.0.store(ms, Ordering::SeqCst);
    }
}

/// Rotation every 1000 s (so a 500 s lead), tokens living at most 100 s.
fn rotation() -> KeyRotation {
    KeyRotation {
        period_ms: 1000 * SECOND,
        max_token_lifetime_ms: 100 * SECOND,
    }
}

fn node(store: Store, clock: Arc<FakeClock>) -> Service {
    let mut config = Config::new(
        "localhost",
        OriginPolicy::exact(["http://localhost:8080"]).unwrap(),
        [9; 32],
    );
    config.key_rotation = rotation();
    Service::new(
        store,
        config,
        clock,
        Box::new(rand_chacha::ChaCha20Rng::seed_from_u64(1)),
    )
}

struct Db {
    url: String,
    _dir: tempfile::TempDir,
}

fn db() -> Db {
    let dir = tempfile::tempdir().unwrap();
    Db {
        url: format!("sqlite://{}", dir.path().join("kb.db").display()),
        _dir: dir,
    }
}

async fn nodes(db: &Db, n: usize) -> (Vec<Service>, Arc<FakeClock>) {
    let clock = Arc::new(FakeClock(AtomicI64::new(T0)));
    let mut nodes = Vec::new();
    for _ in 0..n {
        nodes.push(node(Store::open(&db.url).await.unwrap(), clock.clone()));
    }
    (nodes, clock)
}

fn claims() -> Map<String, Value> {
    json!({"iss": "https://id.example", "sub": "ann", "aud": "app"})
        .as_object()
        .unwrap()
        .clone()
}

/// The kids a JWKS publishes.
async fn published(service: &Service) -> Vec<String> {
    let jwks = service.published_jwks(KeyPurpose::IdTokens).await.unwrap();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

/// Verifies `token` against the service's JWKS as a relying party would.
async fn verifies(service: &Service, token: &str) -> Result<String, keybound_jose::Error> {
    let jwks = service.published_jwks(KeyPurpose::IdTokens).await.unwrap();
    let keys: Vec<Jwk> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| Jwk::parse(k).unwrap())
        .collect();
    let v = keybound_jose::verify(token, &[Algorithm::Es256, Algorithm::Rs256], |kid| {
        keys.iter().find(|k| k.kid() == kid).cloned()
    })?;
    Ok(v.header["kid"].as_str().unwrap().to_owned())
}

async fn sign(service: &Service) -> String {
    service
        .sign_jwt(KeyPurpose::IdTokens, Algorithm::Es256, "JWT", &claims())
        .await
        .unwrap()
}

fn kid_of(token: &str) -> String {
    let header = token.split('.').next().unwrap();
    let header: Value =
        serde_json::from_slice(&keybound_webauthn::b64::decode(header).unwrap()).unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

async fn key_events(service: &Service) -> Vec<(String, String)> {
    service
        .store()
        .audit_events()
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.event.kind.starts_with("signing_key."))
        .map(|e| (e.event.kind.clone(), e.event.details["kid"].clone()))
        .collect()
}

/// Two nodes (two services on one database) sign with one key per
/// purpose, made once; a signature verifies with the public key; the
/// private half never shows in a log line.
#[tokio::test]
async fn every_node_signs_with_the_one_key_of_each_purpose() {
    let db = db();
    let (nodes, _) = nodes(&db, 2).await;
    let (node_a, node_b) = (&nodes[0], &nodes[1]);

    let ka = node_a.signing_key(KeyPurpose::IdTokens).await.unwrap();
    let kb = node_b.signing_key(KeyPurpose::IdTokens).await.unwrap();
    assert_eq!(ka.key_id(), kb.key_id());
    assert_eq!(ka.public_key(), kb.public_key());
    assert_eq!(ka.public_key().len(), 65);
    let ca = node_a.signing_key(KeyPurpose::WorkloadCa).await.unwrap();
    assert_ne!(ca.key_id(), ka.key_id(), "one key per purpose");

    let signature = kb.sign(b"header.payload").unwrap();
    let public = UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, ka.public_key());
    assert!(public.verify(b"header.payload", &signature).is_ok());
    assert!(public.verify(b"header.payloaD", &signature).is_err());

    // A restart finds the same key.
    drop(nodes);
    let (again, _) = self::nodes(&db, 1).await;
    let again = again[0].signing_key(KeyPurpose::IdTokens).await.unwrap();
    assert_eq!(again.key_id(), ka.key_id());
    assert!(!format!("{again:?}").contains("pair"));
    // The kid is the RFC 7638 thumbprint the JWKS names it by.
    let (n, _) = self::nodes(&db, 1).await;
    assert_eq!(published(&n[0]).await, [ka.key_id()]);
}

/// The schedule: prepared (published, not signing) at due - lead,
/// activated at due with the old key retired, the old key published
/// until every token it signed has expired (plus the cache window), then
/// removed; each step audited once, and a token signed before the
/// rotation verifies against the JWKS until its key goes.
#[tokio::test]
async fn keys_are_prepared_activated_retired_and_removed_on_schedule() {
    let db = db();
    let (nodes, clock) = nodes(&db, 1).await;
    let s = &nodes[0];
    let before = sign(s).await;
    let k1 = kid_of(&before);
    assert_eq!(published(s).await, std::slice::from_ref(&k1));

    clock.set(T0 + 499 * SECOND);
    assert_eq!(s.rotate_signing_keys().await.unwrap(), []);
    clock.set(T0 + 500 * SECOND);
    let changes = s.rotate_signing_keys().await.unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].kind, EventKind::SigningKeyPrepared);
    let k2 = changes[0].kid.clone();
    assert_eq!(
        published(s).await,
        [k1.clone(), k2.clone()],
        "published first"
    );
    assert_eq!(kid_of(&sign(s).await), k1, "but not signing yet");

    clock.set(T0 + 999 * SECOND);
    assert_eq!(s.rotate_signing_keys().await.unwrap(), []);
    clock.set(T0 + 1000 * SECOND);
    let kinds: Vec<EventKind> = s
        .rotate_signing_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.kind)
        .collect();
    assert_eq!(
        kinds,
        [EventKind::SigningKeyRetired, EventKind::SigningKeyActivated]
    );
    let after = sign(s).await;
    assert_eq!(kid_of(&after), k2);
    assert_eq!(published(s).await, [k1.clone(), k2.clone()]);
    assert_eq!(verifies(s, &before).await, Ok(k1.clone()));
    assert_eq!(verifies(s, &after).await, Ok(k2.clone()));

    // Retired at 1000 s; tokens live 100 s; nodes cache for 60 s.
    let gone = T0 + 1000 * SECOND + 100 * SECOND + CACHE_TTL_MS;
    clock.set(gone - 1);
    assert_eq!(s.rotate_signing_keys().await.unwrap(), []);
    assert_eq!(published(s).await.len(), 2, "not yet");
    assert_eq!(verifies(s, &before).await, Ok(k1.clone()));
    clock.set(gone);
    let changes = s.rotate_signing_keys().await.unwrap();
    assert_eq!(
        (changes[0].kind, changes[0].kid.as_str()),
        (EventKind::SigningKeyRemoved, k1.as_str())
    );
    // The JWKS itself stops naming it at that instant, removed or not.
    assert_eq!(published(s).await, std::slice::from_ref(&k2));
    assert_eq!(
        verifies(s, &before).await,
        Err(keybound_jose::Error::UnknownKey)
    );
    assert_eq!(
        key_events(s).await,
        [
            ("signing_key.activated".into(), k1.clone()),
            ("signing_key.prepared".into(), k2.clone()),
            ("signing_key.retired".into(), k1.clone()),
            ("signing_key.activated".into(), k2.clone()),
            ("signing_key.removed".into(), k1.clone()),
        ]
    );
    let chain = s.store().audit_events().await.unwrap();
    keybound_audit::verify_chain(chain).unwrap();
}

/// A node that was down past the due time still publishes the successor
/// for the whole lead before it signs.
#[tokio::test]
async fn a_late_successor_is_published_for_the_whole_lead_before_it_signs() {
    let db = db();
    let (nodes, clock) = nodes(&db, 1).await;
    let s = &nodes[0];
    let k1 = kid_of(&sign(s).await);
    clock.set(T0 + 3000 * SECOND);
    let changes = s.rotate_signing_keys().await.unwrap();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0].kind, EventKind::SigningKeyPrepared);
    clock.set(T0 + 3499 * SECOND);
    assert_eq!(s.rotate_signing_keys().await.unwrap(), []);
    assert_eq!(kid_of(&sign(s).await), k1);
    clock.set(T0 + 3500 * SECOND);
    assert_eq!(s.rotate_signing_keys().await.unwrap().len(), 2);
    assert_eq!(kid_of(&sign(s).await), changes[0].kid);
}

/// Two nodes rotating at the same instants agree: each step happens once,
/// and once their caches expire both sign with the one active key.
#[tokio::test]
async fn two_nodes_converge_on_one_active_key() {
    let db = db();
    let (nodes, clock) = nodes(&db, 2).await;
    let (a, b) = (&nodes[0], &nodes[1]);
    let (ta, tb) = tokio::join!(sign(a), sign(b));
    assert_eq!(kid_of(&ta), kid_of(&tb), "one bootstrap key");
    for at in [500, 1000] {
        clock.set(T0 + at * SECOND);
        let (ca, cb) = tokio::join!(a.rotate_signing_keys(), b.rotate_signing_keys());
        let (ca, cb) = (ca.unwrap(), cb.unwrap());
        assert!(
            ca.is_empty() || cb.is_empty(),
            "one node took the step: {ca:?} {cb:?}"
        );
    }
    clock.set(T0 + 1000 * SECOND + CACHE_TTL_MS);
    let (ta, tb) = tokio::join!(sign(a), sign(b));
    assert_eq!(kid_of(&ta), kid_of(&tb));
    assert_eq!(published(a).await, published(b).await);
    let kinds: Vec<String> = key_events(a).await.into_iter().map(|(k, _)| k).collect();
    assert_eq!(
        kinds,
        [
            "signing_key.activated",
            "signing_key.prepared",
            "signing_key.retired",
            "signing_key.activated"
        ]
    );
}

/// The one key per purpose of before rotation becomes the first active
/// ES256 key, so tokens and certificates it signed keep verifying.
#[tokio::test]
async fn the_single_stored_key_of_before_becomes_the_first_active_key() {
    let db = db();
    let old = keybound_jose::SigningKey::generate_pkcs8(Algorithm::Es256).unwrap();
    let store = Store::open(&db.url).await.unwrap();
    store
        .secret("signing-key/id-tokens/p256", &old)
        .await
        .unwrap();
    drop(store);
    let (nodes, _) = nodes(&db, 1).await;
    let s = &nodes[0];
    let key = s.signing_key(KeyPurpose::IdTokens).await.unwrap();
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &old).unwrap();
    assert_eq!(key.public_key(), pair.public_key().as_ref());
    let activated = s
        .store()
        .audit_events()
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.event.kind == "signing_key.activated")
        .unwrap();
    assert_eq!(activated.event.details["from"], "stored single key");
    // Other purposes had none: a fresh key, not the carried one.
    let ca = s.signing_key(KeyPurpose::WorkloadCa).await.unwrap();
    assert_ne!(ca.public_key(), key.public_key());
}

/// RS256 for legacy clients: its own key, published beside the ES256 one
/// with only public members, rotated on the same schedule.
#[tokio::test]
async fn rs256_keys_are_made_published_and_rotated_too() {
    let db = db();
    let (nodes, clock) = nodes(&db, 1).await;
    let s = &nodes[0];
    let token = s
        .sign_jwt(KeyPurpose::IdTokens, Algorithm::Rs256, "JWT", &claims())
        .await
        .unwrap();
    let jwks = s.published_jwks(KeyPurpose::IdTokens).await.unwrap();
    let algs: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["alg"].as_str().unwrap())
        .collect();
    assert_eq!(algs.len(), 2);
    assert!(algs.contains(&"RS256") && algs.contains(&"ES256"));
    for key in jwks["keys"].as_array().unwrap() {
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(key.get(private).is_none(), "{private}");
        }
    }
    assert_eq!(verifies(s, &token).await, Ok(kid_of(&token)));
    clock.set(T0 + 500 * SECOND);
    let changes = s.rotate_signing_keys().await.unwrap();
    let algs: Vec<Algorithm> = changes.iter().map(|c| c.alg).collect();
    assert_eq!(algs, [Algorithm::Es256, Algorithm::Rs256]);
}

/// The planner on its own: nothing is due between the steps.
#[test]
fn nothing_is_planned_between_steps() {
    let r = rotation();
    let row =
        |kid: &str, created: i64, activated: Option<i64>, retired: Option<i64>| SigningKeyRow {
            kid: kid.into(),
            purpose: "id-tokens".into(),
            alg: "ES256".into(),
            private_key: vec![],
            public_jwk: String::new(),
            created_ms: created,
            activated_ms: activated,
            retired_ms: retired,
        };
    assert_eq!(
        next_step(&[], Algorithm::Es256, 0, &r),
        Some(Step::Bootstrap)
    );
    let active = [row("a", 0, Some(0), None)];
    assert_eq!(next_step(&active, Algorithm::Es256, 499_999, &r), None);
    assert_eq!(
        next_step(&active, Algorithm::Rs256, 0, &r),
        Some(Step::Bootstrap),
        "algorithms apart"
    );
    assert_eq!(
        next_step(&active, Algorithm::Es256, 500_000, &r),
        Some(Step::Prepare)
    );
    // A prepared key with no active one (an interrupted activation) signs.
    assert_eq!(
        next_step(&[row("b", 0, None, None)], Algorithm::Es256, 0, &r),
        Some(Step::Activate {
            next: "b".into(),
            retiring: None
        })
    );
}

/// Signing inside a use case's own transaction works on a store whose
/// only connection is the writer (no deadlock), and a key made there is
/// published once that transaction commits.
#[tokio::test]
async fn signing_inside_a_transaction_uses_that_transaction() {
    let clock = Arc::new(FakeClock(AtomicI64::new(T0)));
    let s = node(Store::open("sqlite::memory:").await.unwrap(), clock);
    let mut tx = s.store().begin().await.unwrap();
    let token = s
        .sign_jwt_in(
            &mut tx,
            KeyPurpose::IdTokens,
            Algorithm::Es256,
            "JWT",
            &claims(),
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(verifies(&s, &token).await, Ok(kid_of(&token)));
    assert_eq!(published(&s).await, [kid_of(&token)]);
    // A rolled-back transaction leaves no key behind.
    let other = node(
        Store::open("sqlite::memory:").await.unwrap(),
        Arc::new(FakeClock(AtomicI64::new(T0))),
    );
    let mut tx = other.store().begin().await.unwrap();
    let lost = other
        .sign_jwt_in(
            &mut tx,
            KeyPurpose::IdTokens,
            Algorithm::Es256,
            "JWT",
            &claims(),
        )
        .await
        .unwrap();
    drop(tx);
    assert_ne!(published(&other).await, [kid_of(&lost)]);
}

/// The OIDC provider's signing rides on the custody: ID tokens of both
/// algorithms signed in a use case's transaction, a token signed before a
/// rotation still verifies (`verify_jwt`, by `kid`) while the JWKS lists
/// the old and the new key of each algorithm; a token of the wrong `typ`,
/// an unsigned one, or one whose key has gone does not.
#[tokio::test]
async fn oidc_tokens_signed_before_a_rotation_still_verify() {
    use crate::oidc::signing;
    let db = db();
    let (nodes, clock) = nodes(&db, 1).await;
    let s = &nodes[0];
    s.oidc_ready().await.unwrap();
    let mut tx = s.store().begin().await.unwrap();
    let es_before = signing::sign_jwt(s, &mut tx, "ES256", "JWT", &claims())
        .await
        .unwrap();
    let rs_before = signing::sign_jwt(s, &mut tx, "RS256", "JWT", &claims())
        .await
        .unwrap();
    assert!(signing::sign_jwt(s, &mut tx, "HS256", "JWT", &claims())
        .await
        .is_err());
    tx.commit().await.unwrap();
    let alg_of = |t: &str| {
        let header = t.split('.').next().unwrap();
        let header: Value =
            serde_json::from_slice(&keybound_webauthn::b64::decode(header).unwrap()).unwrap();
        header["alg"].as_str().unwrap().to_owned()
    };
    assert_eq!(alg_of(&es_before), "ES256");
    assert_eq!(alg_of(&rs_before), "RS256");
    let old = [kid_of(&es_before), kid_of(&rs_before)];

    // Prepare at 500 s, activate at 1000 s: both algorithms rotate.
    clock.set(T0 + 500 * SECOND);
    s.rotate_signing_keys().await.unwrap();
    clock.set(T0 + 1000 * SECOND);
    s.rotate_signing_keys().await.unwrap();
    let mut tx = s.store().begin().await.unwrap();
    let es_after = signing::sign_jwt(s, &mut tx, "ES256", "JWT", &claims())
        .await
        .unwrap();
    let rs_after = signing::sign_jwt(s, &mut tx, "RS256", "JWT", &claims())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let new = [kid_of(&es_after), kid_of(&rs_after)];
    assert_ne!(old, new, "rotated");

    let jwks = s.oidc_jwks().await.unwrap();
    let listed: Vec<(String, String)> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            let jwk = Jwk::parse(k).unwrap();
            (
                jwk.kid().unwrap().to_owned(),
                jwk.algorithm().as_str().into(),
            )
        })
        .collect();
    for kid in old.iter().chain(&new) {
        assert!(listed.iter().any(|(k, _)| k == kid), "{kid} published");
    }
    assert!(listed.iter().any(|(_, a)| a == "RS256"));
    assert!(listed.iter().any(|(_, a)| a == "ES256"));

    for token in [&es_before, &rs_before, &es_after, &rs_after] {
        let verified = signing::verify_jwt(s, token, "JWT").await.unwrap();
        assert_eq!(verified.unwrap()["sub"], "ann");
        assert_eq!(signing::verify_jwt(s, token, "at+jwt").await, Ok(None));
    }
    let mut parts = es_before.split('.');
    let (_, payload) = (parts.next(), parts.next().unwrap());
    let none = keybound_webauthn::b64::encode(br#"{"alg":"none","typ":"JWT"}"#);
    let unsigned = format!("{none}.{payload}.");
    assert_eq!(signing::verify_jwt(s, &unsigned, "JWT").await, Ok(None));

    // Once the retired keys go, their tokens stop verifying.
    clock.set(T0 + 1000 * SECOND + 100 * SECOND + CACHE_TTL_MS);
    s.rotate_signing_keys().await.unwrap();
    assert_eq!(signing::verify_jwt(s, &es_before, "JWT").await, Ok(None));
    assert_eq!(signing::verify_jwt(s, &rs_before, "JWT").await, Ok(None));
    assert!(signing::verify_jwt(s, &rs_after, "JWT")
        .await
        .unwrap()
        .is_some());
}
