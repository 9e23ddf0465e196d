//! Each RPC's happy path and its refusals, through a real Unix socket.

use std::time::Duration;

use keybound_jose::{Algorithm, Jwk};
use keybound_workload_api::snapshot::Snapshot;
use keybound_workload_api::Limits;
use serde_json::Value;
use tonic::Code;

use crate::client::{connect, first};
use crate::fixture::{entry, start_workload_api, World, FEDERATED_TD, TD};

async fn spire_like() -> (World, crate::fixture::Running) {
    let world = World::new();
    let running =
        start_workload_api(world.spire_like(), world.jwt.clone(), Limits::default()).await;
    (world, running)
}

fn code<T: std::fmt::Debug>(r: Result<T, tonic::Status>) -> Code {
    r.expect_err("expected an error").code()
}

#[tokio::test]
async fn every_rpc_requires_the_security_header() {
    let (_world, running) = spire_like().await;
    for header in [None, Some("false"), Some("TRUE ")] {
        let mut c = connect(&running.socket).await;
        c.header = header;
        assert_eq!(
            code(first(c.x509_svid().await).await),
            Code::InvalidArgument
        );
        assert_eq!(
            code(first(c.x509_bundles().await).await),
            Code::InvalidArgument
        );
        assert_eq!(
            code(first(c.jwt_bundles().await).await),
            Code::InvalidArgument
        );
        assert_eq!(code(c.jwt_svid(&["a"], "").await), Code::InvalidArgument);
        assert_eq!(code(c.validate("a", "x.y.z").await), Code::InvalidArgument);
    }
    running.shutdown().await;
}

#[tokio::test]
async fn a_caller_with_no_entry_is_denied_everything() {
    let world = World::new();
    // Entries for another uid, and for this uid but another executable.
    let other = world.identity(entry(
        "e1",
        "spiffe://example.org/other",
        vec![format!("unix:uid:{}", world.uid + 1)],
        "",
    ));
    let wrong_path = world.identity(entry(
        "e2",
        "spiffe://example.org/wrong-path",
        vec![world.uid_selector(), "unix:path:/nonexistent/app".into()],
        "",
    ));
    let running = start_workload_api(
        world.snapshot(vec![other, wrong_path]),
        world.jwt.clone(),
        Limits::default(),
    )
    .await;
    let mut c = connect(&running.socket).await;
    assert_eq!(
        code(first(c.x509_svid().await).await),
        Code::PermissionDenied
    );
    assert_eq!(
        code(first(c.x509_bundles().await).await),
        Code::PermissionDenied
    );
    assert_eq!(
        code(first(c.jwt_bundles().await).await),
        Code::PermissionDenied
    );
    assert_eq!(code(c.jwt_svid(&["a"], "").await), Code::PermissionDenied);
    let token = world
        .jwt
        .key
        .token("spiffe://example.org/other", &["a"], 60);
    assert_eq!(code(c.validate("a", &token).await), Code::PermissionDenied);
    running.shutdown().await;
}

#[tokio::test]
async fn fetch_x509_svid_sends_svids_bundle_crl_and_federated_bundles() {
    let (world, running) = spire_like().await;
    let snap = running.snapshots.borrow().clone();
    let mut c = connect(&running.socket).await;
    let msg = first(c.x509_svid().await).await.unwrap();
    assert_eq!(msg.svids.len(), 2);
    for (svid, id) in msg.svids.iter().zip(&snap.identities) {
        assert_eq!(svid.spiffe_id, id.entry.spiffe_id);
        assert_eq!(svid.hint, id.entry.hint);
        assert_eq!(svid.x509_svid, id.chain[0]);
        assert_eq!(svid.x509_svid_key, id.key_pkcs8);
        assert_eq!(svid.bundle, world.ca.der);
    }
    assert_eq!(msg.crl, vec![b"not a real crl".to_vec()]);
    assert_eq!(
        msg.federated_bundles.keys().collect::<Vec<_>>(),
        vec!["spiffe://example-federated.org"]
    );
    assert_eq!(
        msg.federated_bundles["spiffe://example-federated.org"],
        world.federated_ca.der
    );
    running.shutdown().await;
}

#[tokio::test]
async fn the_path_selector_is_the_callers_executable() {
    let world = World::new();
    let exe = std::env::current_exe().unwrap();
    let by_path = world.identity(entry(
        "p",
        "spiffe://example.org/by-path",
        vec![
            world.uid_selector(),
            format!("unix:gid:{}", world.gid),
            format!("unix:path:{}", exe.display()),
        ],
        "",
    ));
    let running = start_workload_api(
        world.snapshot(vec![by_path]),
        world.jwt.clone(),
        Limits::default(),
    )
    .await;
    let mut c = connect(&running.socket).await;
    let msg = first(c.x509_svid().await).await.unwrap();
    assert_eq!(msg.svids[0].spiffe_id, "spiffe://example.org/by-path");
    running.shutdown().await;
}

#[tokio::test]
async fn federated_bundles_only_for_entries_that_federate() {
    let world = World::new();
    let plain = world.identity(entry(
        "e",
        "spiffe://example.org/plain",
        vec![world.uid_selector()],
        "",
    ));
    let running = start_workload_api(
        world.snapshot(vec![plain]),
        world.jwt.clone(),
        Limits::default(),
    )
    .await;
    let mut c = connect(&running.socket).await;
    assert!(first(c.x509_svid().await)
        .await
        .unwrap()
        .federated_bundles
        .is_empty());
    let bundles = first(c.x509_bundles().await).await.unwrap();
    assert_eq!(
        bundles.bundles.keys().collect::<Vec<_>>(),
        vec!["spiffe://example.org"]
    );
    running.shutdown().await;
}

#[tokio::test]
async fn fetch_x509_bundles_sends_own_and_federated_roots() {
    let (world, running) = spire_like().await;
    let mut c = connect(&running.socket).await;
    let msg = first(c.x509_bundles().await).await.unwrap();
    assert_eq!(msg.bundles.len(), 2);
    assert_eq!(msg.bundles[&format!("spiffe://{TD}")], world.ca.der);
    assert_eq!(
        msg.bundles[&format!("spiffe://{FEDERATED_TD}")],
        world.federated_ca.der
    );
    assert_eq!(msg.crl.len(), 1);
    running.shutdown().await;
}

fn jwks_kids(doc: &[u8]) -> Vec<String> {
    let v: Value = serde_json::from_slice(doc).unwrap();
    v["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| Jwk::parse(k).unwrap().kid().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn fetch_jwt_bundles_sends_jwks_per_trust_domain() {
    let (_world, running) = spire_like().await;
    let mut c = connect(&running.socket).await;
    let msg = first(c.jwt_bundles().await).await.unwrap();
    assert_eq!(
        jwks_kids(&msg.bundles["spiffe://example.org"]),
        vec!["kb-jwt-1"]
    );
    assert_eq!(
        jwks_kids(&msg.bundles["spiffe://example-federated.org"]),
        vec!["fed-jwt-1"]
    );
    running.shutdown().await;
}

#[tokio::test]
async fn fetch_jwt_svid_mints_one_per_identity_with_hints() {
    let (world, running) = spire_like().await;
    let mut c = connect(&running.socket).await;
    let all = c.jwt_svid(&["aud-1", "aud-2"], "").await.unwrap();
    let got: Vec<_> = all
        .svids
        .iter()
        .map(|s| (s.spiffe_id.as_str(), s.hint.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("spiffe://example.org/myservice", "myservice"),
            ("spiffe://example.org/myservice2", "myservice2")
        ]
    );
    let jwk = Jwk::parse(&world.jwt.key.jwk()).unwrap();
    let v = keybound_jose::verify(&all.svids[1].svid, &[Algorithm::Es256], |_| Some(jwk)).unwrap();
    let claims = v.claims().unwrap();
    assert_eq!(claims["sub"], "spiffe://example.org/myservice2");
    assert_eq!(claims["aud"], serde_json::json!(["aud-1", "aud-2"]));

    let one = c
        .jwt_svid(&["aud-1"], "spiffe://example.org/myservice2")
        .await
        .unwrap();
    assert_eq!(one.svids.len(), 1);
    assert_eq!(one.svids[0].spiffe_id, "spiffe://example.org/myservice2");
    // Someone else's SPIFFE ID: refused, not an empty answer.
    assert_eq!(
        code(c.jwt_svid(&["aud-1"], "spiffe://example.org/other").await),
        Code::PermissionDenied
    );
    running.shutdown().await;
}

#[tokio::test]
async fn fetch_jwt_svid_refuses_bad_audiences() {
    let (_world, running) = spire_like().await;
    let mut c = connect(&running.socket).await;
    let long = "a".repeat(513);
    let many: Vec<&str> = (0..17).map(|_| "a").collect();
    assert_eq!(code(c.jwt_svid(&[], "").await), Code::InvalidArgument);
    assert_eq!(code(c.jwt_svid(&[""], "").await), Code::InvalidArgument);
    assert_eq!(code(c.jwt_svid(&[&long], "").await), Code::InvalidArgument);
    assert_eq!(code(c.jwt_svid(&many, "").await), Code::InvalidArgument);
    let long_id = format!("spiffe://example.org/{}", "a".repeat(2048));
    assert_eq!(
        code(c.jwt_svid(&["a"], &long_id).await),
        Code::InvalidArgument
    );
    // At the limits: accepted.
    let max: Vec<&str> = (0..16).map(|_| "a").collect();
    assert!(c.jwt_svid(&max, "").await.is_ok());
    assert!(c.jwt_svid(&[&"a".repeat(512)], "").await.is_ok());
    running.shutdown().await;
}

#[tokio::test]
async fn a_failing_issuer_is_unavailable() {
    let (world, running) = spire_like().await;
    world
        .jwt
        .fail
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let mut c = connect(&running.socket).await;
    assert_eq!(code(c.jwt_svid(&["a"], "").await), Code::Unavailable);
    running.shutdown().await;
}

#[tokio::test]
async fn validate_jwt_svid_accepts_own_and_refuses_forged() {
    let (world, running) = spire_like().await;
    let mut c = connect(&running.socket).await;
    let token = c
        .jwt_svid(&["svc-b"], "spiffe://example.org/myservice")
        .await
        .unwrap()
        .svids[0]
        .svid
        .clone();
    let ok = c.validate("svc-b", &token).await.unwrap();
    assert_eq!(ok.spiffe_id, "spiffe://example.org/myservice");
    let claims = ok.claims.unwrap();
    assert!(claims.fields.contains_key("exp"));
    assert_eq!(
        claims.fields["sub"].kind,
        Some(prost_types::value::Kind::StringValue(
            "spiffe://example.org/myservice".into()
        ))
    );
    // Another audience.
    assert_eq!(
        code(c.validate("svc-c", &token).await),
        Code::InvalidArgument
    );
    // A key nobody published.
    let forged = crate::fixture::JwtKey::new("kb-jwt-1").token(
        "spiffe://example.org/myservice",
        &["svc-b"],
        60,
    );
    assert_eq!(
        code(c.validate("svc-b", &forged).await),
        Code::InvalidArgument
    );
    // The federated domain's key vouching for our trust domain.
    let cross = world
        .federated_jwt
        .token("spiffe://example.org/myservice", &["svc-b"], 60);
    assert_eq!(
        code(c.validate("svc-b", &cross).await),
        Code::InvalidArgument
    );
    // ... but for its own, it is trusted (the entries federate with it).
    let fed = world
        .federated_jwt
        .token("spiffe://example-federated.org/peer", &["svc-b"], 60);
    assert_eq!(
        c.validate("svc-b", &fed).await.unwrap().spiffe_id,
        "spiffe://example-federated.org/peer"
    );
    // Expired.
    let old = world
        .jwt
        .key
        .token("spiffe://example.org/myservice", &["svc-b"], -60);
    assert_eq!(code(c.validate("svc-b", &old).await), Code::InvalidArgument);
    // Empty fields, garbage.
    assert_eq!(code(c.validate("", &token).await), Code::InvalidArgument);
    assert_eq!(code(c.validate("svc-b", "").await), Code::InvalidArgument);
    assert_eq!(
        code(c.validate("svc-b", "a.b.c").await),
        Code::InvalidArgument
    );
    running.shutdown().await;
}

#[tokio::test]
async fn oversized_requests_are_refused() {
    let (_world, running) = spire_like().await;
    let mut c = connect(&running.socket).await;
    let huge = "a".repeat(100 * 1024);
    assert_eq!(code(c.validate("svc-b", &huge).await), Code::OutOfRange);
    // The connection still serves.
    assert!(c.jwt_svid(&["a"], "").await.is_ok());
    running.shutdown().await;
}

#[tokio::test]
async fn fetch_wit_svid_is_unimplemented() {
    let (_world, running) = spire_like().await;
    let mut c = connect(&running.socket).await;
    assert_eq!(code(c.wit_svid().await), Code::Unimplemented);
    running.shutdown().await;
}

async fn next<T>(s: &mut tonic::Streaming<T>) -> Result<Option<T>, tonic::Status> {
    tokio::time::timeout(Duration::from_secs(10), s.message())
        .await
        .expect("no stream message in 10 s")
}

#[tokio::test]
async fn streams_send_changes_and_only_changes() {
    let world = World::new();
    let mine = world.identity(entry(
        "m",
        "spiffe://example.org/mine",
        vec![world.uid_selector()],
        "a",
    ));
    let theirs = world.identity(entry(
        "t",
        "spiffe://example.org/theirs",
        vec!["unix:uid:4242424".into()],
        "",
    ));
    let running = start_workload_api(
        world.snapshot(vec![mine.clone(), theirs.clone()]),
        world.jwt.clone(),
        Limits::default(),
    )
    .await;
    let mut c = connect(&running.socket).await;
    let mut svids = c.x509_svid().await.unwrap();
    let mut bundles = c.x509_bundles().await.unwrap();
    let first_svid = next(&mut svids).await.unwrap().unwrap();
    let first_bundles = next(&mut bundles).await.unwrap().unwrap();
    assert_eq!(first_svid.svids[0].hint, "a");

    // A change that is not this caller's: the other entry rotated.
    let rotated_theirs = world.identity(theirs.entry.clone());
    running.publish(world.snapshot(vec![mine.clone(), rotated_theirs.clone()]));
    // This caller's SVID rotates: the next message is that, not a repeat.
    let rotated = world.identity(mine.entry.clone());
    running.publish(world.snapshot(vec![rotated.clone(), rotated_theirs]));
    let second = next(&mut svids).await.unwrap().unwrap();
    assert_ne!(second, first_svid);
    assert_eq!(second.svids[0].x509_svid, rotated.chain[0]);

    // Bundles did not change through either: the next bundles message is
    // the CA rotation below, not a repeat.
    let mut snap = world.snapshot(vec![rotated]);
    let new_ca = crate::fixture::Ca::new(TD);
    snap.bundle = Some(new_ca.bundle(TD, vec![]));
    running.publish(snap);
    let second_bundles = next(&mut bundles).await.unwrap().unwrap();
    assert_ne!(second_bundles, first_bundles);
    assert_eq!(second_bundles.bundles["spiffe://example.org"], new_ca.der);
    running.shutdown().await;
}

#[tokio::test]
async fn removing_the_entry_ends_the_stream_with_permission_denied() {
    let (world, running) = spire_like().await;
    let mut c = connect(&running.socket).await;
    let mut svids = c.x509_svid().await.unwrap();
    let mut jwt_bundles = c.jwt_bundles().await.unwrap();
    assert_eq!(next(&mut svids).await.unwrap().unwrap().svids.len(), 2);
    assert!(next(&mut jwt_bundles).await.unwrap().is_some());
    // One entry removed: the complete current set, without it.
    let mut snap: Snapshot = (**running.snapshots.borrow()).clone();
    snap.identities.truncate(1);
    running.publish(snap);
    let one = next(&mut svids).await.unwrap().unwrap();
    assert_eq!(one.svids.len(), 1);
    assert_eq!(one.svids[0].spiffe_id, "spiffe://example.org/myservice");
    // All removed: the streams end with PermissionDenied.
    running.publish(world.snapshot(vec![]));
    assert_eq!(
        next(&mut svids).await.unwrap_err().code(),
        Code::PermissionDenied
    );
    assert_eq!(
        next(&mut jwt_bundles).await.unwrap_err().code(),
        Code::PermissionDenied
    );
    running.shutdown().await;
}

#[tokio::test]
async fn before_the_first_sync_streams_wait_and_unary_calls_are_unavailable() {
    let world = World::new();
    let running =
        start_workload_api(Snapshot::default(), world.jwt.clone(), Limits::default()).await;
    let mut c = connect(&running.socket).await;
    let mut svids = c.x509_svid().await.unwrap();
    assert_eq!(code(c.jwt_svid(&["a"], "").await), Code::Unavailable);
    running.publish(world.spire_like());
    assert_eq!(next(&mut svids).await.unwrap().unwrap().svids.len(), 2);
    running.shutdown().await;
}

#[tokio::test]
async fn streams_per_uid_are_bounded_and_given_back() {
    let world = World::new();
    let limits = Limits {
        max_streams_per_uid: 2,
        ..Limits::default()
    };
    let running = start_workload_api(world.spire_like(), world.jwt.clone(), limits).await;
    let mut a = connect(&running.socket).await;
    let mut b = connect(&running.socket).await;
    let s1 = a.x509_svid().await.unwrap();
    let s2 = b.jwt_bundles().await.unwrap();
    // A third, from a new connection of the same uid: refused.
    let mut c = connect(&running.socket).await;
    assert_eq!(
        code(first(c.x509_bundles().await).await),
        Code::ResourceExhausted
    );
    // Unary calls are not streams.
    assert!(c.jwt_svid(&["a"], "").await.is_ok());
    drop(s1);
    drop(s2);
    // The slots come back once the server sees the streams go.
    let mut ok = false;
    for _ in 0..100 {
        if first(c.x509_bundles().await).await.is_ok() {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ok, "stream slots were not given back");
    running.shutdown().await;
}

#[tokio::test]
async fn shutdown_ends_open_streams() {
    let (_world, running) = spire_like().await;
    let mut c = connect(&running.socket).await;
    let mut svids = c.x509_svid().await.unwrap();
    assert!(next(&mut svids).await.unwrap().is_some());
    // `shutdown` waits (10 s at most) for serve to return, which needs the
    // open stream to end.
    running.shutdown().await;
    assert!(!matches!(next(&mut svids).await, Ok(Some(_))));
}
