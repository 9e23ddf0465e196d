//! Forward-auth through the real router: each proxy family's headers,
//! who is told what, and the hostile requests that get 4xx, never 5xx.

use super::*;
use keybound_server::{IpNet, TrustedProxies};
use keybound_service::policies::PolicySet;
use keybound_service::PolicyLoad;

/// Routes are denied until a policy permits them: the test's app is
/// everyone's, its `/admin` wants tier 3.
const POLICIES: &str = r#"@id("app-everyone")
permit (principal, action in Keybound::Action::"http", resource in Keybound::App::"app.localhost:8080");
@id("app-admin-tier3")
forbid (principal, action, resource in Keybound::App::"app.localhost:8080")
  when { resource.path like "/admin*" && context.tier < 3 };"#;

/// The app with loopback (where the test "proxy" is) trusted and
/// [`POLICIES`] loaded.
async fn proxied_app() -> (Router, Arc<Service>) {
    let store = Store::open("sqlite::memory:").await.unwrap();
    let config = Config::new("localhost", OriginPolicy::exact([ORIGIN]).unwrap(), [5; 32]);
    let service = Arc::new(Service::new(
        store,
        config,
        Arc::new(SystemClock),
        Box::new(rand_chacha::ChaCha20Rng::seed_from_u64(4)),
    ));
    let set = PolicySet::load(&[("app.cedar", POLICIES)]).unwrap();
    service
        .install_policies(set, PolicyLoad::Start, None)
        .await
        .unwrap();
    let loopback: IpNet = "127.0.0.0/8".parse().unwrap();
    let state =
        AppState::new(service.clone(), false).with_trusted_proxies(TrustedProxies::new([loopback]));
    (router(state), service)
}

const NGINX: &[(&str, &str)] = &[
    ("x-original-url", "http://app.localhost:8080/app/page?x=1"),
    ("x-original-method", "GET"),
];
const TRAEFIK: &[(&str, &str)] = &[
    ("x-forwarded-method", "GET"),
    ("x-forwarded-proto", "http"),
    ("x-forwarded-host", "app.localhost:8080"),
    ("x-forwarded-uri", "/app/page?x=1"),
];
const HTML: (&str, &str) = ("accept", "text/html,application/xhtml+xml");

fn with<'a>(base: &[(&'a str, &'a str)], more: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    base.iter().chain(more).copied().collect()
}

async fn ask(
    browser: &mut Browser,
    path: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, axum::http::HeaderMap) {
    let (status, headers, _) = browser.request("GET", path, headers, "").await;
    (status, headers)
}

async fn envoy(
    browser: &mut Browser,
    more: &[(&str, &str)],
) -> (StatusCode, axum::http::HeaderMap) {
    let headers = with(
        &[
            ("host", "app.localhost:8080"),
            ("x-forwarded-proto", "http"),
        ],
        more,
    );
    ask(browser, "/api/authz/ext-authz/app/page?x=1", &headers).await
}

fn location(headers: &axum::http::HeaderMap) -> &str {
    headers.get("location").unwrap().to_str().unwrap()
}

const SIGN_IN: &str =
    "http://localhost:8080/?rd=http%3A%2F%2Fapp.localhost%3A8080%2Fapp%2Fpage%3Fx%3D1";

#[tokio::test]
async fn anonymous_requests_are_sent_to_sign_in() {
    let (app, _) = proxied_app().await;
    let mut b = Browser::new(app);
    let (status, headers) = ask(&mut b, "/api/authz/auth-request", NGINX).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(location(&headers), SIGN_IN);
    assert!(headers.get("remote-user").is_none());

    let (status, headers) = ask(&mut b, "/api/authz/forward-auth", &with(TRAEFIK, &[HTML])).await;
    assert_eq!(status, StatusCode::FOUND);
    assert_eq!(location(&headers), SIGN_IN);
    let (status, _) = ask(&mut b, "/api/authz/forward-auth", TRAEFIK).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (status, headers) = envoy(&mut b, &[HTML]).await;
    assert_eq!(status, StatusCode::FOUND);
    assert_eq!(location(&headers), SIGN_IN);
    let (status, _) = envoy(&mut b, &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // A cookie that is no session is no cookie.
    b.cookies.push(("kb_session".into(), "A".repeat(43)));
    let (status, _) = ask(&mut b, "/api/authz/auth-request", NGINX).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_signed_in_browser_is_granted_with_remote_headers_until_it_signs_out() {
    let (app, service) = proxied_app().await;
    let token = service
        .invite("ada", false, &Operator::local("t"))
        .await
        .unwrap();
    let (mut b, _) = enrol_at(&app, [127, 0, 0, 7], &token.value).await;
    for path in ["/api/authz/auth-request", "/api/authz/forward-auth"] {
        let headers = if path.ends_with("auth-request") {
            NGINX
        } else {
            TRAEFIK
        };
        let (status, headers) = ask(&mut b, path, headers).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(headers["remote-user"], "ada");
        assert_eq!(headers["remote-name"], "ada");
        assert_eq!(headers["remote-groups"], "user");
        assert!(
            headers["remote-tier"]
                .to_str()
                .unwrap()
                .parse::<i64>()
                .unwrap()
                >= 1
        );
    }
    let (status, headers) = envoy(&mut b, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["remote-user"], "ada");

    let (status, _) = b.post("/signout", "").await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = ask(&mut b, "/api/authz/auth-request", NGINX).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn only_trusted_proxies_are_answered() {
    let (app, service) = app().await; // no trusted proxy
    let token = service
        .invite("ada", false, &Operator::local("t"))
        .await
        .unwrap();
    let (mut b, _) = enrol_at(&app, [127, 0, 0, 7], &token.value).await;
    for (path, headers) in [
        ("/api/authz/auth-request", NGINX),
        ("/api/authz/forward-auth", TRAEFIK),
    ] {
        let (status, headers) = ask(&mut b, path, headers).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        assert!(headers.get("remote-user").is_none());
    }
    let (status, _) = envoy(&mut b, &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn malformed_questions_get_400_and_nothing_gets_500() {
    let (app, _) = proxied_app().await;
    let mut b = Browser::new(app);
    let long = format!("http://app.localhost/{}", "a".repeat(20_000));
    let bad: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("/api/authz/auth-request", vec![]),
        (
            "/api/authz/auth-request",
            vec![("x-original-url", "app.localhost/x")],
        ),
        (
            "/api/authz/auth-request",
            vec![("x-original-url", "ftp://app.localhost/x")],
        ),
        (
            "/api/authz/auth-request",
            vec![("x-original-url", "http://ev il/x")],
        ),
        (
            "/api/authz/auth-request",
            vec![("x-original-url", "http://a@b/x")],
        ),
        ("/api/authz/auth-request", vec![("x-original-url", &long)]),
        (
            "/api/authz/auth-request",
            vec![
                ("x-original-url", "http://a/"),
                ("x-original-url", "http://b/"),
            ],
        ),
        (
            "/api/authz/auth-request",
            vec![
                ("x-original-url", "http://a/"),
                ("x-original-method", "G(T"),
            ],
        ),
        ("/api/authz/forward-auth", vec![]),
        ("/api/authz/forward-auth", TRAEFIK[..3].to_vec()),
        (
            "/api/authz/forward-auth",
            with(&TRAEFIK[..3], &[("x-forwarded-uri", "no-slash")]),
        ),
        (
            "/api/authz/forward-auth",
            with(&TRAEFIK[1..], &[("x-forwarded-method", "")]),
        ),
        (
            "/api/authz/forward-auth",
            with(
                &TRAEFIK[..2],
                &[("x-forwarded-host", "a:99999"), ("x-forwarded-uri", "/")],
            ),
        ),
    ];
    for (path, headers) in &bad {
        let (status, headers_back) = ask(&mut b, path, headers).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path} {headers:?}");
        assert!(headers_back.get("remote-user").is_none());
    }
    let (status, _) = envoy(&mut b, &[("x-forwarded-proto", "gopher")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Anything else: some 4xx, never a 5xx and never a grant.
    for path in [
        "/api/authz/ext-authz",
        "/api/authz/ext-authz/",
        "/api/authz/ext-authz//evil",
        "/api/authz/ext-authz/%00",
        "/api/authz/ext-authz/..%2f..%2f",
    ] {
        let (status, headers) = ask(&mut b, path, &[("host", "app.localhost")]).await;
        assert!(status.is_client_error(), "{path}: {status}");
        assert!(headers.get("remote-user").is_none());
    }
}

fn body_text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn the_sign_in_page_carries_only_an_allowed_return_address() {
    let (app, service) = proxied_app().await;
    let mut b = Browser::new(app.clone());
    let (status, _, body) = b.request("GET", "/?rd=%2Fme%3Fx%3D1", &[], "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body_text(&body).contains(r#"data-return="/me?x=1""#));
    for hostile in [
        "%2F%2Fevil.example",
        "https%3A%2F%2Fevil.example",
        "https%3A%2F%2Fapp.example.com.evil.example",
        "https%3A%2F%2Fevil.example%5C%40localhost",
        "javascript%3Aalert(1)",
        "data%3Atext%2Fhtml%2Cx",
        "http%3A%2F%2Fuser%40localhost%3A8080%2F",
        "%2Fa%09b",
        "%2F%252F%252Fevil.example",
    ] {
        let (status, _, body) = b.request("GET", &format!("/?rd={hostile}"), &[], "").await;
        assert_eq!(status, StatusCode::OK, "{hostile}");
        assert!(!body_text(&body).contains("data-return"), "{hostile}");
    }
    let huge = format!("/?rd=%2F{}", "a".repeat(5000));
    let (status, _, body) = b.request("GET", &huge, &[], "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(!body_text(&body).contains("data-return"));

    // Signed in already: straight back, or to /me when not allowed.
    let token = service
        .invite("ada", false, &Operator::local("t"))
        .await
        .unwrap();
    let (mut b, _) = enrol_at(&app, [127, 0, 0, 7], &token.value).await;
    let (status, headers, _) = b
        .request("GET", "/?rd=http%3A%2F%2Flocalhost%3A8080%2Fapp", &[], "")
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location(&headers), "http://localhost:8080/app");
    let (_, headers, _) = b
        .request("GET", "/?rd=https%3A%2F%2Fevil.example%2F", &[], "")
        .await;
    assert_eq!(location(&headers), "/me");
}

#[tokio::test]
async fn the_step_up_page_asks_for_the_tier_or_says_there_is_none() {
    let (app, service) = proxied_app().await;
    let mut anonymous = Browser::new(app.clone());
    let (status, headers, _) = anonymous
        .request("GET", "/step-up?rd=%2Fapp&tier=2", &[], "")
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        location(&headers),
        "/?rd=%2Fstep-up%3Frd%3D%252Fapp%26tier%3D2"
    );
    for bad in ["/step-up?rd=%2Fapp", "/step-up?tier=0", "/step-up?tier=x"] {
        let (status, _, _) = anonymous.request("GET", bad, &[], "").await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    }

    let token = service
        .invite("ada", false, &Operator::local("t"))
        .await
        .unwrap();
    let (mut b, _) = enrol_at(&app, [127, 0, 0, 7], &token.value).await;
    let (status, _, body) = b.request("GET", "/step-up?rd=%2Fapp&tier=1", &[], "").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let body = body_text(&body);
    assert!(body.contains(r#"id="step-up""#), "{body}");
    assert!(body.contains(r#"data-return="/app""#));
    // The software authenticator's passkey does not reach tier 3.
    let (_, _, body) = b
        .request(
            "GET",
            "/step-up?rd=https%3A%2F%2Fevil.example&tier=3",
            &[],
            "",
        )
        .await;
    let body = body_text(&body);
    assert!(body.contains("no-passkey-of-tier"), "{body}");
    assert!(!body.contains(r#"id="step-up""#));
    assert!(body.contains(r#"data-return="/me""#));
}

#[tokio::test]
async fn the_session_cookie_is_lax_and_scoped_to_the_cookie_domain() {
    let store = Store::open("sqlite::memory:").await.unwrap();
    let config = Config::new("localhost", OriginPolicy::exact([ORIGIN]).unwrap(), [5; 32]);
    let service = Arc::new(Service::new(
        store,
        config,
        Arc::new(SystemClock),
        Box::new(rand_chacha::ChaCha20Rng::seed_from_u64(6)),
    ));
    let app = router(
        AppState::new(service.clone(), false).with_cookie_domain(Some("localhost".to_owned())),
    );
    let token = service
        .invite("ada", false, &Operator::local("t"))
        .await
        .unwrap();
    let mut b = Browser::new(app.clone());
    let (_, options) = b
        .post(
            "/attestation/options",
            json!({ "token": token.value }).to_string(),
        )
        .await;
    let user = b64::decode(options["user"]["id"].as_str().unwrap()).unwrap();
    let c = challenge(&options);
    let (_, json) = Authenticator::default().register(
        Algorithm::Es256,
        &Ceremony {
            rp_id: "localhost",
            origin: ORIGIN,
            challenge: &c,
        },
        &user,
    );
    let (status, headers, _) = b
        .request(
            "POST",
            "/attestation/result",
            &[("content-type", "application/json")],
            json.to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let sets: Vec<&str> = headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    let session = sets.iter().find(|s| s.starts_with("kb_session=")).unwrap();
    assert!(session.contains("SameSite=Lax"), "{session}");
    assert!(session.contains("; Domain=localhost"), "{session}");
    // Signing out forgets the cookie in the same scope.
    let (_, headers, _) = b.request("POST", "/signout", &[], "").await;
    let gone = headers.get("set-cookie").unwrap().to_str().unwrap();
    assert!(
        gone.starts_with("kb_session=;") && gone.contains("; Domain=localhost"),
        "{gone}"
    );
    // The ceremony cookie stays this host's and Strict.
    let (_, headers, _) = b
        .request(
            "POST",
            "/assertion/options",
            &[("content-type", "application/json")],
            "{}",
        )
        .await;
    for set in headers.get_all("set-cookie") {
        let set = set.to_str().unwrap();
        if set.starts_with("kb_ceremony=") {
            assert!(
                set.contains("SameSite=Strict") && !set.contains("Domain="),
                "{set}"
            );
        }
    }
}

/// Lax lets the session ride on cross-site top-level navigations, so every
/// state change a session authorises must refuse a cross-site request.
#[tokio::test]
async fn every_session_state_change_refuses_cross_site_requests() {
    let (app, service) = proxied_app().await;
    let token = service
        .invite("ada", false, &Operator::local("t"))
        .await
        .unwrap();
    let (mut b, cred) = enrol_at(&app, [127, 0, 0, 7], &token.value).await;
    let id = b64::encode(&cred.id);
    for site in ["cross-site", "same-site"] {
        for (path, content_type, body) in [
            ("/signout", "application/json", String::new()),
            ("/attestation/options", "application/json", "{}".to_owned()),
            (
                "/me/signout",
                "application/x-www-form-urlencoded",
                String::new(),
            ),
            (
                &*format!("/me/credentials/{id}/rename"),
                "application/x-www-form-urlencoded",
                "nickname=x".to_owned(),
            ),
            (
                &*format!("/me/credentials/{id}/revoke"),
                "application/x-www-form-urlencoded",
                "confirm=true".to_owned(),
            ),
            (
                "/me/recovery/x/object",
                "application/x-www-form-urlencoded",
                String::new(),
            ),
        ] {
            let (status, _, _) = b
                .request(
                    "POST",
                    path,
                    &[("content-type", content_type), ("sec-fetch-site", site)],
                    body,
                )
                .await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{site} {path}");
        }
    }
    // Still signed in, passkey still there.
    let (status, _) = ask(&mut b, "/api/authz/auth-request", NGINX).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn too_low_a_tier_is_sent_to_step_up_and_an_unpermitted_app_is_forbidden() {
    let (app, service) = proxied_app().await;
    let token = service
        .invite("ada", false, &Operator::local("t"))
        .await
        .unwrap();
    let (mut b, _) = enrol_at(&app, [127, 0, 0, 7], &token.value).await;
    let step_up =
        "http://localhost:8080/step-up?rd=http%3A%2F%2Fapp.localhost%3A8080%2Fadmin%2Fx&tier=3";
    let admin = [("x-original-url", "http://app.localhost:8080/admin/x")];
    let (status, headers) = ask(&mut b, "/api/authz/auth-request", &admin).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(location(&headers), step_up);
    assert!(headers.get("remote-user").is_none());
    let traefik = [
        ("x-forwarded-method", "GET"),
        ("x-forwarded-proto", "http"),
        ("x-forwarded-host", "app.localhost:8080"),
        ("x-forwarded-uri", "/admin/x"),
    ];
    let (status, headers) = ask(&mut b, "/api/authz/forward-auth", &with(&traefik, &[HTML])).await;
    assert_eq!(status, StatusCode::FOUND);
    assert_eq!(location(&headers), step_up);
    let (status, headers) = ask(&mut b, "/api/authz/forward-auth", &traefik).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(headers.get("remote-user").is_none());
    // The plain route stays open.
    let (status, _) = ask(&mut b, "/api/authz/auth-request", NGINX).await;
    assert_eq!(status, StatusCode::OK);

    // An app no policy permits: forbidden, never a sign-in loop.
    let other = [("x-original-url", "http://other.localhost:8080/")];
    let (status, headers) = ask(&mut b, "/api/authz/auth-request", &other).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(headers.get("location").is_none());
    let denied: Vec<_> = service
        .store()
        .audit_events()
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.event.kind == "access.denied")
        .collect();
    assert_eq!(denied.len(), 1, "{denied:?}");
    assert_eq!(
        denied[0].event.details.get("policies").map(String::as_str),
        Some("default deny")
    );
}

/// An agent's `Authorization: DPoP` that does not hold: 401 with the
/// RFC 9449 challenge and a fresh nonce, never the sign-in redirect; a
/// bearer token that is not a task token goes the person's way.
#[tokio::test]
async fn a_task_token_that_does_not_hold_gets_a_dpop_challenge() {
    let (app, _) = proxied_app().await;
    let mut browser = Browser::new(app);
    let headers = with(
        NGINX,
        &[("authorization", "DPoP not.a.token"), ("dpop", "x.y.z")],
    );
    let (status, headers) = ask(&mut browser, "/api/authz/auth-request", &headers).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let challenge = headers.get("www-authenticate").unwrap().to_str().unwrap();
    assert!(
        challenge.starts_with("DPoP error=\"invalid_token\""),
        "{challenge}"
    );
    assert!(challenge.contains("algs=\"ES256"), "{challenge}");
    assert!(headers.get("dpop-nonce").is_some());
    assert!(headers.get("location").is_none(), "no sign-in for agents");

    let headers = with(TRAEFIK, &[("authorization", "Bearer not-a-task-token")]);
    let (status, headers) = ask(&mut browser, "/api/authz/forward-auth", &headers).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(headers.get("www-authenticate").is_none());
    assert!(
        headers.get("location").is_some(),
        "sign in, as without a token"
    );
}

/// The token exchange without a DPoP proof: 400 `invalid_request` (no
/// bearer tokens for agents), with a nonce for the retry.
#[tokio::test]
async fn the_token_exchange_wants_a_dpop_proof_and_hands_out_a_nonce() {
    let (app, _) = proxied_app().await;
    let mut browser = Browser::new(app);
    let body = "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange\
                &actor_token=a.b.c&actor_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Ajwt\
                &subject_token=a.b.c&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Ajwt\
                &task_id=t1";
    let (status, headers, reply) = browser
        .request(
            "POST",
            "/oauth2/token",
            &[("content-type", "application/x-www-form-urlencoded")],
            body,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let reply: Value = serde_json::from_slice(&reply).unwrap();
    assert_eq!(reply["error"], "invalid_request");
    assert!(headers.get("dpop-nonce").is_some());
}
