//! Rate limits that punish the source, not the victim: a flood from one
//! address gets 429 with Retry-After; a flood naming someone only slows
//! requests naming them; successful ceremonies cost nothing; the client
//! address is what a trusted proxy vouches for, canonical, and an IPv6
//! client is its /64. And pending challenges are bounded per address and
//! in total without one address locking the others out.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use keybound_server::TrustedProxies;
use keybound_service::RateLimits;

use super::*;

async fn options(browser: &mut Browser, name: &str) -> (StatusCode, axum::http::HeaderMap) {
    options_with(browser, name, &[]).await
}

async fn options_with(
    browser: &mut Browser,
    name: &str,
    extra: &[(&str, &str)],
) -> (StatusCode, axum::http::HeaderMap) {
    let mut headers = vec![("content-type", "application/json")];
    headers.extend_from_slice(extra);
    let (status, headers, _) = browser
        .request(
            "POST",
            "/assertion/options",
            &headers,
            json!({ "username": name }).to_string(),
        )
        .await;
    (status, headers)
}

/// Signs `name` in with `cred` from `browser` (a fresh ceremony).
async fn sign_in(
    browser: &mut Browser,
    name: &str,
    cred: &mut keybound_soft_authenticator::Credential,
) -> StatusCode {
    browser.cookies.clear();
    let (status, options) = browser
        .post(
            "/assertion/options",
            json!({ "username": name }).to_string(),
        )
        .await;
    if status != StatusCode::OK {
        return status;
    }
    let c = challenge(&options);
    let answer = Authenticator::default().assert(
        cred,
        &Ceremony {
            rp_id: "localhost",
            origin: ORIGIN,
            challenge: &c,
        },
    );
    browser
        .post("/assertion/result", answer.to_string())
        .await
        .0
}

fn limits(per_source: u32, per_identity: u32) -> RateLimits {
    RateLimits {
        per_source,
        per_identity,
        identity_max_delay_ms: 300,
        ..RateLimits::default()
    }
}

async fn rate_limited_events(service: &Service) -> Vec<keybound_service::AuditEvent> {
    service
        .store()
        .audit_events()
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.event.kind == "rate_limited")
        .collect()
}

#[tokio::test]
async fn a_flood_naming_someone_from_their_own_address_slows_but_never_locks_them_out() {
    let (app, service) = app_with(|c| c.rate_limits = limits(1000, 5)).await;
    let token = service
        .invite("ada", false, &Operator::local("test"))
        .await
        .unwrap();
    let (_, mut cred) = enrol_at(&app, [10, 0, 0, 2], &token.value).await;

    // Someone behind ada's NAT hammers her name: never refused, but once
    // her name's rate is spent each request waits (at most 300 ms).
    let mut attacker = Browser::at(app.clone(), [10, 0, 0, 2]);
    let started = Instant::now();
    for i in 0..12 {
        let (status, _) = options(&mut attacker, "ada").await;
        assert_eq!(status, StatusCode::OK, "request {i}");
    }
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(6 * 300), "{elapsed:?}");
    // The same from other addresses: the delay follows the name.
    let mut elsewhere = Browser::at(app.clone(), [192, 0, 2, 9]);
    let started = Instant::now();
    assert_eq!(options(&mut elsewhere, "ADA ").await.0, StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(250));
    // Other names are not slowed.
    let started = Instant::now();
    assert_eq!(options(&mut attacker, "bob").await.0, StatusCode::OK);
    assert!(started.elapsed() < Duration::from_millis(250));

    // ada, from the same address, signs in.
    let mut ada = Browser::at(app.clone(), [10, 0, 0, 2]);
    assert_eq!(sign_in(&mut ada, "ada", &mut cred).await, StatusCode::OK);

    // One audit event for the burst on her name, not one per request.
    let limited = rate_limited_events(&service).await;
    assert_eq!(limited.len(), 1, "{limited:?}");
    assert_eq!(limited[0].event.subject.as_deref(), Some("ada"));
}

#[tokio::test]
async fn a_flood_from_one_address_is_refused_while_others_sign_in() {
    let (app, service) = app_with(|c| c.rate_limits = limits(6, 100)).await;
    let token = service
        .invite("ada", false, &Operator::local("test"))
        .await
        .unwrap();
    let (_, mut cred) = enrol_at(&app, [10, 0, 0, 2], &token.value).await;

    let mut attacker = Browser::at(app.clone(), [10, 6, 6, 6]);
    let mut statuses = Vec::new();
    for i in 0..8 {
        statuses.push(options(&mut attacker, &format!("user{i}")).await);
    }
    let admitted = statuses
        .iter()
        .filter(|(s, _)| *s == StatusCode::OK)
        .count();
    assert_eq!(admitted, 6);
    let (status, headers) = statuses.last().unwrap();
    assert_eq!(*status, StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");

    let mut ada = Browser::at(app.clone(), [10, 0, 0, 2]);
    assert_eq!(sign_in(&mut ada, "ada", &mut cred).await, StatusCode::OK);
    let limited = rate_limited_events(&service).await;
    assert_eq!(limited.len(), 1, "one audit event per burst");
    assert_eq!(limited[0].event.ip.as_deref(), Some("10.6.6.6"));
}

#[tokio::test]
async fn successful_ceremonies_do_not_spend_the_address_budget_and_failures_do() {
    let (app, service) = app_with(|c| c.rate_limits = limits(6, 100)).await;
    let token = service
        .invite("ada", false, &Operator::local("test"))
        .await
        .unwrap();
    let (_, mut cred) = enrol_at(&app, [10, 0, 0, 9], &token.value).await;

    // Everyone behind one NAT signing in: 20 sign-ins (40 requests) with a
    // budget of 6 a minute.
    let mut nat = Browser::at(app.clone(), [10, 0, 0, 3]);
    for i in 0..20 {
        assert_eq!(
            sign_in(&mut nat, "ada", &mut cred).await,
            StatusCode::OK,
            "sign-in {i}"
        );
    }
    // Failed answers are charged: three bogus answers after three options
    // spend the six tokens.
    let mut failing = Browser::at(app.clone(), [10, 0, 0, 3]);
    for _ in 0..3 {
        assert_eq!(options(&mut failing, "").await.0, StatusCode::OK);
        let (status, _) = failing
            .post("/assertion/result", json!({"id": "AAAA"}).to_string())
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
    assert_eq!(
        options(&mut failing, "").await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    let (status, _) = failing
        .post("/assertion/result", json!({"id": "AAAA"}).to_string())
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "answers too");
}

#[tokio::test]
async fn enrolments_cost_their_tokens_even_when_they_succeed() {
    let (app, _) = app_with(|c| {
        c.open_registration = true;
        c.rate_limits = limits(6, 100);
    })
    .await;
    let mut creator = Browser::at(app, [10, 7, 7, 7]);
    let mut statuses = Vec::new();
    for i in 0..4 {
        creator.cookies.clear();
        let (status, options) = creator
            .post(
                "/attestation/options",
                json!({ "username": format!("new{i}") }).to_string(),
            )
            .await;
        if status != StatusCode::OK {
            statuses.push(status);
            continue;
        }
        let user = b64::decode(options["user"]["id"].as_str().unwrap()).unwrap();
        let c = challenge(&options);
        let (_, answer) = Authenticator::default().register(
            Algorithm::Es256,
            &Ceremony {
                rp_id: "localhost",
                origin: ORIGIN,
                challenge: &c,
            },
            &user,
        );
        statuses.push(
            creator
                .post("/attestation/result", answer.to_string())
                .await
                .0,
        );
    }
    assert_eq!(
        statuses,
        [
            StatusCode::OK,
            StatusCode::OK,
            StatusCode::OK,
            StatusCode::TOO_MANY_REQUESTS
        ],
        "open registration cannot create accounts at full speed"
    );
}

#[tokio::test]
async fn zero_turns_limiting_off() {
    let (app, _) = app_with(|c| c.rate_limits = limits(0, 1)).await;
    let mut browser = Browser::new(app);
    let started = Instant::now();
    for _ in 0..50 {
        assert_eq!(options(&mut browser, "ada").await.0, StatusCode::OK);
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "no delays either"
    );
}

/// An app behind `proxies` with a per-address budget of `per_source`.
async fn behind(proxies: &[&str], per_source: u32) -> (Router, Arc<Service>) {
    let (_, service) = app_with(|c| c.rate_limits = limits(per_source, 100)).await;
    let proxies: TrustedProxies = proxies.iter().map(|p| p.parse().unwrap()).collect();
    let app = router(AppState::new(service.clone(), false).with_trusted_proxies(proxies));
    (app, service)
}

async fn forwarded(browser: &mut Browser, client: &str) -> StatusCode {
    options_with(browser, "", &[("x-forwarded-for", client)])
        .await
        .0
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_address_is_the_client() {
    let (app, _) = behind(&["10.0.0.1"], 2).await;
    let mut via_proxy = Browser::at(app.clone(), [10, 0, 0, 1]);
    for client in ["198.51.100.1", "198.51.100.2", "198.51.100.3"] {
        for _ in 0..2 {
            assert_eq!(
                forwarded(&mut via_proxy, client).await,
                StatusCode::OK,
                "{client}"
            );
        }
    }
    assert_eq!(
        forwarded(&mut via_proxy, "198.51.100.1").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // An untrusted peer cannot choose its address by header.
    let mut direct = Browser::at(app, [203, 0, 113, 9]);
    for (i, client) in ["1.1.1.1", "2.2.2.2", "3.3.3.3"].iter().enumerate() {
        let expected = if i < 2 {
            StatusCode::OK
        } else {
            StatusCode::TOO_MANY_REQUESTS
        };
        assert_eq!(forwarded(&mut direct, client).await, expected);
    }
}

#[tokio::test]
async fn a_forged_entry_left_of_an_unparsable_one_is_not_the_client() {
    let (app, service) = behind(&["10.0.0.1"], 1).await;
    let mut via_proxy = Browser::at(app, [10, 0, 0, 1]);
    // Each request names a different forged client left of `unknown`: all
    // of them are the proxy, one bucket.
    assert_eq!(
        forwarded(&mut via_proxy, "198.51.100.1, unknown").await,
        StatusCode::OK
    );
    assert_eq!(
        forwarded(&mut via_proxy, "198.51.100.2,unknown").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        forwarded(&mut via_proxy, "198.51.100.3, 203.0.113.5:8443, garbage").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // And the audit log names the proxy, not the forged address.
    let limited = rate_limited_events(&service).await;
    assert_eq!(limited[0].event.ip.as_deref(), Some("10.0.0.1"));
}

#[tokio::test]
async fn trusted_proxies_are_ranges_and_match_dual_stack_peers() {
    let (app, service) = behind(&["127.0.0.1", "10.0.0.0/8"], 1).await;
    // A dual-stack listener sees the IPv4 proxy as ::ffff:127.0.0.1.
    let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
    let mut loopback = Browser::at_ip(app.clone(), mapped);
    let mut ranged = Browser::at(app.clone(), [10, 20, 30, 40]);
    for (i, client) in ["198.51.100.1", "198.51.100.2"].iter().enumerate() {
        assert_eq!(
            forwarded(&mut loopback, client).await,
            StatusCode::OK,
            "{i}"
        );
    }
    assert_eq!(forwarded(&mut ranged, "198.51.100.3").await, StatusCode::OK);
    assert_eq!(
        forwarded(&mut ranged, "::ffff:198.51.100.3").await,
        StatusCode::TOO_MANY_REQUESTS,
        "a mapped client is the IPv4 client"
    );
    let limited = rate_limited_events(&service).await;
    assert_eq!(limited[0].event.ip.as_deref(), Some("198.51.100.3"));
}

#[tokio::test]
async fn mapped_addresses_are_their_ipv4_and_ipv6_clients_their_64() {
    let (app, _) = app_with(|c| c.rate_limits = limits(1, 100)).await;
    let at = |ip: &str| Browser::at_ip(app.clone(), ip.parse().unwrap());
    assert_eq!(options(&mut at("192.0.2.7"), "").await.0, StatusCode::OK);
    assert_eq!(
        options(&mut at("::ffff:192.0.2.7"), "").await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        options(&mut at("2001:db8:5:6::1"), "").await.0,
        StatusCode::OK
    );
    assert_eq!(
        options(&mut at("2001:db8:5:6:aaaa::99"), "").await.0,
        StatusCode::TOO_MANY_REQUESTS,
        "same /64"
    );
    assert_eq!(
        options(&mut at("2001:db8:5:7::1"), "").await.0,
        StatusCode::OK,
        "next /64"
    );
}

async fn live_challenges(service: &Service) -> u64 {
    let mut tx = service.store().read().await.unwrap();
    let now = keybound_service::Clock::now_ms(&SystemClock);
    tx.count_live_challenges(now).await.unwrap()
}

#[tokio::test]
async fn unanswered_challenges_are_bounded_per_address_and_answers_free_them() {
    let (app, service) = app_with(|c| {
        c.rate_limits = RateLimits {
            pending_per_source: 3,
            ..limits(1000, 1000)
        }
    })
    .await;
    let token = service
        .invite("ada", false, &Operator::local("test"))
        .await
        .unwrap();
    let (_, mut cred) = enrol_at(&app, [10, 0, 0, 4], &token.value).await;

    let mut flood = Browser::at(app.clone(), [10, 6, 6, 6]);
    for _ in 0..3 {
        assert_eq!(options(&mut flood, "").await.0, StatusCode::OK);
    }
    for _ in 0..20 {
        let (status, headers) = options(&mut flood, "").await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!(
            (1..=300).contains(&retry),
            "until the oldest expires: {retry}"
        );
    }
    assert_eq!(live_challenges(&service).await, 3, "no rows for refusals");
    // Another address is not affected.
    let mut ada = Browser::at(app.clone(), [10, 0, 0, 4]);
    assert_eq!(sign_in(&mut ada, "ada", &mut cred).await, StatusCode::OK);
    // At ada's address, answered challenges free their slots: she holds
    // at most one at a time however often she signs in.
    for _ in 0..5 {
        assert_eq!(sign_in(&mut ada, "ada", &mut cred).await, StatusCode::OK);
    }
    let limited = rate_limited_events(&service).await;
    assert_eq!(limited.len(), 1, "one audit event per burst");
    assert!(
        limited[0]
            .event
            .reason
            .as_deref()
            .unwrap()
            .contains("pending"),
        "{limited:?}"
    );
}

#[tokio::test]
async fn over_the_total_the_addresses_holding_the_most_are_refused_not_everyone() {
    let (app, service) = app_with(|c| {
        c.rate_limits = RateLimits {
            pending_per_source: 1000,
            pending_total: 10,
            ..limits(1000, 1000)
        }
    })
    .await;
    let mut flood = Browser::at(app.clone(), [10, 6, 6, 6]);
    for _ in 0..10 {
        assert_eq!(options(&mut flood, "").await.0, StatusCode::OK);
    }
    // The store's count is read at most once a second.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        options(&mut flood, "").await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    for i in 0..4 {
        let mut someone = Browser::at(app.clone(), [192, 0, 2, i]);
        assert_eq!(options(&mut someone, "").await.0, StatusCode::OK, "{i}");
    }
    assert_eq!(live_challenges(&service).await, 14);
}
