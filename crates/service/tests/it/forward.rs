//! Forward-auth's decision: the session from memory, fresh after every
//! change on this node at once and on other nodes once they follow the
//! audit log.

use super::*;
use keybound_service::forward::ADMIN_GROUP;
use keybound_service::policies::PolicySet;

/// Routes are denied until a policy permits them: everyone signed in may
/// use the test's app.
const APP: &str = r#"@id("app-everyone")
permit (principal, action in Keybound::Action::"http", resource in Keybound::App::"app.example.com");"#;

async fn permit_app(service: &Service) {
    let set = PolicySet::load(&[("app.cedar", APP)]).unwrap();
    service
        .install_policies(set, PolicyLoad::Start, None)
        .await
        .unwrap();
}

/// A world whose app is permitted to everyone signed in.
async fn app_world() -> World {
    let w = world().await;
    permit_app(&w.service).await;
    w
}

fn request() -> ForwardedRequest {
    ForwardedRequest::new("GET", "https", "app.example.com", "/x?y=1").unwrap()
}

async fn decide(service: &Service, cookie: Option<&str>) -> ForwardDecision {
    service
        .forward_auth(cookie, None, &request(), &ClientContext::default())
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
    let w = app_world().await;
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
    let w = app_world().await;
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
    let w = app_world().await;
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
    permit_app(&a.service).await;
    permit_app(&b).await;
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

#[tokio::test]
async fn a_denial_is_recorded_once_a_minute_with_its_policies() {
    let w = world().await;
    let set = PolicySet::load(&[(
        "app.cedar",
        &format!(
            "{APP}\n@id(\"no-secrets\")\nforbid (principal, action, resource in \
             Keybound::App::\"app.example.com\") when {{ resource.path like \"/secret*\" }};"
        ),
    )])
    .unwrap();
    w.service
        .install_policies(set, PolicyLoad::Start, None)
        .await
        .unwrap();
    let secret = ForwardedRequest::new("GET", "https", "app.example.com", "/secret?x=1").unwrap();
    let ask = |cookie: Option<String>| {
        let secret = secret.clone();
        let service = &w.service;
        async move {
            service
                .forward_auth(cookie.as_deref(), None, &secret, &ClientContext::default())
                .await
                .unwrap()
        }
    };
    let denied = |events: &[keybound_audit::AuditEvent]| {
        events
            .iter()
            .filter(|e| e.event.kind == "access.denied")
            .cloned()
            .collect::<Vec<_>>()
    };
    // Nobody signed in: sign in, nothing recorded.
    assert_eq!(ask(None).await, ForwardDecision::SignIn);
    assert!(denied(&w.audit().await).is_empty());

    let (_, cookie) = signed_in(&w, "ada").await;
    assert_eq!(
        ask(Some(cookie.clone())).await,
        ForwardDecision::Deny {
            user: "ada".into(),
            policies: vec!["no-secrets".into()]
        }
    );
    let events = denied(&w.audit().await);
    assert_eq!(events.len(), 1);
    let event = &events[0].event;
    assert_eq!(event.subject.as_deref(), Some("ada"));
    assert_eq!(event.outcome, Some(Outcome::Failure));
    let detail = |k: &str| event.details.get(k).map(String::as_str);
    assert_eq!(detail("policies"), Some("no-secrets"));
    assert_eq!(detail("decision"), Some("deny"));
    assert_eq!(detail("action"), Some("GET"));
    assert_eq!(detail("resource"), Some("app.example.com/secret"));

    // 100 more within the minute: still one.
    for _ in 0..100 {
        assert!(matches!(
            ask(Some(cookie.clone())).await,
            ForwardDecision::Deny { .. }
        ));
    }
    assert_eq!(denied(&w.audit().await).len(), 1);
    // The permitted route is not a denial.
    assert!(matches!(
        decide(&w.service, Some(&cookie)).await,
        ForwardDecision::Allow(_)
    ));
    // A minute later, the next one is recorded.
    w.clock.0.fetch_add(60_000, Ordering::SeqCst);
    assert!(matches!(
        ask(Some(cookie.clone())).await,
        ForwardDecision::Deny { .. }
    ));
    let all = w.audit().await;
    assert_eq!(denied(&all).len(), 2);
    let n = all.len() as u64;
    assert_eq!(verify_chain(all).unwrap(), n);
}
