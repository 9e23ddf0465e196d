//! Issue 14: a console request after the step-up window keeps what the
//! administrator was doing. The answer is a step-up page that carries the
//! page's query or the form's fields; after the passkey, sending them again
//! does what was asked.

use std::sync::atomic::{AtomicI64, Ordering};

use keybound_service::{Clock, STEP_UP_WINDOW_MS};

use super::*;

const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");

/// A clock the test moves.
pub(super) struct Manual(pub(super) AtomicI64);

impl Clock for Manual {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

pub(super) async fn app_at(clock: Arc<Manual>) -> (Router, Arc<Service>) {
    let store = Store::open("sqlite::memory:").await.unwrap();
    let config = Config::new("localhost", OriginPolicy::exact([ORIGIN]).unwrap(), [5; 32]);
    let service = Arc::new(Service::new(
        store,
        config,
        clock,
        Box::new(rand_chacha::ChaCha20Rng::seed_from_u64(3)),
    ));
    (router(AppState::new(service.clone(), false)), service)
}

async fn send(
    browser: &mut Browser,
    method: &str,
    path: &str,
    body: &str,
    site: &str,
) -> (StatusCode, String) {
    let (status, _, body) = browser
        .request(
            method,
            path,
            &[FORM, ("sec-fetch-site", site)],
            body.to_owned(),
        )
        .await;
    (status, String::from_utf8(body).unwrap())
}

/// The hidden fields of the page's `#resume` form, and its opening tag.
fn resume(page: &str) -> (String, Vec<(String, String)>) {
    let (_, form) = page.split_once("<form id=\"resume\"").expect(page);
    let (form, _) = form.split_once("</form>").unwrap();
    let (attributes, inputs) = form.split_once('>').unwrap();
    let tag = format!("<form id=\"resume\"{attributes}>");
    let mut fields = Vec::new();
    for input in inputs.split("<input type=\"hidden\" ").skip(1) {
        let attr = |name: &str| {
            let (_, from) = input.split_once(&format!("{name}=\"")).unwrap();
            let (value, _) = from.split_once('"').unwrap();
            value.replace("&amp;", "&").replace("&quot;", "\"")
        };
        fields.push((attr("name"), attr("value")));
    }
    (tag, fields)
}

#[tokio::test]
async fn a_form_sent_after_the_window_is_kept_through_the_step_up() {
    let start = keybound_service::SystemClock.now_ms();
    let clock = Arc::new(Manual(AtomicI64::new(start)));
    let (app, service) = app_at(clock.clone()).await;
    let token = service
        .invite("root", true, &Operator::local("test"))
        .await
        .unwrap();
    let (mut root, mut cred) = enrol_at(&app, [127, 0, 0, 7], &token.value).await;
    let (status, _) = send(&mut root, "GET", "/admin", "", "none").await;
    assert_eq!(status, StatusCode::OK);

    clock.0.fetch_add(STEP_UP_WINDOW_MS + 1, Ordering::SeqCst);
    // The invitation form, filled in: not done yet, but kept.
    let typed = "name=bob+the+builder&admin=yes&min_tier=2";
    let (status, page) = send(&mut root, "POST", "/admin/invite", typed, "same-origin").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(page.contains("id=\"step-up\""), "{page}");
    let (tag, fields) = resume(&page);
    assert_eq!(
        tag,
        "<form id=\"resume\" method=\"post\" action=\"/admin/invite\">"
    );
    let want: Vec<(String, String)> = [
        ("name", "bob the builder"),
        ("admin", "yes"),
        ("min_tier", "2"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    assert_eq!(fields, want);
    assert!(service
        .store()
        .audit_events()
        .await
        .unwrap()
        .iter()
        .all(|e| e.event.kind != "admin.invite"
            || e.event.subject.as_deref() != Some("bob the builder")));

    // A page: its address and query are kept.
    let (status, page) = send(
        &mut root,
        "GET",
        "/admin/audit?kind=admin.invite&outcome=success",
        "",
        "none",
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (tag, fields) = resume(&page);
    assert_eq!(
        tag,
        "<form id=\"resume\" method=\"get\" action=\"/admin/audit\">"
    );
    assert_eq!(
        fields,
        [
            ("kind".to_owned(), "admin.invite".to_owned()),
            ("outcome".to_owned(), "success".to_owned())
        ]
    );

    // Hostile: from another site, nothing is echoed; a huge form is not
    // carried (the step-up returns to the console).
    let (status, page) = send(&mut root, "POST", "/admin/invite", typed, "cross-site").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(!page.contains("bob"), "{page}");
    let huge = format!("name={}", "x".repeat(100_000));
    let (status, page) = send(&mut root, "POST", "/admin/invite", &huge, "same-origin").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (tag, fields) = resume(&page);
    assert_eq!(tag, "<form id=\"resume\" method=\"get\" action=\"/admin\">");
    assert!(fields.is_empty());

    // The step-up (a fresh sign-in from the same browser), then the form
    // as the page sends it again: done.
    let (_, options) = root
        .post("/assertion/options", json!({"username": ""}).to_string())
        .await;
    let c = challenge(&options);
    let answer = Authenticator::default().assert(
        &mut cred,
        &Ceremony {
            rp_id: "localhost",
            origin: ORIGIN,
            challenge: &c,
        },
    );
    let (status, _) = root.post("/assertion/result", answer.to_string()).await;
    assert_eq!(status, StatusCode::OK);
    let again = serde_urlencoded::to_string(&want).unwrap();
    let (status, page) = send(&mut root, "POST", "/admin/invite", &again, "same-origin").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("Invitation created") && page.contains("bob the builder"));
    assert!(page.contains("at least tier 2"));
}
