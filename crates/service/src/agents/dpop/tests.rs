use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use aws_lc_rs::rand::SystemRandom;
use keybound_jose::{dpop_ath, Algorithm, SigningKey, DPOP_TYP};
use keybound_store::Store;
use keybound_webauthn::OriginPolicy;
use rand_chacha::rand_core::SeedableRng;
use serde_json::{json, Map, Value};

use super::*;
use crate::agents::nonce::{make, step_of, NONCE_KEY};
use crate::{Clock, Config};

/// Half-way through a nonce step.
const NOW_S: i64 = 1_800_000_030;
const URL: &str = "https://api.example.test/v1/reports";

struct Fixed(AtomicI64);

impl Clock for Fixed {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

impl Fixed {
    fn advance_s(&self, s: i64) {
        self.0.fetch_add(s * 1000, Ordering::SeqCst);
    }
}

/// Two nodes on one SQLite database, sharing a clock.
async fn two_nodes(dir: &std::path::Path, dpop_nonce: bool) -> (Service, Service, Arc<Fixed>) {
    let url = format!("sqlite://{}", dir.join("kb.db").display());
    let clock = Arc::new(Fixed(AtomicI64::new(NOW_S * 1000)));
    let mut nodes = Vec::new();
    for seed in [1, 2] {
        let mut config = Config::new(
            "kb.test",
            OriginPolicy::exact(["https://kb.test"]).unwrap(),
            [0; 32],
        );
        config.dpop_nonce = dpop_nonce;
        let rng: Box<dyn rand_core::CryptoRng + Send> =
            Box::new(rand_chacha::ChaCha20Rng::seed_from_u64(seed));
        let store = Store::open(&url).await.unwrap();
        nodes.push(Service::new(store, config, clock.clone(), rng));
    }
    let b = nodes.pop().unwrap();
    let a = nodes.pop().unwrap();
    (a, b, clock)
}

fn agent_key() -> SigningKey {
    SigningKey::from_pkcs8(
        Algorithm::Es256,
        &SigningKey::generate_pkcs8(Algorithm::Es256).unwrap(),
    )
    .unwrap()
}

/// A proof by `key` for GET `URL` at `iat`, with these extra claims.
fn proof(key: &SigningKey, jti: &str, iat: i64, extra: Value) -> String {
    let mut header = Map::new();
    header.insert("typ".into(), DPOP_TYP.into());
    header.insert("jwk".into(), key.public_jwk(None).unwrap().to_json());
    let mut claims = json!({"jti": jti, "htm": "GET", "htu": URL, "iat": iat});
    for (k, v) in extra.as_object().unwrap() {
        claims[k] = v.clone();
    }
    keybound_jose::sign(&header, &claims, key, &SystemRandom::new()).unwrap()
}

/// `check_dpop` for GET `URL` in a transaction of its own, committed when
/// it passed.
async fn check(
    node: &Service,
    proof: Option<&str>,
    access_token: Option<&str>,
) -> Result<DpopVerified, DpopFailure> {
    let mut tx = node.store().begin().await.unwrap();
    let result = node
        .check_dpop(&mut tx, proof, "GET", URL, access_token)
        .await;
    if result.is_ok() {
        tx.commit().await.unwrap();
    }
    result
}

fn refusal(result: Result<DpopVerified, DpopFailure>) -> Refusal {
    result.unwrap_err().refusal().unwrap()
}

#[tokio::test]
async fn a_fresh_proof_with_a_current_nonce_passes() {
    let dir = tempfile::tempdir().unwrap();
    let (a, _, _) = two_nodes(dir.path(), true).await;
    let key = agent_key();
    let nonce = a.dpop_nonce().await.unwrap();
    let p = proof(&key, "j-1", NOW_S, json!({ "nonce": nonce }));
    let ok = check(&a, Some(&p), None).await.unwrap();
    assert_eq!(ok.jkt, key.public_jwk(None).unwrap().thumbprint());
    assert_eq!(ok.jti, "j-1");
}

#[tokio::test]
async fn a_request_without_a_proof_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (a, _, _) = two_nodes(dir.path(), true).await;
    let failure = check(&a, None, None).await.unwrap_err();
    assert_eq!(failure.refusal(), Some(Refusal::DpopMissing));
    assert_eq!(failure.error_code(), "invalid_dpop_proof");
}

#[tokio::test]
async fn each_failed_check_is_refused_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let (a, _, _) = two_nodes(dir.path(), false).await;
    let key = agent_key();
    for (p, token, want) in [
        (
            proof(&key, "j", NOW_S, json!({"htm": "POST"})),
            None,
            "dpop_wrong_method",
        ),
        (
            proof(
                &key,
                "j",
                NOW_S,
                json!({"htu": "https://api.example.test/v2"}),
            ),
            None,
            "dpop_wrong_uri",
        ),
        (
            proof(&key, "j", NOW_S - DPOP_MAX_AGE_S - 1, json!({})),
            None,
            "dpop_stale",
        ),
        (
            proof(&key, "j", NOW_S + DPOP_MAX_FUTURE_S + 1, json!({})),
            None,
            "dpop_issued_in_future",
        ),
        (
            proof(&key, "j", NOW_S, json!({"ath": dpop_ath("other")})),
            Some("at"),
            "dpop_wrong_ath",
        ),
        (
            proof(&key, "j", NOW_S, json!({})),
            Some("at"),
            "dpop_missing_claim",
        ),
        ("junk".to_owned(), None, "dpop_malformed"),
    ] {
        assert_eq!(
            refusal(check(&a, Some(&p), token).await),
            Refusal::DpopInvalid(want)
        );
    }
    // The window's edges pass; with the access token's hash, too.
    for (jti, iat) in [("old", NOW_S - DPOP_MAX_AGE_S), ("new", NOW_S + 5)] {
        assert!(check(&a, Some(&proof(&key, jti, iat, json!({}))), None)
            .await
            .is_ok());
    }
    let bound = proof(&key, "bound", NOW_S, json!({"ath": dpop_ath("at")}));
    assert!(check(&a, Some(&bound), Some("at")).await.is_ok());
}

#[test]
fn invalid_reasons_are_stable_snake_case_names_of_their_own() {
    let others: Vec<&str> = Refusal::ALL.iter().map(|r| r.reason()).collect();
    let mut seen = std::collections::BTreeSet::new();
    for name in DPOP_INVALID_REASONS {
        assert!(name.starts_with("dpop_"), "{name}");
        assert!(
            name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
            "{name}"
        );
        assert!(seen.insert(name), "{name} twice");
        assert!(!others.contains(&name), "{name} is another refusal's");
        assert_eq!(Refusal::DpopInvalid(name).reason(), name);
    }
    for e in [
        Error::TooLarge,
        Error::Malformed("typ"),
        Error::Malformed("part count"),
        Error::AlgorithmNotAllowed,
        Error::UnknownKey,
        Error::PrivateKey,
        Error::InvalidKey("x"),
        Error::CriticalHeader,
        Error::KeyMismatch,
        Error::BadSignature,
        Error::MissingClaim("jti"),
        Error::WrongMethod,
        Error::WrongUri,
        Error::Stale,
        Error::IssuedInFuture,
        Error::WrongAccessToken,
        Error::Signing,
    ] {
        assert!(DPOP_INVALID_REASONS.contains(&reason(&e)), "{e}");
    }
    // Each check its own name (the last, a non-proof error, excepted).
    let distinct: std::collections::BTreeSet<_> = [
        Error::TooLarge,
        Error::Malformed("typ"),
        Error::Malformed("x"),
        Error::AlgorithmNotAllowed,
        Error::UnknownKey,
        Error::PrivateKey,
        Error::InvalidKey("x"),
        Error::CriticalHeader,
        Error::KeyMismatch,
        Error::BadSignature,
        Error::MissingClaim("jti"),
        Error::WrongMethod,
        Error::WrongUri,
        Error::Stale,
        Error::IssuedInFuture,
        Error::WrongAccessToken,
    ]
    .iter()
    .map(reason)
    .collect();
    assert_eq!(distinct.len(), DPOP_INVALID_REASONS.len());
}

#[tokio::test]
async fn a_proof_without_a_current_nonce_is_sent_for_one() {
    let dir = tempfile::tempdir().unwrap();
    let (a, _, clock) = two_nodes(dir.path(), true).await;
    let key = agent_key();
    let nonce_key = a.dpop_ready().await.unwrap();
    let step = step_of(NOW_S);
    for (jti, extra) in [
        ("none", json!({})),
        ("junk", json!({"nonce": "not-a-nonce"})),
        ("stale", json!({"nonce": make(&nonce_key, step - 2)})),
        ("ahead", json!({"nonce": make(&nonce_key, step + 1)})),
        ("foreign", json!({"nonce": make(&[7; 32], step)})),
    ] {
        let failure = check(&a, Some(&proof(&key, jti, NOW_S, extra)), None)
            .await
            .unwrap_err();
        assert_eq!(failure.refusal(), Some(Refusal::DpopNonceRequired), "{jti}");
        assert_eq!(failure.error_code(), "use_dpop_nonce");
    }
    // The previous step's nonce still passes; one step later it does not.
    let previous = make(&nonce_key, step - 1);
    let p = proof(&key, "prev", NOW_S, json!({ "nonce": previous }));
    assert!(check(&a, Some(&p), None).await.is_ok());
    let current = a.dpop_nonce().await.unwrap();
    clock.advance_s(60);
    let p = proof(&key, "next", NOW_S + 60, json!({ "nonce": current }));
    assert!(check(&a, Some(&p), None).await.is_ok());
    clock.advance_s(60);
    let p = proof(&key, "late", NOW_S + 120, json!({ "nonce": current }));
    assert_eq!(
        refusal(check(&a, Some(&p), None).await),
        Refusal::DpopNonceRequired
    );
}

#[tokio::test]
async fn without_the_nonce_setting_no_nonce_is_needed() {
    let dir = tempfile::tempdir().unwrap();
    let (a, _, _) = two_nodes(dir.path(), false).await;
    let key = agent_key();
    let p = proof(&key, "j", NOW_S, json!({}));
    assert!(check(&a, Some(&p), None).await.is_ok());
}

#[tokio::test]
async fn no_nonce_passes_before_one_was_ever_handed_out() {
    let dir = tempfile::tempdir().unwrap();
    let (a, _, _) = two_nodes(dir.path(), true).await;
    let key = agent_key();
    // A nonce under a key the client guessed, before the deployment made its own.
    let guess = make(&[0; 32], step_of(NOW_S));
    let p = proof(&key, "j", NOW_S, json!({ "nonce": guess }));
    assert_eq!(
        refusal(check(&a, Some(&p), None).await),
        Refusal::DpopNonceRequired
    );
    let mut tx = a.store().begin().await.unwrap();
    assert_eq!(tx.stored_secret(NONCE_KEY).await.unwrap(), None);
}

#[tokio::test]
async fn a_nonce_from_one_node_passes_on_the_other() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, _) = two_nodes(dir.path(), true).await;
    let key = agent_key();
    let from_a = a.dpop_nonce().await.unwrap();
    assert_eq!(
        b.dpop_nonce().await.unwrap(),
        from_a,
        "the same on every node"
    );
    let p = proof(&key, "j", NOW_S, json!({ "nonce": from_a }));
    assert!(check(&b, Some(&p), None).await.is_ok());
}

#[tokio::test]
async fn a_node_that_never_made_a_nonce_reads_the_key_in_its_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, _) = two_nodes(dir.path(), true).await;
    let key = agent_key();
    let from_a = a.dpop_nonce().await.unwrap();
    // `b` never called `dpop_ready`: its check reads the key through `tx`.
    assert!(b.dpop.0.get().is_none());
    let p = proof(&key, "j", NOW_S, json!({ "nonce": from_a }));
    assert!(check(&b, Some(&p), None).await.is_ok());
}

#[tokio::test]
async fn a_proof_is_used_once_across_nodes() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, _) = two_nodes(dir.path(), true).await;
    let key = agent_key();
    let nonce = a.dpop_nonce().await.unwrap();
    let p = proof(&key, "j-1", NOW_S, json!({ "nonce": nonce }));
    assert!(check(&a, Some(&p), None).await.is_ok());
    assert_eq!(
        refusal(check(&b, Some(&p), None).await),
        Refusal::DpopReplayed
    );
    assert_eq!(
        refusal(check(&a, Some(&p), None).await),
        Refusal::DpopReplayed
    );
    // A new proof with the same `jti` by the same key is a replay too...
    let again = proof(&key, "j-1", NOW_S + 1, json!({ "nonce": nonce }));
    assert_eq!(
        refusal(check(&b, Some(&again), None).await),
        Refusal::DpopReplayed
    );
    // ...but another key's `jti` is its own.
    let other = proof(&agent_key(), "j-1", NOW_S, json!({ "nonce": nonce }));
    assert!(check(&b, Some(&other), None).await.is_ok());
}

#[tokio::test]
async fn a_refused_request_leaves_its_proof_unused() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, _) = two_nodes(dir.path(), false).await;
    let key = agent_key();
    let p = proof(&key, "j", NOW_S, json!({}));
    let mut tx = a.store().begin().await.unwrap();
    assert!(a
        .check_dpop(&mut tx, Some(&p), "GET", URL, None)
        .await
        .is_ok());
    // The caller refused the request for another reason: rolled back.
    drop(tx);
    assert!(check(&b, Some(&p), None).await.is_ok());
}

#[test]
fn nonces_carry_their_step_and_a_truncated_mac() {
    use crate::agents::nonce::check as valid;
    let key = [9; 32];
    let step = step_of(NOW_S);
    let nonce = make(&key, step);
    assert_eq!(nonce.len(), 32);
    assert_eq!(make(&key, step), nonce, "stateless: the same value");
    assert!(valid(&key, &nonce, NOW_S));
    assert!(valid(&key, &nonce, NOW_S + 60), "the next step");
    assert!(!valid(&key, &nonce, NOW_S + 120));
    assert!(!valid(&key, &nonce, NOW_S - 60), "not before its step");
    assert!(!valid(&[8; 32], &nonce, NOW_S), "another key");
    // One flipped bit anywhere, a shortened or lengthened tag: refused.
    let bytes = keybound_webauthn::b64::decode(&nonce).unwrap();
    for i in 0..bytes.len() {
        let mut flipped = bytes.clone();
        flipped[i] ^= 1;
        let text = keybound_webauthn::b64::encode(&flipped);
        assert!(!valid(&key, &text, NOW_S), "bit in byte {i}");
    }
    for len in [0, 8, 23] {
        let text = keybound_webauthn::b64::encode(&bytes[..len]);
        assert!(!valid(&key, &text, NOW_S), "{len} bytes");
    }
    let mut longer = bytes.clone();
    longer.push(0);
    let text = keybound_webauthn::b64::encode(&longer);
    assert!(!valid(&key, &text, NOW_S));
    assert!(!valid(&key, &"A".repeat(1000), NOW_S));
}
