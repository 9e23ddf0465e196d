//! `/admin/audit` shows one page of the log, newest first, with a link to
//! the older events (issue 12, item 14): never the whole chain.

use keybound_audit::NewEvent;

use super::*;

async fn page(browser: &mut Browser, path: &str) -> (StatusCode, String) {
    let (status, _, body) = browser.request("GET", path, &[], Body::empty()).await;
    (status, String::from_utf8(body).unwrap())
}

/// The sequence numbers of the events a page shows.
fn seqs(page: &str) -> Vec<u64> {
    page.split("<tr class=\"event\"><td>")
        .skip(1)
        .map(|row| row.split('<').next().unwrap().parse().unwrap())
        .collect()
}

/// The page's "older" link, as a path.
fn older(page: &str) -> Option<String> {
    let (_, rest) = page.split_once("id=\"older\" href=\"")?;
    Some(rest.split('"').next()?.replace("&amp;", "&"))
}

/// `n` events of kind `kind`, straight into the chain.
async fn bulk(service: &Service, kind: &str, n: usize) {
    let mut tx = service.store().begin().await.unwrap();
    for i in 0..n {
        tx.append_audit(NewEvent {
            time_ms: 1_700_000_000_000,
            kind: kind.to_owned(),
            subject: Some(format!("probe{i}")),
            outcome: Some(keybound_audit::Outcome::Failure),
            ..NewEvent::default()
        })
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn the_audit_page_shows_at_most_its_limit_and_pages_back() {
    let (app, service) = app().await;
    let token = service
        .invite("root", true, &Operator::local("test"))
        .await
        .unwrap();
    let (mut root, _) = enrol_at(&app, [127, 0, 0, 7], &token.value).await;
    bulk(&service, "bulk.probe", 1_234).await;
    let total = service.store().audit_events().await.unwrap().len() as u64;

    // The default page: the newest 200, and a way further back.
    let (status, first) = page(&mut root, "/admin/audit").await;
    assert_eq!(status, StatusCode::OK);
    let shown = seqs(&first);
    assert_eq!(shown.len(), 200);
    // Newest first; the newest is this very view (audit.view is recorded
    // before the page is read).
    assert_eq!(shown[0], total + 1, "newest first");
    assert!(shown.windows(2).all(|w| w[0] > w[1]));
    assert!(older(&first).is_some());

    // However many are asked for, at most 500.
    let (_, big) = page(&mut root, "/admin/audit?limit=100000").await;
    assert_eq!(seqs(&big).len(), 500);

    // Filtered pages of 100, followed back to the first bulk event: every
    // event once, in order, no page over its limit, filters kept.
    let mut path = "/admin/audit?kind=bulk.&outcome=failure&limit=100".to_owned();
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let (status, body) = page(&mut root, &path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        let got = seqs(&body);
        assert!(got.len() <= 100, "{path}");
        seen.extend(got);
        pages += 1;
        match older(&body) {
            Some(next) => {
                assert!(next.contains("kind=bulk.") && next.contains("limit=100"));
                path = next;
            }
            None => break,
        }
    }
    assert_eq!(pages, 13);
    assert_eq!(seen.len(), 1_234);
    assert!(seen.windows(2).all(|w| w[0] > w[1]));

    // Garbage in the cursor or the limit is no filter, not an error.
    for hostile in [
        "/admin/audit?before=abc&limit=-1",
        "/admin/audit?before=99999999999999999999999&limit=0",
        "/admin/audit?identity=%00&kind=%25",
        "/admin/audit?before=1",
    ] {
        let (status, body) = page(&mut root, hostile).await;
        assert_eq!(status, StatusCode::OK, "{hostile}");
        assert!(seqs(&body).len() <= 200, "{hostile}");
    }
}

/// An event any kind of identity wrote shows its subject kind and details
/// (issue 13, item 4), and client text in them is shown, not obeyed.
#[tokio::test]
async fn the_audit_page_shows_subject_kinds_and_details() {
    let (app, service) = app().await;
    let token = service
        .invite("root", true, &Operator::local("test"))
        .await
        .unwrap();
    let (mut root, _) = enrol_at(&app, [127, 0, 0, 7], &token.value).await;
    let mut tx = service.store().begin().await.unwrap();
    tx.append_audit(NewEvent {
        time_ms: 1_700_000_000_000,
        kind: "device.posture".to_owned(),
        subject: Some("printer".to_owned()),
        subject_kind: Some("device".to_owned()),
        details: [
            ("posture".to_owned(), "ok".to_owned()),
            ("note".to_owned(), "<script>x</script>\u{202e}".to_owned()),
        ]
        .into(),
        ..NewEvent::default()
    })
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let (status, body) = page(&mut root, "/admin/audit?kind=device.").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("<td class=\"subject-kind\">device</td>"),
        "{body}"
    );
    assert!(
        body.contains("<span class=\"detail\">posture=ok</span>"),
        "{body}"
    );
    assert!(!body.contains("<script>x"), "details are escaped");
    assert!(
        !body.contains('\u{202e}'),
        "bidi controls are shown, not applied"
    );
    // An earlier event about a person says so.
    let (_, all) = page(&mut root, "/admin/audit?kind=admin.invite").await;
    assert!(
        all.contains("<td class=\"subject-kind\">person</td>"),
        "{all}"
    );
}
