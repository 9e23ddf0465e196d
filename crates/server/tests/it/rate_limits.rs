//! Ceremony rate limits: a flood from one address gets 429 with
//! Retry-After, while the same person from another address signs in.

use keybound_service::RateLimits;

use super::*;

async fn options(browser: &mut Browser, name: &str) -> (StatusCode, axum::http::HeaderMap) {
    let (status, headers, _) = browser
        .request(
            "POST",
            "/assertion/options",
            &[("content-type", "application/json")],
            json!({ "username": name }).to_string(),
        )
        .await;
    (status, headers)
}

#[tokio::test]
async fn a_flood_from_one_address_does_not_lock_the_user_out() {
    let (app, service) = app_with(|c| {
        c.rate_limits = RateLimits {
            per_source: 20,
            per_identity: 5,
        }
    })
    .await;
    let token = service.invite("ada", false, "test").await.unwrap();
    let (_, mut cred) = enrol_at(&app, [10, 0, 0, 2], &token.value).await;

    // The attacker hammers ada's name from one address.
    let mut attacker = Browser::at(app.clone(), [10, 6, 6, 6]);
    let mut statuses = Vec::new();
    for _ in 0..8 {
        statuses.push(options(&mut attacker, "ada").await);
    }
    let admitted = statuses
        .iter()
        .filter(|(s, _)| *s == StatusCode::OK)
        .count();
    assert_eq!(admitted, 5, "the per-identity-and-address bucket");
    let (status, headers) = statuses.last().unwrap();
    assert_eq!(*status, StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    // Other names from the same address still pass, until the address's
    // own bucket is dry.
    for i in 0..12 {
        assert_eq!(
            options(&mut attacker, &format!("user{i}")).await.0,
            StatusCode::OK
        );
    }
    assert_eq!(
        options(&mut attacker, "bob").await.0,
        StatusCode::TOO_MANY_REQUESTS
    );

    // ada, from her own address, signs in.
    let mut ada = Browser::at(app.clone(), [10, 0, 0, 2]);
    let (status, options) = ada
        .post("/assertion/options", json!({"username": "ada"}).to_string())
        .await;
    assert_eq!(status, StatusCode::OK);
    let c = challenge(&options);
    let json = Authenticator::default().assert(
        &mut cred,
        &Ceremony {
            rp_id: "localhost",
            origin: ORIGIN,
            challenge: &c,
        },
    );
    let (status, reply) = ada.post("/assertion/result", json.to_string()).await;
    assert_eq!(
        (status, reply["username"].as_str()),
        (StatusCode::OK, Some("ada"))
    );

    // One audit event per burst, not one per refused request.
    let limited: Vec<_> = service
        .store()
        .audit_events()
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.event.kind == "rate_limited")
        .collect();
    assert_eq!(limited.len(), 2, "ada's bucket, then the address's");
    assert!(limited
        .iter()
        .all(|e| e.event.ip.as_deref() == Some("10.6.6.6")));
}

#[tokio::test]
async fn zero_turns_limiting_off() {
    let (app, _) = app_with(|c| {
        c.rate_limits = RateLimits {
            per_source: 0,
            per_identity: 1,
        }
    })
    .await;
    let mut browser = Browser::new(app);
    for _ in 0..50 {
        assert_eq!(options(&mut browser, "ada").await.0, StatusCode::OK);
    }
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_address_is_the_client() {
    let (_, service) = app_with(|c| {
        c.rate_limits = RateLimits {
            per_source: 2,
            per_identity: 100,
        }
    })
    .await;
    let proxy = std::net::IpAddr::from([10, 0, 0, 1]);
    let app = router(AppState::new(service.clone(), false).with_trusted_proxies(vec![proxy]));
    let mut via_proxy = Browser::at(app.clone(), [10, 0, 0, 1]);
    let forwarded = |client: &'static str| {
        [
            ("content-type", "application/json"),
            ("x-forwarded-for", client),
        ]
    };
    for client in ["198.51.100.1", "198.51.100.2", "198.51.100.3"] {
        for _ in 0..2 {
            let (status, _, _) = via_proxy
                .request(
                    "POST",
                    "/assertion/options",
                    &forwarded(client),
                    "{\"username\":\"\"}",
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{client} has its own bucket");
        }
    }
    let (status, _, _) = via_proxy
        .request(
            "POST",
            "/assertion/options",
            &forwarded("198.51.100.1"),
            "{\"username\":\"\"}",
        )
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // An untrusted peer cannot choose its address by header.
    let mut direct = Browser::at(app, [203, 0, 113, 9]);
    for (i, client) in ["1.1.1.1", "2.2.2.2", "3.3.3.3"].iter().enumerate() {
        let (status, _, _) = direct
            .request(
                "POST",
                "/assertion/options",
                &forwarded(client),
                "{\"username\":\"\"}",
            )
            .await;
        let expected = if i < 2 {
            StatusCode::OK
        } else {
            StatusCode::TOO_MANY_REQUESTS
        };
        assert_eq!(status, expected);
    }
}
