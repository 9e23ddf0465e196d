//! The pages over HTTP without a browser: security headers, what works
//! without JavaScript (list, rename, revoke with confirmation, sign-out),
//! cross-site form posts refused, invitation states, notices that cannot be
//! made to say anything, and the unknown-credential hint.

use keybound_soft_authenticator::Credential;

use super::*;

const SAME_ORIGIN: (&str, &str) = ("sec-fetch-site", "same-origin");
const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");

fn text(body: &[u8]) -> String {
    String::from_utf8(body.to_vec()).unwrap()
}

/// Enrols `name` from an invitation through the API, as the enrolment page
/// does; the browser comes back signed in.
async fn enrolled(app: &Router, service: &Service, name: &str) -> (Browser, Credential) {
    let token = service
        .invite(name, false, &Operator::local("test"))
        .await
        .unwrap();
    enrolled_with(app, &token.value).await
}

/// Enrols with the invitation `token`.
async fn enrolled_with(app: &Router, token: &str) -> (Browser, Credential) {
    enrol_at(app, [127, 0, 0, 7], token).await
}

async fn get(browser: &mut Browser, path: &str) -> (StatusCode, axum::http::HeaderMap, String) {
    let (status, headers, body) = browser.request("GET", path, &[], Body::empty()).await;
    (status, headers, text(&body))
}

async fn form(
    browser: &mut Browser,
    path: &str,
    body: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, String) {
    let mut all = vec![FORM];
    all.extend_from_slice(headers);
    let (status, response_headers, _) = browser.request("POST", path, &all, body.to_owned()).await;
    let location = response_headers
        .get(header::LOCATION)
        .map(|l| l.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, location)
}

fn location(headers: &axum::http::HeaderMap) -> &str {
    headers.get(header::LOCATION).unwrap().to_str().unwrap()
}

#[tokio::test]
async fn pages_carry_security_headers_and_no_inline_script() {
    let (app, service) = app().await;
    let mut browser = Browser::new(app);
    let token = service
        .invite("ada", false, &Operator::local("test"))
        .await
        .unwrap();
    for path in ["/", &format!("/enroll?token={}", token.value), "/enroll"] {
        let (_, headers, body) = get(&mut browser, path).await;
        let csp = headers["content-security-policy"].to_str().unwrap();
        for directive in [
            "default-src 'none'",
            "script-src 'self'",
            "frame-ancestors 'none'",
            "form-action 'self'",
        ] {
            assert!(csp.contains(directive), "{path}: {csp}");
        }
        assert!(!csp.contains("unsafe"), "{csp}");
        assert_eq!(headers["referrer-policy"], "no-referrer", "{path}");
        assert_eq!(headers["x-frame-options"], "DENY");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["cache-control"], "no-store", "{path}");
        // Pages ask for the client hints a device proof records.
        assert_eq!(
            headers["accept-ch"], "Sec-CH-UA-Platform-Version, Sec-CH-UA-Full-Version-List",
            "{path}"
        );
        assert!(
            headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{path}"
        );
        // Every script is external; no inline handlers or styles.
        assert_eq!(
            body.matches("<script").count(),
            body.matches("<script src=\"/assets/keybound.js\" defer></script>")
                .count(),
            "{path}"
        );
        for inline in [" onclick=", " onload=", " style=", "javascript:"] {
            assert!(!body.contains(inline), "{path} has {inline}");
        }
    }
    let (status, headers, script) = get(&mut browser, "/assets/keybound.js").await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    assert!(headers["cache-control"]
        .to_str()
        .unwrap()
        .contains("max-age"));
    for call in [
        "signalUnknownCredential",
        "signalAllAcceptedCredentials",
        "signalCurrentUserDetails",
        "parseCreationOptionsFromJSON",
        "parseRequestOptionsFromJSON",
        "mediation: \"conditional\"",
    ] {
        assert!(script.contains(call), "the script uses {call}");
    }
    let (status, headers, _) = get(&mut browser, "/assets/keybound.css").await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/css"));
}

#[tokio::test]
async fn the_enrolment_page_says_what_an_invitation_is() {
    let (app, service) = app().await;
    let mut browser = Browser::new(app.clone());
    let token = service
        .invite("<b>eve</b>", false, &Operator::local("test"))
        .await
        .unwrap();
    let (status, _, body) = get(&mut browser, &format!("/enroll?token={}", token.value)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("&lt;b&gt;eve&lt;/b&gt;"), "names are escaped");
    assert!(!body.contains("<b>eve"));
    assert!(body.contains(&format!("data-token=\"{}\"", token.value)));

    let (status, _, body) = get(&mut browser, "/enroll?token=made-up").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("not valid"));
    let (status, _, body) = get(&mut browser, "/enroll").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("not valid"));
}

#[tokio::test]
async fn an_expired_invitation_says_so() {
    let (app, service) = app_with(|c| c.invitation_ttl_ms = 1).await;
    let token = service
        .invite("ada", false, &Operator::local("test"))
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let mut browser = Browser::new(app);
    let (status, _, body) = get(&mut browser, &format!("/enroll?token={}", token.value)).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(body.contains("has expired"));
    assert!(!body.contains("enroll-passkey"));
}

#[tokio::test]
async fn a_used_invitation_says_so() {
    let (app, service) = app().await;
    let token = service
        .invite("ada", false, &Operator::local("test"))
        .await
        .unwrap();
    let (mut browser, _) = enrolled_with(&app, &token.value).await;
    let (status, _, body) = get(&mut browser, &format!("/enroll?token={}", token.value)).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(body.contains("already been used"));
    assert!(!body.contains("enroll-passkey"), "no button to press");
}

#[tokio::test]
async fn my_passkeys_work_without_javascript() {
    let (app, service) = app().await;
    let (mut browser, cred) = enrolled(&app, &service, "ada").await;
    assert!(
        browser.cookies.iter().any(|(k, _)| k == "kb_session"),
        "enrolment signs in"
    );
    let id = b64::encode(&cred.id);

    // Signed in, the sign-in page sends you to your passkeys.
    let (status, headers, _) = get(&mut browser, "/").await;
    assert_eq!((status, location(&headers)), (StatusCode::SEE_OTHER, "/me"));
    let (status, _, page) = get(&mut browser, "/me").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(&format!("data-credential-id=\"{id}\"")));
    assert!(page.contains("Unnamed passkey"));
    assert!(
        page.contains("Device-bound passkey"),
        "the soft authenticator sets BE=0"
    );
    assert!(page.contains("You signed in with this one"));
    // Issue 14: not also "not used to sign in yet" (enrolment signed in).
    assert!(!page.contains("Not used to sign in yet"), "{page}");
    assert!(page.contains(&format!("data-accepted=\"{id}\"")));
    assert!(!page.contains("data-renamed"));

    let (status, to) = form(
        &mut browser,
        &format!("/me/credentials/{id}/rename"),
        "nickname=Work+laptop",
        &[SAME_ORIGIN],
    )
    .await;
    assert_eq!(
        (status, to.as_str()),
        (StatusCode::SEE_OTHER, "/me?notice=renamed")
    );
    let (_, _, page) = get(&mut browser, "/me?notice=renamed").await;
    assert!(page.contains("<h2 class=\"nickname\">Work laptop</h2>"));
    assert!(page.contains("Passkey renamed."));
    assert!(
        page.contains("data-renamed"),
        "the script signals user details"
    );

    let (status, to) = form(
        &mut browser,
        &format!("/me/credentials/{id}/rename"),
        &format!("nickname={}", "x".repeat(65)),
        &[SAME_ORIGIN],
    )
    .await;
    assert_eq!(
        (status, to.as_str()),
        (StatusCode::SEE_OTHER, "/me?notice=invalid-nickname")
    );

    // The last passkey: a confirmation page first, which changes nothing.
    let (status, headers, body) = browser
        .request(
            "POST",
            &format!("/me/credentials/{id}/revoke"),
            &[FORM, SAME_ORIGIN],
            "",
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let body = text(&body);
    assert!(body.contains("without a backup passkey"));
    assert!(body.contains("name=\"confirm\" value=\"yes\""));
    assert_eq!(headers["cache-control"], "no-store");
    assert!(service.account(&session(&browser)).await.is_ok());

    let (status, to) = form(
        &mut browser,
        &format!("/me/credentials/{id}/revoke"),
        "confirm=yes",
        &[SAME_ORIGIN],
    )
    .await;
    assert_eq!(
        (status, to.as_str()),
        (StatusCode::SEE_OTHER, "/?notice=revoked-signed-out")
    );
    assert!(
        !browser.cookies.iter().any(|(k, _)| k == "kb_session"),
        "the cookie is cleared"
    );
    let (status, headers, _) = get(&mut browser, "/me").await;
    assert_eq!((status, location(&headers)), (StatusCode::SEE_OTHER, "/"));
    let kinds: Vec<_> = service
        .store()
        .audit_events()
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event.kind)
        .collect();
    assert_eq!(
        kinds,
        [
            "admin.invite",
            "registration",
            "credential.rename",
            "credential.revoke"
        ]
    );
}

fn session(browser: &Browser) -> String {
    browser
        .cookies
        .iter()
        .find(|(k, _)| k == "kb_session")
        .map(|(_, v)| v.clone())
        .unwrap()
}

#[tokio::test]
async fn forms_from_other_sites_and_other_peoples_passkeys_are_refused() {
    let (app, service) = app().await;
    let (mut ada, ada_cred) = enrolled(&app, &service, "ada").await;
    let (_, bob_cred) = enrolled(&app, &service, "bob").await;
    let ada_id = b64::encode(&ada_cred.id);
    let events = service.store().audit_events().await.unwrap().len();

    for headers in [
        [("sec-fetch-site", "cross-site")],
        [("sec-fetch-site", "same-site")],
        [("origin", "https://evil.example")],
    ] {
        for action in ["rename", "revoke"] {
            let (status, _) = form(
                &mut ada,
                &format!("/me/credentials/{ada_id}/{action}"),
                "nickname=pwned&confirm=yes",
                &headers,
            )
            .await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{action} {headers:?}");
        }
        let (status, _) = form(&mut ada, "/me/signout", "", &headers).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    // Same-origin by Origin alone (browsers without Sec-Fetch-Site).
    let (status, _) = form(
        &mut ada,
        &format!("/me/credentials/{ada_id}/rename"),
        "nickname=mine",
        &[("origin", ORIGIN)],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let events = events + 1;

    let bob_id = b64::encode(&bob_cred.id);
    for action in ["rename", "revoke"] {
        let (status, to) = form(
            &mut ada,
            &format!("/me/credentials/{bob_id}/{action}"),
            "nickname=mine&confirm=yes",
            &[SAME_ORIGIN],
        )
        .await;
        assert_eq!(
            (status, to.as_str()),
            (StatusCode::SEE_OTHER, "/me?notice=not-found"),
            "{action}"
        );
    }
    assert_eq!(service.store().audit_events().await.unwrap().len(), events);
    let bob = service
        .credentials_of((&Operator::local("cli")).into(), "bob")
        .await
        .unwrap();
    assert_eq!(bob[0].nickname, None);
    assert_eq!(bob[0].status, keybound_store::CredentialStatus::Active);

    // Without a session the forms lead to sign-in.
    let mut stranger = Browser::new(app.clone());
    let (status, to) = form(
        &mut stranger,
        &format!("/me/credentials/{bob_id}/revoke"),
        "confirm=yes",
        &[SAME_ORIGIN],
    )
    .await;
    assert_eq!(
        (status, to.as_str()),
        (StatusCode::SEE_OTHER, "/?notice=session-ended")
    );
}

#[tokio::test]
async fn notices_are_chosen_from_a_fixed_list() {
    let (app, _) = app().await;
    let mut browser = Browser::new(app);
    let (_, _, page) = get(&mut browser, "/?notice=signed-out").await;
    assert!(page.contains("You are signed out."));
    let (status, _, page) = get(&mut browser, "/?notice=%3Cscript%3Ealert(1)%3C/script%3E").await;
    assert_eq!(status, StatusCode::OK);
    assert!(!page.contains("alert(1)"));
    assert!(page.contains("<p id=\"notice\" role=\"status\" class=\"\"></p>"));
}

#[tokio::test]
async fn sign_out_by_form_ends_the_session() {
    let (app, service) = app().await;
    let (mut browser, _) = enrolled(&app, &service, "ada").await;
    let before = session(&browser);
    let (status, to) = form(&mut browser, "/me/signout", "", &[SAME_ORIGIN]).await;
    assert_eq!(
        (status, to.as_str()),
        (StatusCode::SEE_OTHER, "/?notice=signed-out")
    );
    assert_eq!(
        service.account(&before).await.unwrap_err(),
        keybound_service::ServiceError::Forbidden
    );
}

/// The page may learn that a credential is unknown (to call
/// `signalUnknownCredential`), but not for the decoy offered for a name
/// without an account.
#[tokio::test]
async fn unknown_credentials_are_flagged_to_the_page_but_decoys_are_not() {
    let (app, service) = app().await;
    enrolled(&app, &service, "ada").await;
    let mut browser = Browser::new(app.clone());
    let auth = Authenticator::default();
    let (mut stranger, _) = auth.register(
        Algorithm::Es256,
        &Ceremony {
            rp_id: "localhost",
            origin: ORIGIN,
            challenge: &[0; 32],
        },
        b"nobody",
    );
    let (_, decoy_options) = browser
        .post(
            "/assertion/options",
            json!({"username": "nobody"}).to_string(),
        )
        .await;
    let decoy = decoy_options["allowCredentials"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    for (id, flagged) in [(None, true), (Some(decoy), false)] {
        if let Some(id) = id {
            stranger.id = b64::decode(&id).unwrap();
        }
        let (_, options) = browser
            .post("/assertion/options", json!({"username": ""}).to_string())
            .await;
        let c = challenge(&options);
        let json = auth.assert(
            &mut stranger,
            &Ceremony {
                rp_id: "localhost",
                origin: ORIGIN,
                challenge: &c,
            },
        );
        let (status, reply) = browser.post("/assertion/result", json.to_string()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(reply["errorMessage"], "the ceremony failed");
        assert_eq!(
            reply.get("unknownCredential") == Some(&json!(true)),
            flagged,
            "{reply}"
        );
    }
}

/// Device replacement in one sitting: signed in with the old device, add
/// the new device's passkey, revoke the old one (confirmed: it would leave
/// one); the new one signs in and the old one is refused.
#[tokio::test]
async fn a_device_is_replaced_from_my_passkeys() {
    let (app, service) = app().await;
    let (mut browser, mut old) = enrolled(&app, &service, "ada").await;
    let new_device = Authenticator::default();
    let (status, options) = browser
        .post("/attestation/options", json!({}).to_string())
        .await;
    assert_eq!(status, StatusCode::OK);
    let user = b64::decode(options["user"]["id"].as_str().unwrap()).unwrap();
    let c = challenge(&options);
    fn ceremony(c: &[u8]) -> Ceremony<'_> {
        Ceremony {
            rp_id: "localhost",
            origin: ORIGIN,
            challenge: c,
        }
    }
    let (mut new, json) = new_device.register(Algorithm::Es256, &ceremony(&c), &user);
    let (status, _) = browser.post("/attestation/result", json.to_string()).await;
    assert_eq!(status, StatusCode::OK);
    let (_, _, page) = get(&mut browser, "/me?notice=added").await;
    assert!(page.contains("id=\"replace-hint\""));

    let revoke = format!("/me/credentials/{}/revoke", b64::encode(&old.id));
    let (status, _) = form(&mut browser, &revoke, "", &[SAME_ORIGIN]).await;
    assert_eq!(status, StatusCode::OK, "the confirmation page");
    let (status, to) = form(&mut browser, &revoke, "confirm=yes", &[SAME_ORIGIN]).await;
    assert_eq!(
        (status, to.as_str()),
        (StatusCode::SEE_OTHER, "/?notice=revoked-signed-out")
    );

    for (cred, expected) in [
        (&mut new, StatusCode::OK),
        (&mut old, StatusCode::BAD_REQUEST),
    ] {
        let (_, options) = browser
            .post("/assertion/options", json!({"username": ""}).to_string())
            .await;
        let c = challenge(&options);
        let json = Authenticator::default().assert(cred, &ceremony(&c));
        let (status, _) = browser.post("/assertion/result", json.to_string()).await;
        assert_eq!(status, expected);
    }
}

/// Issue 14: a wrong address gets a page in the site's frame with a way
/// home (and a wrong method one too), the icon is there, and the recovery
/// page counts the approvals the server is configured for.
#[tokio::test]
async fn wrong_addresses_the_icon_and_the_recovery_count() {
    let (app, _) = app_with(|c| c.recovery.approvals = 3).await;
    let mut browser = Browser::new(app);
    let (status, headers, page) = get(&mut browser, "/no/such/page").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(
        page.contains("Page not found") && page.contains("href=\"/\""),
        "{page}"
    );
    assert!(page.contains("/assets/keybound.css"));
    let (status, _, page) = get(&mut browser, "/admin/invite").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(page.contains("href=\"/\""), "{page}");

    for path in ["/favicon.svg", "/favicon.ico"] {
        let (status, headers, icon) = get(&mut browser, path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(headers[header::CONTENT_TYPE], "image/svg+xml");
        assert!(icon.starts_with("<svg"));
    }
    let (_, _, page) = get(&mut browser, "/").await;
    assert!(page.contains("rel=\"icon\" href=\"/favicon.svg\""));

    let (_, _, page) = get(&mut browser, "/recover").await;
    assert!(page.contains("Three of them must approve"), "{page}");
    assert!(!page.contains("Two of them"));
}
