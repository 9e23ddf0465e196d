//! Forward-auth's decision: the session from memory, fresh after every
//! change on this node at once and on other nodes once they follow the
//! audit log.

use super::*;
use keybound_service::forward::ADMIN_GROUP;

fn request() -> ForwardedRequest {
    ForwardedRequest::new("GET", "https", "app.example.com", "/x?y=1").unwrap()
}

async fn decide(service: &Service, cookie: Option<&str>) -> ForwardDecision {
    service
        .forward_auth(cookie, &request(), &ClientContext::default())
        .await
        .unwrap()
}

async fn signed_in(w: &World, name: &str) -> (Credential, String) {
    let (mut cred, _) = w.enrol(name).await;
    let (_, signed) = w.sign_in(&mut cred, name, &Tweaks::default()).await;
    (cred, signed.unwrap().session.value)
}

#[tokio::test]
async fn no_live_session_means_sign_in() {
    let w = world().await;
    assert_eq!(decide(&w.service, None).await, ForwardDecision::SignIn);
    assert_eq!(decide(&w.service, Some("")).await, ForwardDecision::SignIn);
    assert_eq!(
        decide(&w.service, Some("not-a-session")).await,
        ForwardDecision::SignIn
    );
    assert_eq!(
        decide(&w.service, Some(&"a".repeat(1 << 20))).await,
        ForwardDecision::SignIn
    );
}

#[tokio::test]
async fn a_live_session_is_granted_as_its_person() {
    let w = world().await;
    let (_, cookie) = signed_in(&w, "ada").await;
    let ForwardDecision::Allow(grant) = decide(&w.service, Some(&cookie)).await else {
        panic!("not allowed");
    };
    assert_eq!(grant.user, "ada");
    assert_eq!(grant.groups, vec!["user".to_owned()]);
    assert!(grant.tier >= 1);

    let token = w
        .service
        .invite("root", true, &Operator::local("cli"))
        .await
        .unwrap();
    let (_, _, enrolled) = w
        .register(RegistrationStart::Invitation(&token.value))
        .await;
    let session = enrolled.unwrap().session.expect("a session");
    let ForwardDecision::Allow(grant) = decide(&w.service, Some(&session.value)).await else {
        panic!("not allowed");
    };
    assert_eq!(grant.user, "root");
    assert_eq!(grant.groups, vec![ADMIN_GROUP.to_owned()]);
}

#[tokio::test]
async fn the_decision_is_served_from_memory() {
    let w = world().await;
    let (_, cookie) = signed_in(&w, "ada").await;
    assert!(matches!(
        decide(&w.service, Some(&cookie)).await,
        ForwardDecision::Allow(_)
    ));
    // Ended behind the service's back (no audit event, so no change to
    // hear of): the cached entry still answers, which shows the store
    // was not asked.
    let mut tx = w.service.store().begin().await.unwrap();
    tx.end_session(&hash_token(&cookie), 1).await.unwrap();
    tx.commit().await.unwrap();
    assert!(matches!(
        decide(&w.service, Some(&cookie)).await,
        ForwardDecision::Allow(_)
    ));
}

#[tokio::test]
async fn sign_out_revocation_and_expiry_bite_at_the_next_request() {
    let w = world().await;
    let (_, cookie) = signed_in(&w, "ada").await;
    assert!(matches!(
        decide(&w.service, Some(&cookie)).await,
        ForwardDecision::Allow(_)
    ));
    w.service
        .sign_out(&cookie, &ClientContext::default())
        .await
        .unwrap();
    assert_eq!(
        decide(&w.service, Some(&cookie)).await,
        ForwardDecision::SignIn
    );

    let (cred, cookie) = signed_in(&w, "bob").await;
    assert!(matches!(
        decide(&w.service, Some(&cookie)).await,
        ForwardDecision::Allow(_)
    ));
    w.service
        .revoke_own_credential(
            &cookie,
            &keybound_webauthn::b64::encode(&cred.id),
            true,
            &ClientContext::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        decide(&w.service, Some(&cookie)).await,
        ForwardDecision::SignIn
    );

    let (_, cookie) = signed_in(&w, "cy").await;
    assert!(matches!(
        decide(&w.service, Some(&cookie)).await,
        ForwardDecision::Allow(_)
    ));
    w.service
        .suspend("cy", &Operator::local("cli"))
        .await
        .unwrap();
    assert_eq!(
        decide(&w.service, Some(&cookie)).await,
        ForwardDecision::SignIn
    );

    let (_, cookie) = signed_in(&w, "di").await;
    assert!(matches!(
        decide(&w.service, Some(&cookie)).await,
        ForwardDecision::Allow(_)
    ));
    w.service
        .offboard("di", &Operator::local("cli"))
        .await
        .unwrap();
    assert_eq!(
        decide(&w.service, Some(&cookie)).await,
        ForwardDecision::SignIn
    );

    let (_, cookie) = signed_in(&w, "eve").await;
    assert!(matches!(
        decide(&w.service, Some(&cookie)).await,
        ForwardDecision::Allow(_)
    ));
    let ttl = w.service.config().session_ttl_ms;
    w.clock.0.fetch_add(ttl, Ordering::SeqCst);
    assert_eq!(
        decide(&w.service, Some(&cookie)).await,
        ForwardDecision::SignIn
    );
}

#[tokio::test]
async fn another_node_sees_a_change_once_it_follows_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("kb.db").display());
    let node = |store: Store| {
        Service::new(
            store,
            Config::new(RP_ID, OriginPolicy::exact([ORIGIN]).unwrap(), [9; 32]),
            Arc::new(FakeClock(AtomicI64::new(1_800_000_000_000))),
            Box::new(rand_chacha::ChaCha20Rng::seed_from_u64(2)),
        )
    };
    let a = World {
        service: node(Store::open(&url).await.unwrap()),
        clock: Arc::new(FakeClock(AtomicI64::new(1_800_000_000_000))),
        auth: Authenticator::default(),
    };
    let b = node(Store::open(&url).await.unwrap());
    b.follow_changes().await.unwrap();
    let (_, cookie) = signed_in(&a, "ada").await;
    assert!(matches!(
        decide(&b, Some(&cookie)).await,
        ForwardDecision::Allow(_)
    ));
    a.service
        .sign_out(&cookie, &ClientContext::default())
        .await
        .unwrap();
    assert!(b.follow_changes().await.unwrap() >= 1);
    assert_eq!(decide(&b, Some(&cookie)).await, ForwardDecision::SignIn);
}
