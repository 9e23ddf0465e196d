//! Issue 14 item 7: the console's people search and paging, a person's
//! page (passkeys, sessions with "end"), the recoveries page, the audit
//! kind picker; each new address refused to non-administrators, to other
//! sites, to stale sessions, and answering unknown or huge input calmly.

use super::step_up::{app_at, Manual};
use super::*;
use keybound_service::{Clock, STEP_UP_WINDOW_MS};
use std::sync::atomic::{AtomicI64, Ordering};

const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");

async fn get(browser: &mut Browser, path: &str) -> (StatusCode, String, String) {
    let (status, headers, body) = browser.request("GET", path, &[], Body::empty()).await;
    let location = headers
        .get(header::LOCATION)
        .map(|l| l.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, location, String::from_utf8(body).unwrap())
}

async fn post(browser: &mut Browser, path: &str, body: &str, site: &str) -> (StatusCode, String) {
    let (status, headers, _) = browser
        .request(
            "POST",
            path,
            &[FORM, ("sec-fetch-site", site)],
            body.to_owned(),
        )
        .await;
    let location = headers
        .get(header::LOCATION)
        .map(|l| l.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, location)
}

async fn enrolled(app: &Router, service: &Service, name: &str, admin: bool) -> Browser {
    let token = service
        .invite(name, admin, &Operator::local("test"))
        .await
        .unwrap();
    enrol_at(app, [127, 0, 0, 7], &token.value).await.0
}

/// The session references on a person page.
fn references(page: &str) -> Vec<String> {
    page.split("name=\"session\" value=\"")
        .skip(1)
        .map(|rest| rest.split_once('"').unwrap().0.to_owned())
        .collect()
}

#[tokio::test]
async fn people_are_searched_and_paged() {
    let (app, service) = app().await;
    let mut root = enrolled(&app, &service, "root", true).await;
    for i in 0..55 {
        service
            .invite(&format!("user{i:02}"), false, &Operator::local("test"))
            .await
            .unwrap();
    }
    let (status, _, page) = get(&mut root, "/admin").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page.matches("<tr data-name=").count(), 50, "one page");
    assert!(page.contains("href=\"/admin/person?name=root\""));
    let next = page
        .split_once("id=\"next-people\" href=\"")
        .unwrap()
        .1
        .split_once('"')
        .unwrap()
        .0
        .replace("&amp;", "&");
    let (_, _, second) = get(&mut root, &next).await;
    assert_eq!(second.matches("<tr data-name=").count(), 6);
    assert!(!second.contains("id=\"next-people\""));

    let (_, _, found) = get(&mut root, "/admin?q=USER1").await;
    assert_eq!(found.matches("<tr data-name=").count(), 10, "user10..19");
    assert!(found.contains("data-name=\"user13\"") && !found.contains("data-name=\"root\""));
    let (status, _, none) = get(&mut root, &format!("/admin?q={}", "x".repeat(10_000))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(none.contains("Nobody matches"));
    let (status, _, _) = get(&mut root, "/admin?q=%00%FF&after=%E2%80%AE").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_persons_sessions_are_listed_and_ended() {
    let (app, service) = app().await;
    let mut root = enrolled(&app, &service, "root", true).await;
    let mut ada = enrolled(&app, &service, "ada", false).await;

    let (status, _, page) = get(&mut root, "/admin/person?name=ada").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("id=\"person-credentials\""));
    assert!(page.contains("device-bound"));
    let refs = references(&page);
    assert_eq!(refs.len(), 1, "{page}");
    assert!(page.contains("class=\"danger\" type=\"submit\">End session"));
    assert!(page.contains("action=\"/admin/offboard\""));
    // Not their own offboarding.
    let (_, _, own) = get(&mut root, "/admin/person?name=root").await;
    assert!(!own.contains("action=\"/admin/offboard\""));

    let body = format!("name=ada&session={}", refs[0]);
    // Hostile: another site; a non-administrator; no tick.
    let (status, _) = post(
        &mut root,
        "/admin/person/end-session",
        &format!("{body}&confirm=yes"),
        "cross-site",
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = post(
        &mut ada,
        "/admin/person/end-session",
        &format!("{body}&confirm=yes"),
        "same-origin",
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, location) = post(&mut root, "/admin/person/end-session", &body, "same-origin").await;
    assert_eq!(
        location,
        "/admin/person?name=ada&notice=confirm-end-session"
    );
    let (status, _, _) = get(&mut ada, "/me").await;
    assert_eq!(status, StatusCode::OK, "still signed in");

    let (_, location) = post(
        &mut root,
        "/admin/person/end-session",
        &format!("{body}&confirm=yes"),
        "same-origin",
    )
    .await;
    assert_eq!(
        location,
        "/admin/person?name=ada&notice=session-ended-by-admin"
    );
    let (status, location, _) = get(&mut ada, "/me").await;
    assert_eq!(
        (status, location.as_str()),
        (StatusCode::SEE_OTHER, "/?notice=session-ended")
    );
    let events = service.store().audit_events().await.unwrap();
    let ended = events
        .iter()
        .rev()
        .find(|e| e.event.kind == "session.end")
        .unwrap();
    assert_eq!(ended.event.actor.as_deref(), Some("root"));
    assert_eq!(ended.event.subject.as_deref(), Some("ada"));

    // Again, or garbled, or someone else's: nothing to end.
    for body in [
        body.clone(),
        "name=ada&session=%00%00".to_owned(),
        format!("name=root&session={}", refs[0]),
        format!("name=nobody&session={}", refs[0]),
        format!(
            "name={}&session={}",
            "n".repeat(100_000),
            "s".repeat(100_000)
        ),
    ] {
        let (status, location) = post(
            &mut root,
            "/admin/person/end-session",
            &format!("{body}&confirm=yes"),
            "same-origin",
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert!(location.ends_with("notice=no-such-session"), "{location}");
    }

    // Unknown and huge names: a 404 page, not an error.
    for name in ["nobody", &"x".repeat(50_000), "%E2%80%AE"] {
        let (status, _, page) = get(&mut root, &format!("/admin/person?name={name}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(page.contains("no account by that name"));
    }
    let mut bo = enrolled(&app, &service, "bo", false).await;
    for path in [
        "/admin/person?name=root",
        "/admin/recoveries",
        "/admin/invitations",
        "/admin?q=r",
    ] {
        let (status, _, page) = get(&mut bo, path).await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "not an administrator: {path}"
        );
        assert!(!page.contains("root"), "{path}");
    }
    let (status, location, _) = get(&mut Browser::new(app.clone()), "/admin/person?name=ada").await;
    assert_eq!((status, location.as_str()), (StatusCode::SEE_OTHER, "/"));
}

#[tokio::test]
async fn new_console_pages_need_a_fresh_step_up() {
    let start = keybound_service::SystemClock.now_ms();
    let clock = Arc::new(Manual(AtomicI64::new(start)));
    let (app, service) = app_at(clock.clone()).await;
    let mut root = enrolled(&app, &service, "root", true).await;
    let _ = enrolled(&app, &service, "ada", false).await;
    clock.0.fetch_add(STEP_UP_WINDOW_MS + 1, Ordering::SeqCst);
    for path in [
        "/admin/person?name=ada",
        "/admin/recoveries",
        "/admin/invitations",
        "/admin?q=ad",
    ] {
        let (status, _, page) = get(&mut root, path).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        assert!(page.contains("id=\"step-up\""), "{path}");
    }
    let (status, _) = post(
        &mut root,
        "/admin/person/end-session",
        "name=ada&session=x&confirm=yes",
        "same-origin",
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    service
        .invite("cy", false, &Operator::local("test"))
        .await
        .unwrap();
    let (status, _) = post(
        &mut root,
        "/admin/invitations/void",
        "name=cy&confirm=yes",
        "same-origin",
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        service
            .invitations((&Operator::local("cli")).into())
            .await
            .unwrap()
            .len(),
        1,
        "not voided"
    );
    assert!(service
        .store()
        .audit_events()
        .await
        .unwrap()
        .iter()
        .all(|e| e.event.kind != "session.end"));
}

#[tokio::test]
async fn the_audit_kind_is_picked_from_the_known_kinds() {
    let (app, service) = app().await;
    let mut root = enrolled(&app, &service, "root", true).await;
    let (_, _, page) = get(&mut root, "/admin/audit").await;
    assert!(page.contains("<select name=\"kind\">"), "{page}");
    assert!(!page.contains("name=\"kind\" type=\"text\""));
    for kind in keybound_service::EventKind::ALL {
        assert!(
            page.contains(&format!("<option value=\"{}\"", kind.as_str())),
            "{kind}"
        );
    }
    assert!(page.contains("<option value=\"admin.\""));
    let (_, _, page) = get(&mut root, "/admin/audit?kind=registration").await;
    assert!(page.contains("<option value=\"registration\" selected>"));
    // A kind from a link that the list lacks stays, marked, and escaped.
    let (_, _, page) = get(&mut root, "/admin/audit?kind=%3Cb%3E.").await;
    assert!(
        page.contains("<option value=\"&lt;b&gt;.\" selected>"),
        "{page}"
    );

    let (_, _, page) = get(&mut root, "/admin/recoveries").await;
    assert!(page.contains("Pending recoveries") && page.contains("aria-current=\"page\""));
}

#[tokio::test]
async fn turning_down_an_administrator_is_confirmed() {
    let (app, service) = app().await;
    let mut root = enrolled(&app, &service, "root", true).await;
    let _second = enrolled(&app, &service, "second", true).await;
    let (status, _) = post(
        &mut root,
        "/admin/invite",
        "name=cy&admin=yes&min_tier=2",
        "same-origin",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let id = service
        .pending_roles((&Operator::local("cli")).into())
        .await
        .unwrap()[0]
        .id
        .clone();
    let deny = format!("/admin/roles/{id}/deny");
    let (_, location) = post(&mut root, &deny, "", "same-origin").await;
    assert_eq!(location, "/admin?notice=confirm-deny");
    assert_eq!(
        service
            .pending_roles((&Operator::local("cli")).into())
            .await
            .unwrap()
            .len(),
        1
    );
    let (_, location) = post(&mut root, &deny, "confirm=yes", "same-origin").await;
    assert_eq!(location, "/admin?notice=role-denied");
}

#[tokio::test]
async fn open_invitations_are_listed_and_voided() {
    let (app, service) = app().await;
    let mut root = enrolled(&app, &service, "root", true).await;
    let mut ada = enrolled(&app, &service, "ada", false).await;
    let token = service
        .invite("cy", false, &Operator::local("test"))
        .await
        .unwrap();
    let (status, _, page) = get(&mut root, "/admin/invitations").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("<tr data-name=\"cy\">"), "{page}");
    assert!(!page.contains("<tr data-name=\"ada\">"), "used");
    assert!(page.contains("class=\"danger\" type=\"submit\">Void"));

    let (status, _) = post(
        &mut root,
        "/admin/invitations/void",
        "name=cy&confirm=yes",
        "cross-site",
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = post(
        &mut ada,
        "/admin/invitations/void",
        "name=cy&confirm=yes",
        "same-origin",
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = get(&mut ada, "/admin/invitations").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, location) = post(
        &mut root,
        "/admin/invitations/void",
        "name=cy",
        "same-origin",
    )
    .await;
    assert_eq!(location, "/admin/invitations?notice=confirm-void");
    let (status, _, _) = get(
        &mut Browser::new(app.clone()),
        &format!("/enroll?token={}", token.value),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "still open");

    let (_, location) = post(
        &mut root,
        "/admin/invitations/void",
        "name=cy&confirm=yes",
        "same-origin",
    )
    .await;
    assert_eq!(location, "/admin/invitations?notice=invitation-voided");
    let (status, _, _) = get(
        &mut Browser::new(app.clone()),
        &format!("/enroll?token={}", token.value),
    )
    .await;
    assert_ne!(status, StatusCode::OK, "the link no longer works");
    let (_, _, page) = get(&mut root, "/admin/invitations").await;
    assert!(page.contains("id=\"no-invitations\""));

    for body in [
        "name=cy",
        "name=ada",
        "name=nobody",
        &format!("name={}", "x".repeat(100_000)),
    ] {
        let (status, location) = post(
            &mut root,
            "/admin/invitations/void",
            &format!("{body}&confirm=yes"),
            "same-origin",
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert_eq!(location, "/admin/invitations?notice=no-open-invitation");
    }
}

/// Issue 17: `/admin/workloads` lists entries and nodes, read-only, for
/// administrators only, every value escaped.
#[tokio::test]
async fn the_workloads_page_lists_entries_and_nodes_for_administrators() {
    let (app, service) = app().await;
    let mut root = enrolled(&app, &service, "root", true).await;
    let mut ada = enrolled(&app, &service, "ada", false).await;
    let op = Operator::local("cli");
    service
        .add_workload_entry(
            (&op).into(),
            &keybound_service::NewEntry {
                spiffe_id: "spiffe://localhost/web".into(),
                parent: "node-1".into(),
                selectors: vec!["unix:path:/opt/<b>app</b>".into()],
                owner: "ada".into(),
                ..Default::default()
            },
            &Default::default(),
        )
        .await
        .unwrap();
    let (status, _, page) = get(&mut root, "/admin/workloads").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("spiffe://localhost/web"), "{page}");
    assert!(page.contains("&lt;b&gt;app"), "escaped: {page}");
    assert!(page.contains("id=\"no-nodes\""));
    assert!(page.contains("href=\"/admin/workloads\" aria-current=\"page\""));
    let (status, location, page) = get(&mut ada, "/admin/workloads").await;
    assert_ne!(status, StatusCode::OK, "{location}");
    assert!(!page.contains("spiffe://localhost/web"));
}
