//! The verifiable log's public endpoints (issue 19): the checkpoint
//! served verifies with the key served, a consistency proof between two
//! checkpoints verifies, and hostile queries are 400, never 500.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use keybound_audit::checkpoint::VerifierKey;
use keybound_audit::merkle::{self, Hash};

use super::*;

async fn invite(service: &Service, name: &str) {
    service
        .invite(name, false, &Operator::local("cli"))
        .await
        .unwrap();
}

async fn get(app: &Router, path: &str) -> (StatusCode, axum::http::HeaderMap, String) {
    let mut peer = Browser::new(app.clone());
    let (status, headers, body) = peer.request("GET", path, &[], "").await;
    (status, headers, String::from_utf8(body).unwrap())
}

#[tokio::test]
async fn before_the_first_seal_checkpoint_and_key_are_not_found() {
    let (app, _) = app().await;
    for path in ["/audit/v1/checkpoint", "/audit/v1/key"] {
        let (status, headers, body) = get(&app, path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(headers[header::CACHE_CONTROL], "no-store");
        assert_eq!(body, "no checkpoint has been signed yet\n");
    }
    let (status, _, body) = get(&app, "/audit/v1/consistency?old=1&new=1").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, r#"{"error":"invalid_request"}"#);
}

#[tokio::test]
async fn the_served_checkpoint_verifies_with_the_served_key() {
    let (app, service) = app().await;
    invite(&service, "ada").await;
    let row = service.seal_audit_log("test").await.unwrap().unwrap();

    let (status, headers, note) = get(&app, "/audit/v1/checkpoint").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "text/plain; charset=utf-8");
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    assert_eq!(note, row.note);

    let (status, headers, key) = get(&app, "/audit/v1/key").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    assert_eq!(key.lines().count(), 1);
    assert!(key.ends_with('\n'));
    let key = VerifierKey::parse(key.trim_end()).unwrap();
    let checkpoint = key.verify(&note).unwrap();
    assert_eq!(checkpoint.size, row.size);
    assert_eq!(checkpoint.root, row.root);

    // A note altered on the way does not verify with that key.
    let forged = note.replacen(
        &format!("\n{}\n", row.size),
        &format!("\n{}\n", row.size + 1),
        1,
    );
    assert_ne!(forged, note);
    assert!(key.verify(&forged).is_err());
}

fn proof_of(body: &str, old: u64, new: u64) -> Vec<Hash> {
    let json: Value = serde_json::from_str(body).unwrap();
    assert_eq!(json["old"], old);
    assert_eq!(json["new"], new);
    json["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            let bytes = STANDARD.decode(h.as_str().unwrap()).unwrap();
            <Hash>::try_from(bytes.as_slice()).unwrap()
        })
        .collect()
}

#[tokio::test]
async fn a_consistency_proof_between_two_checkpoints_verifies() {
    let (app, service) = app().await;
    invite(&service, "ada").await;
    invite(&service, "bob").await;
    let first = service.seal_audit_log("test").await.unwrap().unwrap();
    for name in ["cy", "dee", "eve"] {
        invite(&service, name).await;
    }
    let second = service.seal_audit_log("test").await.unwrap().unwrap();
    assert!(first.size < second.size);

    let (status, headers, body) = get(
        &app,
        &format!(
            "/audit/v1/consistency?old={}&new={}",
            first.size, second.size
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    let proof = proof_of(&body, first.size, second.size);
    assert!(!proof.is_empty());
    assert!(merkle::verify_consistency(
        first.size,
        second.size,
        &first.root,
        &second.root,
        &proof
    ));
    // The proof is for these roots: not for another old root.
    assert!(!merkle::verify_consistency(
        first.size,
        second.size,
        &second.root,
        &second.root,
        &proof
    ));

    // Any old size up to a signed new one (the old root is the
    // monitor's to know).
    let (status, _, body) = get(
        &app,
        &format!("/audit/v1/consistency?old=1&new={}", second.size),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(!proof_of(&body, 1, second.size).is_empty());

    // Equal sizes: an empty proof.
    let (status, _, body) = get(
        &app,
        &format!("/audit/v1/consistency?old={0}&new={0}", second.size),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(proof_of(&body, second.size, second.size).is_empty());
}

#[tokio::test]
async fn hostile_consistency_queries_are_invalid_requests_never_errors() {
    let (app, service) = app().await;
    invite(&service, "ada").await;
    let first = service.seal_audit_log("test").await.unwrap().unwrap();
    invite(&service, "bob").await;
    invite(&service, "cy").await;
    let second = service.seal_audit_log("test").await.unwrap().unwrap();
    let (a, b) = (first.size, second.size);
    let long = format!("old=1&new={b}&pad={}", "x".repeat(10 * 1024));
    let queries = [
        format!("old=0&new={b}"),
        format!("old={b}&new={a}"),
        // Not the size of a signed checkpoint (between, and past, them).
        format!("old=1&new={}", a + 1),
        format!("old=1&new={}", b + 1),
        format!("old={}&new={}", b + 1, b + 1),
        "old=1&new=18446744073709551615".to_owned(),
        "old=1&new=18446744073709551616".to_owned(),
        format!("old=1&new={}", "9".repeat(40)),
        format!("old=-1&new={b}"),
        format!("old=1&new=-{b}"),
        format!("old=%2B1&new={b}"),
        format!("old=+1&new={b}"),
        format!("old=one&new={b}"),
        format!("old=0x1&new={b}"),
        format!("old=1.0&new={b}"),
        format!("old=&new={b}"),
        "old=1".to_owned(),
        format!("new={b}"),
        String::new(),
        format!("old=1&old=1&new={b}"),
        format!("old=1&new={b}&new={b}"),
        format!("old=1&new={b}&x=1"),
        long,
    ];
    for query in &queries {
        let (status, _, body) = get(&app, &format!("/audit/v1/consistency?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_eq!(body, r#"{"error":"invalid_request"}"#, "{query}");
    }
    let (status, _, _) = get(&app, "/audit/v1/consistency").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // The same sizes, well formed, are answered.
    let (status, _, body) = get(&app, &format!("/audit/v1/consistency?old={a}&new={b}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
