//! Login CSRF: a page on another site must not be able to sign a victim's
//! browser into the attacker's account, nor sign it out. The JSON API takes
//! only `application/json`, only from our own origin (or from a client that
//! is not a browser), and a challenge is never bound to an empty or absent
//! ceremony cookie.

use super::*;

const JSON: (&str, &str) = ("content-type", "application/json");

async fn post_with(
    browser: &mut Browser,
    path: &str,
    headers: &[(&str, &str)],
    body: String,
) -> (StatusCode, axum::http::HeaderMap, Value) {
    let (status, headers, bytes) = browser.request("POST", path, headers, body).await;
    (
        status,
        headers,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn an_empty_ceremony_cookie_binds_no_challenge() {
    let (app, service) = app().await;
    let token = service
        .invite("eve", false, &Operator::local("test"))
        .await
        .unwrap();
    let (_, mut eve) = enrol_at(&app, [203, 0, 113, 66], &token.value).await;

    // The attacker asks for options with an empty ceremony cookie, as the
    // victim's browser would present none on a cross-site post...
    let mut attacker = Browser::at(app.clone(), [203, 0, 113, 66]);
    attacker.cookies.push(("kb_ceremony".into(), String::new()));
    let (status, headers, options) = post_with(
        &mut attacker,
        "/assertion/options",
        &[JSON],
        json!({"username": "eve"}).to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let minted = headers
        .get_all(header::SET_COOKIE)
        .iter()
        .any(|c| c.to_str().unwrap().starts_with("kb_ceremony="));
    let c = challenge(&options);
    let answer = Authenticator::default().assert(
        &mut eve,
        &Ceremony {
            rp_id: "localhost",
            origin: ORIGIN,
            challenge: &c,
        },
    );
    // ...and has the victim's browser post eve's answer with no ceremony
    // cookie (SameSite=Strict keeps it off cross-site requests), or with
    // an empty one.
    for cookie in [None, Some("")] {
        let mut victim = Browser::at(app.clone(), [192, 0, 2, 10]);
        if let Some(value) = cookie {
            victim.cookies.push(("kb_ceremony".into(), value.into()));
        }
        let (status, _, reply) = post_with(
            &mut victim,
            "/assertion/result",
            &[JSON],
            answer.to_string(),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{cookie:?}: {reply}");
        assert!(
            !victim.cookies.iter().any(|(k, _)| k == "kb_session"),
            "{cookie:?}: signed in as eve"
        );
    }
    assert!(minted, "an empty cookie is replaced by a fresh one");
    // Cookie values we could not have minted are replaced too.
    for odd in ["x", "not-base64url-!!", &"A".repeat(44)] {
        let mut browser = Browser::new(app.clone());
        browser.cookies.push(("kb_ceremony".into(), odd.to_owned()));
        let (_, headers, _) = post_with(
            &mut browser,
            "/assertion/options",
            &[JSON],
            json!({"username": ""}).to_string(),
        )
        .await;
        assert!(headers.contains_key(header::SET_COOKIE), "{odd:?}");
    }
}

#[tokio::test]
async fn the_json_api_takes_only_json() {
    let (app, _) = app().await;
    let mut browser = Browser::new(app);
    let body = json!({"username": ""}).to_string();
    for content_type in [
        Some("text/plain"),
        Some("text/plain;charset=UTF-8"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        Some("application/jsonx"),
        None,
    ] {
        let headers: Vec<(&str, &str)> = content_type
            .map(|ct| ("content-type", ct))
            .into_iter()
            .collect();
        for path in [
            "/assertion/options",
            "/assertion/result",
            "/attestation/options",
            "/attestation/result",
        ] {
            let (status, _, reply) = post_with(&mut browser, path, &headers, body.clone()).await;
            assert_eq!(
                (status, reply["status"].as_str()),
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, Some("failed")),
                "{path} {content_type:?}"
            );
        }
    }
    for content_type in ["application/json", "Application/JSON; charset=utf-8"] {
        let (status, _, _) = post_with(
            &mut browser,
            "/assertion/options",
            &[("content-type", content_type)],
            body.clone(),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{content_type}");
    }
}

#[tokio::test]
async fn ceremonies_come_from_our_origin_or_from_no_browser() {
    let (app, _) = app().await;
    let mut browser = Browser::new(app);
    let body = json!({"username": ""}).to_string();
    let refused: [&[(&str, &str)]; 5] = [
        &[("origin", "https://evil.example")],
        &[("origin", "null")],
        &[("sec-fetch-site", "cross-site")],
        // A sibling subdomain (which could also have planted a cookie).
        &[("sec-fetch-site", "same-site"), ("origin", ORIGIN)],
        &[("sec-fetch-site", "none")],
    ];
    for headers in refused {
        let mut all = vec![JSON];
        all.extend_from_slice(headers);
        for path in [
            "/assertion/options",
            "/assertion/result",
            "/attestation/options",
            "/attestation/result",
        ] {
            let (status, _, reply) = post_with(&mut browser, path, &all, body.clone()).await;
            assert_eq!(
                (status, reply["status"].as_str()),
                (StatusCode::FORBIDDEN, Some("failed")),
                "{path} {headers:?}"
            );
        }
    }
    let admitted: [&[(&str, &str)]; 4] = [
        // Our own pages (Origin is `null` under no-referrer).
        &[("sec-fetch-site", "same-origin"), ("origin", "null")],
        &[("sec-fetch-site", "same-origin")],
        &[("origin", ORIGIN)],
        // Not a browser: conformance tools, keybound-load.
        &[],
    ];
    for headers in admitted {
        let mut all = vec![JSON];
        all.extend_from_slice(headers);
        let (status, _, _) =
            post_with(&mut browser, "/assertion/options", &all, body.clone()).await;
        assert_eq!(status, StatusCode::OK, "{headers:?}");
    }
}

#[tokio::test]
async fn another_site_cannot_sign_you_out() {
    let (app, service) = app().await;
    let token = service
        .invite("ada", false, &Operator::local("test"))
        .await
        .unwrap();
    let (mut ada, _) = enrol_at(&app, [127, 0, 0, 7], &token.value).await;
    let session = ada
        .cookies
        .iter()
        .find(|(k, _)| k == "kb_session")
        .unwrap()
        .1
        .clone();
    for headers in [
        [("origin", "https://evil.example")],
        [("sec-fetch-site", "cross-site")],
    ] {
        let (status, _, _) = post_with(&mut ada, "/signout", &headers, String::new()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{headers:?}");
        assert!(service.account(&session).await.is_ok(), "still signed in");
    }
    let (status, _, _) = post_with(
        &mut ada,
        "/signout",
        &[("sec-fetch-site", "same-origin")],
        String::new(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(service.account(&session).await.is_err());
}
