//! Issue 12 items 16 and 18 over HTTP: names under one rule through the
//! ceremony API and the recovery form, client text shown safely in the
//! console, and the console's query parsers never panic.

use super::*;

async fn get(browser: &mut Browser, path: &str) -> (StatusCode, String) {
    let (status, _, body) = browser.request("GET", path, &[], Body::empty()).await;
    (status, String::from_utf8(body).unwrap())
}

/// A tier-2 administrator's browser, signed in.
async fn admin_browser(app: &Router, service: &Service, name: &str) -> Browser {
    let token = service
        .invite(name, true, &Operator::local("test"))
        .await
        .unwrap();
    enrol_at(app, [127, 0, 0, 7], &token.value).await.0
}

/// Item 18: `since` ending in a multi-byte character panicked in
/// `split_at`; now the filter is ignored like any other it cannot read.
#[tokio::test]
async fn the_audit_filter_takes_any_text_without_panicking() {
    let (app, service) = app().await;
    let mut root = admin_browser(&app, &service, "root").await;
    for since in [
        "1%C3%A9",
        "%C3%A9",
        "1%E2%82%AC",
        "%F0%90%8D%88",
        "1h%CC%81",
        "1h",
    ] {
        let (status, page) = get(&mut root, &format!("/admin/audit?since={since}")).await;
        assert_eq!(status, StatusCode::OK, "{since}");
        assert!(page.contains("id=\"events\""), "{since}");
    }
}

#[tokio::test]
async fn sign_in_options_are_the_same_for_every_spelling_of_a_name() {
    let (app, service) = app().await;
    let token = service
        .invite("ada", false, &Operator::local("test"))
        .await
        .unwrap();
    enrol_at(&app, [127, 0, 0, 7], &token.value).await;
    let mut browser = Browser::new(app);
    let mut seen = Vec::new();
    for spelling in ["ada", "ADA", "ａｄａ", " Ada "] {
        let (status, options) = browser
            .post(
                "/assertion/options",
                json!({ "username": spelling }).to_string(),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        seen.push(options["allowCredentials"].clone());
    }
    assert!(seen.iter().all(|s| *s == seen[0]), "{seen:?}");
}

/// Item 16 and item 10: a 700 kB name on `/recover` and a 900 kB one on
/// open registration reach neither the audit chain nor the challenge table.
#[tokio::test]
async fn huge_names_reach_neither_the_audit_chain_nor_the_challenge_table() {
    let (app, service) = app_with(|c| c.open_registration = true).await;
    let mut browser = Browser::new(app);
    let challenges = |service: Arc<Service>| async move {
        let mut tx = service.store().begin().await.unwrap();
        tx.purge_expired(i64::MAX).await.unwrap()
    };

    let huge = "A".repeat(900_000);
    let (status, reply) = browser
        .post(
            "/attestation/options",
            json!({ "username": huge }).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(reply["status"], "failed");
    assert_eq!(challenges(service.clone()).await, 0);

    let form = format!("name={}", "B".repeat(700_000));
    let (status, _, _) = browser
        .request(
            "POST",
            "/recover",
            &[
                ("content-type", "application/x-www-form-urlencoded"),
                ("sec-fetch-site", "same-origin"),
            ],
            form,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let events = service.store().audit_events().await.unwrap();
    assert!(!events.is_empty(), "the request is audited");
    for e in &events {
        let line = serde_json::to_string(e).unwrap();
        assert!(
            line.len() < 2_000,
            "{} bytes: {:?}",
            line.len(),
            line.get(..200)
        );
    }
    let subject = events.last().unwrap().event.subject.clone().unwrap();
    assert!(subject.contains("700000 bytes"), "{subject}");
}

/// Item 16: a right-to-left override (or any invisible character) in text
/// a client chose is shown as a code in the console, not obeyed.
#[tokio::test]
async fn the_console_shows_reordering_characters_instead_of_obeying_them() {
    let (app, service) = app().await;
    let mut root = admin_browser(&app, &service, "root").await;
    let token = service
        .invite("ada", false, &Operator::local("test"))
        .await
        .unwrap();
    let (mut ada, cred) = enrol_at(&app, [127, 0, 0, 8], &token.value).await;
    // Ada names her passkey with a right-to-left override ("lock" reversed).
    let (status, _, _) = ada
        .request(
            "POST",
            &format!("/me/credentials/{}/rename", b64::encode(&cred.id)),
            &[
                ("content-type", "application/x-www-form-urlencoded"),
                ("sec-fetch-site", "same-origin"),
            ],
            "nickname=%E2%80%AEkcol",
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    for (browser, path) in [(&mut root, "/admin"), (&mut ada, "/me")] {
        let (status, page) = get(browser, path).await;
        assert_eq!(status, StatusCode::OK);
        // Raw only where it is data, not text: the rename field's value.
        assert_eq!(
            page.matches('\u{202E}').count(),
            page.matches("value=\"\u{202E}").count(),
            "{path}"
        );
        assert!(
            page.contains("<span class=\"hidden-char\">U+202E</span>kcol"),
            "{path}"
        );
    }
}
