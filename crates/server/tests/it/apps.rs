//! Issue 15: the console's apps (OpenID Connect clients) — listed, added
//! (the secret shown once, never again) and removed behind the tick; only
//! for an administrator within the step-up window, only from our pages;
//! every refused form answered in words with the form kept.

use super::step_up::{app_at, Manual};
use super::*;
use keybound_service::{Clock, STEP_UP_WINDOW_MS};
use std::sync::atomic::{AtomicI64, Ordering};

const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");

/// Sends a form (or a GET with an empty body) as a page from `site` would.
async fn send(
    browser: &mut Browser,
    method: &str,
    path: &str,
    body: &str,
    site: &str,
) -> (StatusCode, axum::http::HeaderMap, String) {
    let (status, headers, body) = browser
        .request(
            method,
            path,
            &[FORM, ("sec-fetch-site", site)],
            body.to_owned(),
        )
        .await;
    (status, headers, String::from_utf8(body).unwrap())
}

async fn enrolled(app: &Router, service: &Service, name: &str, admin: bool) -> Browser {
    let token = service
        .invite(name, admin, &Operator::local("test"))
        .await
        .unwrap();
    enrol_at(app, [127, 0, 0, 7], &token.value).await.0
}

/// The text of the element with `id`, up to the next tag.
fn text_of(page: &str, id: &str) -> String {
    let marker = format!("id=\"{id}\">");
    assert!(page.contains(&marker), "no #{id} in {page}");
    let (_, from) = page.split_once(&marker).unwrap();
    from.split_once('<').unwrap().0.to_owned()
}

fn location(headers: &axum::http::HeaderMap) -> String {
    headers
        .get(header::LOCATION)
        .map(|l| l.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

async fn client_names(service: &Service) -> Vec<String> {
    service
        .oidc_clients((&Operator::local("cli")).into())
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect()
}

#[tokio::test]
async fn apps_are_added_listed_and_removed_with_the_secret_shown_once() {
    let (app, service) = app().await;
    let mut root = enrolled(&app, &service, "root", true).await;
    let (status, _, page) = send(&mut root, "GET", "/admin", "", "none").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("<a href=\"/admin/apps\">Apps</a>"), "{page}");
    let (status, _, page) = send(&mut root, "GET", "/admin/apps", "", "none").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("href=\"/admin/apps\" aria-current=\"page\""));
    assert!(page.contains("id=\"no-apps\"") && page.contains("id=\"add-app\""));

    // A confidential app that authenticates in the form body.
    let typed = "name=wiki&redirect_uris=https%3A%2F%2Fwiki.example%2Fcb%0D%0Ahttp%3A%2F%2F127.0.0.1%3A9000%2Fcb\
                 &kind=confidential&auth_method=client_secret_post\
                 &backchannel_logout_uri=https%3A%2F%2Fwiki.example%2Flogout&pairwise=yes";
    let (status, headers, page) =
        send(&mut root, "POST", "/admin/apps", typed, "same-origin").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(headers.get(header::CACHE_CONTROL).unwrap(), "no-store");
    assert!(
        location(&headers).is_empty(),
        "answered in place, no redirect"
    );
    let client_id = text_of(&page, "client-id");
    let secret = text_of(&page, "client-secret");
    assert!(client_id.len() >= 16 && secret.len() >= 32, "{page}");
    assert!(page.contains("Copy the secret now: it is not shown again."));

    // The secret is the app's: the introspection endpoint takes it.
    let introspect = |secret: String| {
        let app = app.clone();
        let client_id = client_id.clone();
        async move {
            let mut rp = Browser::new(app);
            let (status, _, body) = rp
                .request(
                    "POST",
                    "/oauth2/introspect",
                    &[FORM],
                    format!("client_id={client_id}&client_secret={secret}&token=nothing"),
                )
                .await;
            (status, String::from_utf8(body).unwrap())
        }
    };
    let (status, body) = introspect(secret.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("\"active\":false"));
    let (status, _) = introspect("wrong".into()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Listed with everything but the secret, which no page and no event
    // shows again.
    let (_, _, list) = send(&mut root, "GET", "/admin/apps", "", "none").await;
    assert!(list.contains("data-name=\"wiki\""));
    assert!(list.contains(&client_id) && !list.contains(&secret));
    assert!(list.find("id=\"apps\"").unwrap() < list.find("id=\"add-app\"").unwrap());
    for shown in [
        "confidential",
        "client_secret_post",
        "https://wiki.example/cb",
        "http://127.0.0.1:9000/cb",
        "https://wiki.example/logout",
        "pairwise sub",
        "action=\"/admin/apps/remove\"",
    ] {
        assert!(list.contains(shown), "{shown}");
    }
    let (_, _, audit) = send(&mut root, "GET", "/admin/audit", "", "none").await;
    assert!(!audit.contains(&secret));
    let events = service.store().audit_events().await.unwrap();
    let added = events
        .iter()
        .find(|e| e.event.kind == "oidc.client_add")
        .unwrap();
    assert_eq!(added.event.actor.as_deref(), Some("root"));
    assert_eq!(added.event.subject.as_deref(), Some("wiki"));
    assert!(events
        .iter()
        .all(|e| !format!("{:?}", e.event).contains(&secret)));

    // A public app: no secret at all.
    let (status, _, page) = send(
        &mut root,
        "POST",
        "/admin/apps",
        "name=spa&redirect_uris=https%3A%2F%2Fspa.example%2F&kind=public&auth_method=client_secret_post",
        "same-origin",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(!page.contains("client-secret") && page.contains("id=\"public-note\""));
    let (_, _, list) = send(&mut root, "GET", "/admin/apps", "", "none").await;
    assert!(list.contains("data-name=\"spa\""));
    assert!(list.contains("<td>public</td>") && list.contains("<td>none</td>"));

    // Removing needs the tick, then takes the app away.
    let (status, headers, _) = send(
        &mut root,
        "POST",
        "/admin/apps/remove",
        "name=wiki",
        "same-origin",
    )
    .await;
    assert_eq!(
        (status, location(&headers).as_str()),
        (
            StatusCode::SEE_OTHER,
            "/admin/apps?notice=confirm-remove-app"
        )
    );
    assert_eq!(client_names(&service).await, ["spa", "wiki"]);
    let (_, headers, _) = send(
        &mut root,
        "POST",
        "/admin/apps/remove",
        "name=wiki&confirm=yes",
        "same-origin",
    )
    .await;
    assert_eq!(location(&headers), "/admin/apps?notice=app-removed");
    assert_eq!(client_names(&service).await, ["spa"]);
    let (status, _) = introspect(secret).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "its secret is dead");
    let removed = service.store().audit_events().await.unwrap();
    let removed = removed
        .iter()
        .find(|e| e.event.kind == "oidc.client_remove")
        .unwrap();
    assert_eq!(removed.event.actor.as_deref(), Some("root"));
    assert_eq!(removed.event.subject.as_deref(), Some("wiki"));
    for name in ["wiki", "nobody", &"n".repeat(100_000)] {
        let (_, headers, _) = send(
            &mut root,
            "POST",
            "/admin/apps/remove",
            &format!("name={name}&confirm=yes"),
            "same-origin",
        )
        .await;
        assert_eq!(location(&headers), "/admin/apps?notice=no-such-app");
    }
}

#[tokio::test]
async fn only_a_fresh_administrator_from_our_pages_manages_apps() {
    let start = keybound_service::SystemClock.now_ms();
    let clock = Arc::new(Manual(AtomicI64::new(start)));
    let (app, service) = app_at(clock.clone()).await;
    let mut root = enrolled(&app, &service, "root", true).await;
    let mut ada = enrolled(&app, &service, "ada", false).await;
    let add = "name=wiki&redirect_uris=https%3A%2F%2Fwiki.example%2Fcb";

    // Nobody signed in: the sign-in page.
    let (status, headers, _) = send(
        &mut Browser::new(app.clone()),
        "GET",
        "/admin/apps",
        "",
        "none",
    )
    .await;
    assert_eq!(
        (status, location(&headers).as_str()),
        (StatusCode::SEE_OTHER, "/")
    );
    // Not an administrator.
    for (method, path, body) in [
        ("GET", "/admin/apps", ""),
        ("POST", "/admin/apps", add),
        ("POST", "/admin/apps/remove", "name=wiki&confirm=yes"),
    ] {
        let (status, _, page) = send(&mut ada, method, path, body, "same-origin").await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}");
        assert!(page.contains("for administrators"), "{page}");
    }
    // Another site, even with an administrator's cookie.
    let (status, _, _) = send(&mut root, "POST", "/admin/apps", add, "cross-site").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(client_names(&service).await.is_empty());
    let (status, _, _) = send(&mut root, "POST", "/admin/apps", add, "same-origin").await;
    assert_eq!(status, StatusCode::OK);
    for site in ["cross-site", "same-site"] {
        let (status, _, _) = send(
            &mut root,
            "POST",
            "/admin/apps/remove",
            "name=wiki&confirm=yes",
            site,
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{site}");
    }
    assert_eq!(client_names(&service).await, ["wiki"]);

    // After the window: the step-up, which keeps the form; nothing done.
    clock.0.fetch_add(STEP_UP_WINDOW_MS + 1, Ordering::SeqCst);
    let (status, _, page) = send(&mut root, "GET", "/admin/apps", "", "none").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(page.contains("id=\"step-up\""), "{page}");
    let (status, _, page) = send(
        &mut root,
        "POST",
        "/admin/apps",
        "name=blog&redirect_uris=https%3A%2F%2Fblog.example%2Fcb",
        "same-origin",
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(page.contains("<form id=\"resume\" method=\"post\" action=\"/admin/apps\">"));
    assert!(page.contains("name=\"name\" value=\"blog\""), "{page}");
    let (status, _, page) = send(
        &mut root,
        "POST",
        "/admin/apps/remove",
        "name=wiki&confirm=yes",
        "same-origin",
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(page.contains("id=\"step-up\""));
    assert_eq!(client_names(&service).await, ["wiki"]);
}

#[tokio::test]
async fn hostile_app_forms_are_refused_in_words_with_the_form_kept() {
    let (app, service) = app().await;
    let mut root = enrolled(&app, &service, "root", true).await;
    let ok_uri = "https%3A%2F%2Fok.example%2Fcb";
    let (status, _, _) = send(
        &mut root,
        "POST",
        "/admin/apps",
        &format!("name=wiki&redirect_uris={ok_uri}"),
        "same-origin",
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    let long_uri = format!("https%3A%2F%2Fok.example%2F{}", "x".repeat(3000));
    let many = vec![ok_uri; 17].join("%0A");
    let cases: Vec<(String, &str)> = vec![
        (
            format!("name={}&redirect_uris={ok_uri}", "n".repeat(10_000)),
            "Too long",
        ),
        (
            format!("name=&redirect_uris={ok_uri}"),
            "1 to 64 characters",
        ),
        (
            format!("name=my+app&redirect_uris={ok_uri}"),
            "1 to 64 characters",
        ),
        (
            format!("name=a%00b&redirect_uris={ok_uri}"),
            "1 to 64 characters",
        ),
        (
            format!("name=wiki&redirect_uris={ok_uri}"),
            "already registered",
        ),
        (
            "name=x&redirect_uris=javascript%3Aalert(1)".into(),
            "must be absolute and https",
        ),
        (
            "name=x&redirect_uris=https%3A%2F%2Fok.example%2Fcb%23frag".into(),
            "without a fragment",
        ),
        (
            "name=x&redirect_uris=http%3A%2F%2Fevil.example%2Fcb".into(),
            "must be absolute and https",
        ),
        (
            "name=x&redirect_uris=%2Fcb".into(),
            "must be absolute and https",
        ),
        (
            "name=x&redirect_uris=https%3A%2F%2Fu%3Ap%40ok.example%2F".into(),
            "user name or password",
        ),
        (
            "name=x&redirect_uris=+%0A+".into(),
            "at least one redirect URI",
        ),
        ("name=x".into(), "at least one redirect URI"),
        (format!("name=x&redirect_uris={long_uri}"), "Too long"),
        (format!("name=x&redirect_uris={many}"), "at most 16"),
        (
            format!("name=x&redirect_uris={ok_uri}&backchannel_logout_uri=javascript%3Ax"),
            "must be absolute and https",
        ),
        (
            format!("name=x&redirect_uris={ok_uri}&backchannel_logout_uri={long_uri}"),
            "Too long",
        ),
        (
            format!("name=x&redirect_uris={ok_uri}&kind=both"),
            "Choose public or confidential",
        ),
        (
            format!("name=x&redirect_uris={ok_uri}&auth_method=private_key_jwt"),
            "Choose public or confidential",
        ),
        (
            format!(
                "name=x&redirect_uris={ok_uri}&auth_method={}",
                "m".repeat(50_000)
            ),
            "Choose public or confidential",
        ),
    ];
    for (body, words) in &cases {
        let (status, _, page) = send(&mut root, "POST", "/admin/apps", body, "same-origin").await;
        let shown: String = body.chars().take(80).collect();
        assert_eq!(status, StatusCode::BAD_REQUEST, "{shown}: {page}");
        assert!(page.contains("id=\"app-refused\""), "{shown}");
        assert!(page.contains(words), "{shown}: wanted {words}");
        assert!(page.contains("<form id=\"add-app\""), "{shown}");
        assert!(!page.contains("client-secret"), "{shown}");
        // The reason and the form come first, where the page opens.
        let at = |needle: &str| page.find(needle).unwrap();
        assert!(at("id=\"app-refused\"") < at("id=\"apps\""), "{shown}");
    }
    // Not even a form: refused before anything, still no error page.
    for body in [
        "name=%FF&redirect_uris=x",
        "name=a&name=b",
        "redirect_uris=%E2%80",
    ] {
        let (status, _, _) = send(&mut root, "POST", "/admin/apps", body, "same-origin").await;
        assert!(status.is_client_error(), "{body}: {status}");
    }
    assert_eq!(client_names(&service).await, ["wiki"]);

    // What was typed is kept, escaped.
    let (_, _, page) = send(
        &mut root,
        "POST",
        "/admin/apps",
        "name=%3Cb%3Eapp&redirect_uris=javascript%3Aalert(%22x%22)&kind=public&pairwise=yes\
         &backchannel_logout_uri=https%3A%2F%2Fok.example%2Fbye",
        "same-origin",
    )
    .await;
    assert!(page.contains("value=\"&lt;b&gt;app\""), "{page}");
    assert!(page.contains(">javascript:alert(&quot;x&quot;)</textarea>"));
    assert!(page.contains("value=\"public\" checked"));
    assert!(page.contains("value=\"yes\" checked"));
    assert!(page.contains("value=\"https://ok.example/bye\""));
    assert!(!page.contains("<b>app"));
}
