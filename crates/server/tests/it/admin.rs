//! The admin console over HTTP: who gets in (an administrator, tier 2,
//! recently signed in), invitations, offboarding, and the audit viewer.

use keybound_soft_authenticator::Credential;

use super::*;

const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");
const SAME_ORIGIN: (&str, &str) = ("sec-fetch-site", "same-origin");

async fn get(browser: &mut Browser, path: &str) -> (StatusCode, String, String) {
    let (status, headers, body) = browser.request("GET", path, &[], Body::empty()).await;
    let location = headers
        .get(header::LOCATION)
        .map(|l| l.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, location, String::from_utf8(body).unwrap())
}

async fn post_form(
    browser: &mut Browser,
    path: &str,
    body: &str,
    extra: (&str, &str),
) -> (StatusCode, String, String) {
    let (status, headers, body) = browser
        .request("POST", path, &[FORM, extra], body.to_owned())
        .await;
    let location = headers
        .get(header::LOCATION)
        .map(|l| l.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, location, String::from_utf8(body).unwrap())
}

/// Enrols `name` (device-bound with UV: tier 2) and returns the signed-in
/// browser.
async fn enrolled(
    app: &Router,
    service: &Service,
    name: &str,
    admin: bool,
) -> (Browser, Credential) {
    let token = service
        .invite(name, admin, &Operator::local("test"))
        .await
        .unwrap();
    enrol_at(app, [127, 0, 0, 7], &token.value).await
}

#[tokio::test]
async fn only_a_recently_signed_in_tier_2_administrator_gets_in() {
    let (app, service) = app().await;
    let (mut root, _) = enrolled(&app, &service, "root", true).await;
    let (mut ada, _) = enrolled(&app, &service, "ada", false).await;

    let (status, _, page) = get(&mut root, "/admin").await;
    assert_eq!(status, StatusCode::OK);
    for name in ["root", "ada"] {
        assert!(page.contains(&format!("data-name=\"{name}\"")), "{name}");
    }
    assert!(page.contains("(tier 2, active)"));
    let (_, _, me) = get(&mut root, "/me").await;
    assert!(me.contains("id=\"admin-console\""));

    let (status, _, _) = get(&mut ada, "/admin").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "not an administrator");
    let (_, _, me) = get(&mut ada, "/me").await;
    assert!(!me.contains("admin-console"));
    let (status, location, _) = get(&mut Browser::new(app.clone()), "/admin").await;
    assert_eq!((status, location.as_str()), (StatusCode::SEE_OTHER, "/"));

    // An administrator with a synced passkey reaches only tier 1.
    let token = service
        .invite("sync", true, &Operator::local("test"))
        .await
        .unwrap();
    let mut synced = Browser::new(app.clone());
    let (_, options) = synced
        .post(
            "/attestation/options",
            json!({"token": token.value}).to_string(),
        )
        .await;
    let user = b64::decode(options["user"]["id"].as_str().unwrap()).unwrap();
    let c = challenge(&options);
    let auth = Authenticator {
        backup_eligible: true,
        backup_state: true,
        ..Authenticator::default()
    };
    let (_, json) = auth.register(
        Algorithm::Es256,
        &Ceremony {
            rp_id: "localhost",
            origin: ORIGIN,
            challenge: &c,
        },
        &user,
    );
    synced.post("/attestation/result", json.to_string()).await;
    // Item 8 (issue 12): a step-up can never reach tier 2 for them, so they
    // are told what is missing instead of being sent round a loop.
    let (status, location, _) = get(&mut synced, "/admin").await;
    assert_eq!(
        (status, location.as_str()),
        (StatusCode::SEE_OTHER, "/me?notice=admin-needs-tier")
    );
    let (_, _, me) = get(&mut synced, "/me?notice=admin-needs-tier").await;
    assert!(me.contains("id=\"admin-tier-help\""), "{me}");
    assert!(me.contains("device-bound passkey"));
    assert!(
        !me.contains("id=\"step-up\""),
        "no step-up button that cannot help"
    );
    // An administrator who holds a tier-2 passkey but signed in without it
    // is offered the step-up.
    let (_, _, root_me) = get(&mut root, "/me").await;
    assert!(!root_me.contains("admin-tier-help"));
}

#[tokio::test]
async fn invitations_and_offboarding_from_the_console() {
    let (app, service) = app().await;
    let (mut root, _) = enrolled(&app, &service, "root", true).await;
    let (_, _) = enrolled(&app, &service, "bob", false).await;

    let (status, _, page) = post_form(
        &mut root,
        "/admin/invite",
        "name=cy&min_tier=2",
        SAME_ORIGIN,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let token = page
        .split("/enroll?token=")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .unwrap()
        .to_owned();
    assert!(matches!(
        service.invitation(&token).await.unwrap(),
        keybound_service::InvitationState::Open { ref name, .. } if name == "cy"
    ));
    let (_, location, _) =
        post_form(&mut root, "/admin/invite", "name=&min_tier=2", SAME_ORIGIN).await;
    assert_eq!(location, "/admin?notice=invalid-invitation");

    let (_, location, _) = post_form(&mut root, "/admin/offboard", "name=bob", SAME_ORIGIN).await;
    assert_eq!(location, "/admin?notice=confirm-offboard", "needs the tick");
    let (status, _, _) = post_form(
        &mut root,
        "/admin/offboard",
        "name=bob&confirm=yes",
        ("sec-fetch-site", "cross-site"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, location, _) = post_form(
        &mut root,
        "/admin/offboard",
        "name=root&confirm=yes",
        SAME_ORIGIN,
    )
    .await;
    assert_eq!(location, "/admin?notice=not-yourself");
    let (_, location, _) = post_form(
        &mut root,
        "/admin/offboard",
        "name=bob&confirm=yes",
        SAME_ORIGIN,
    )
    .await;
    assert_eq!(location, "/admin?notice=offboarded");
    let people = service
        .people((&Operator::local("cli")).into())
        .await
        .unwrap();
    let bob = people.iter().find(|(i, _)| i.name == "bob").unwrap();
    assert_eq!(bob.0.status, keybound_service::IdentityStatus::Offboarded);

    // The audit viewer, filtered.
    let (status, _, page) = get(&mut root, "/admin/audit?kind=admin.offboard").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page.matches("<tr class=\"event\">").count(), 1);
    assert!(page.contains("<td class=\"subject\">bob</td>"));
    let (_, _, page) = get(&mut root, "/admin/audit?identity=bob&kind=offboard.").await;
    assert_eq!(
        page.matches("<tr class=\"event\">").count(),
        2,
        "a credential and a session"
    );
    // The one refusal so far: the invitation with an empty name.
    let (_, _, page) = get(&mut root, "/admin/audit?outcome=failure").await;
    assert_eq!(page.matches("<tr class=\"event\">").count(), 1);
    assert!(
        page.contains("<td class=\"kind\">admin.invite</td>"),
        "{page}"
    );
    let (_, _, page) = get(&mut root, "/admin/audit?since=1h").await;
    assert!(page.matches("<tr class=\"event\">").count() >= 8);
    let filter = keybound_service::AuditFilter {
        kind: Some("admin.invite".into()),
        limit: 10,
        ..Default::default()
    };
    let invites = service
        .audit_view((&Operator::local("cli")).into(), &filter)
        .await
        .unwrap();
    let actors: Vec<_> = invites.events.into_iter().map(|e| e.event.actor).collect();
    assert!(
        actors.contains(&Some("root".to_owned())),
        "the console's actor is the admin"
    );
}

#[tokio::test]
async fn a_recovery_asked_for_on_the_sign_in_page_is_approved_in_the_console() {
    let (app, service) = app().await;
    let (mut root, _) = enrolled(&app, &service, "root", true).await;
    let (mut second, _) = enrolled(&app, &service, "second", true).await;
    enrolled(&app, &service, "ada", false).await;

    let mut lost = Browser::new(app.clone());
    let (_, _, page) = get(&mut lost, "/").await;
    assert!(page.contains("href=\"/recover\""));
    for name in ["ada", "nobody"] {
        let (status, _, page) =
            post_form(&mut lost, "/recover", &format!("name={name}"), SAME_ORIGIN).await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            page.contains("If an account of that name exists"),
            "{name}: the same answer"
        );
    }

    let (_, _, console) = get(&mut root, "/admin").await;
    assert!(console.contains("class=\"recovery\" data-name=\"ada\""));
    assert!(!console.contains("data-name=\"nobody\""));
    let id = service
        .pending_recoveries((&Operator::local("cli")).into())
        .await
        .unwrap()[0]
        .id
        .clone();
    let approve = format!("/admin/recoveries/{id}/approve");
    let (_, location, _) = post_form(&mut root, &approve, "revoke_old=yes", SAME_ORIGIN).await;
    assert_eq!(location, "/admin?notice=recovery-approved");
    let (_, location, _) = post_form(&mut root, &approve, "revoke_old=yes", SAME_ORIGIN).await;
    assert_eq!(location, "/admin?notice=recovery-refused", "once per admin");
    let (status, _, page) = post_form(&mut second, &approve, "revoke_old=yes", SAME_ORIGIN).await;
    assert_eq!(status, StatusCode::OK);
    let token = page
        .split("/enroll?token=")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .unwrap()
        .to_owned();
    assert!(matches!(
        service.invitation(&token).await.unwrap(),
        keybound_service::InvitationState::Open { ref name, .. } if name == "ada"
    ));
    let old = &service
        .credentials_of((&Operator::local("cli")).into(), "ada")
        .await
        .unwrap()[0];
    assert!(matches!(
        old.status,
        keybound_service::CredentialStatus::Revoked(_)
    ));
    enrol_at(&app, [127, 0, 0, 8], &token).await;
    assert_eq!(
        service
            .credentials_of((&Operator::local("cli")).into(), "ada")
            .await
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn an_administrator_cannot_approve_their_own_recovery_in_the_console() {
    let (app, service) = app().await;
    let (mut root, _) = enrolled(&app, &service, "root", true).await;
    let mut lost = Browser::new(app.clone());
    post_form(&mut lost, "/recover", "name=root", SAME_ORIGIN).await;
    let id = service
        .pending_recoveries((&Operator::local("cli")).into())
        .await
        .unwrap()[0]
        .id
        .clone();
    let (_, location, _) = post_form(
        &mut root,
        &format!("/admin/recoveries/{id}/approve"),
        "revoke_old=yes",
        SAME_ORIGIN,
    )
    .await;
    assert_eq!(location, "/admin?notice=recovery-refused");
    // Issue 14: denying is confirmed (the "I am sure" tick).
    let (_, location, _) = post_form(
        &mut root,
        &format!("/admin/recoveries/{id}/deny"),
        "",
        SAME_ORIGIN,
    )
    .await;
    assert_eq!(location, "/admin?notice=confirm-deny");
    let (_, location, _) = post_form(
        &mut root,
        &format!("/admin/recoveries/{id}/deny"),
        "confirm=yes",
        SAME_ORIGIN,
    )
    .await;
    assert_eq!(location, "/admin?notice=recovery-denied");
    assert!(service
        .pending_recoveries((&Operator::local("cli")).into())
        .await
        .unwrap()
        .is_empty());
}

/// The waiting period and expiry, through the console (short settings so
/// the test can wait them out).
#[tokio::test]
async fn the_waiting_period_and_expiry_through_the_console() {
    let (app, service) = app_with(|c| {
        c.recovery.wait_ms = 300;
        c.recovery.request_ttl_ms = 60_000;
    })
    .await;
    let (mut a1, _) = enrolled(&app, &service, "a1", true).await;
    let (mut a2, _) = enrolled(&app, &service, "a2", true).await;
    enrolled(&app, &service, "ada", false).await;
    service
        .request_recovery("ada", &keybound_service::ClientContext::default())
        .await
        .unwrap();
    let id = service
        .pending_recoveries((&Operator::local("cli")).into())
        .await
        .unwrap()[0]
        .id
        .clone();
    let action = |what: &str| format!("/admin/recoveries/{id}/{what}");
    post_form(&mut a1, &action("approve"), "revoke_old=no", SAME_ORIGIN).await;
    let (_, location, _) =
        post_form(&mut a2, &action("approve"), "revoke_old=no", SAME_ORIGIN).await;
    assert_eq!(location, "/admin?notice=recovery-waiting");
    let (_, location, _) = post_form(&mut a1, &action("issue"), "", SAME_ORIGIN).await;
    assert_eq!(location, "/admin?notice=recovery-waiting", "not yet");
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let (status, _, page) = post_form(&mut a1, &action("issue"), "", SAME_ORIGIN).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("id=\"recovery-link\""));

    // A request nobody approves in time lapses.
    let (app, service) = app_with(|c| c.recovery.request_ttl_ms = 100).await;
    let (mut root, _) = enrolled(&app, &service, "root", true).await;
    enrolled(&app, &service, "bob", false).await;
    service
        .request_recovery("bob", &keybound_service::ClientContext::default())
        .await
        .unwrap();
    let id = service
        .pending_recoveries((&Operator::local("cli")).into())
        .await
        .unwrap()[0]
        .id
        .clone();
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    let (_, location, _) = post_form(
        &mut root,
        &format!("/admin/recoveries/{id}/approve"),
        "",
        SAME_ORIGIN,
    )
    .await;
    assert_eq!(location, "/admin?notice=not-found");
}

/// Issue 12, items 3, 5, 6: the console's role proposals, vouching and the
/// person's objection, over HTTP, with cross-site posts refused.
#[tokio::test]
async fn role_proposals_vouching_and_objections_through_the_pages() {
    const CROSS_SITE: (&str, &str) = ("sec-fetch-site", "cross-site");
    let (app, service) = app().await;
    let (mut root, _) = enrolled(&app, &service, "root", true).await;
    let (mut second, _) = enrolled(&app, &service, "second", true).await;
    let (mut ada, _) = enrolled(&app, &service, "ada", false).await;

    // An active account cannot be invited from the console.
    let (_, location, _) = post_form(&mut root, "/admin/invite", "name=ada", SAME_ORIGIN).await;
    assert_eq!(location, "/admin?notice=identity-active");

    // The admin role is proposed, and says what the console needs.
    let (status, _, page) =
        post_form(&mut root, "/admin/invite", "name=cy&admin=yes", SAME_ORIGIN).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("id=\"invitation-role\""), "{page}");
    assert!(page.contains("1 more administrator"), "{page}");
    let id = service
        .pending_roles((&Operator::local("cli")).into())
        .await
        .unwrap()[0]
        .id
        .clone();
    let approve = format!("/admin/roles/{id}/approve");
    let (_, _, people) = get(&mut root, "/admin").await;
    assert!(
        !people.contains(&approve),
        "the proposer is not offered a second approval"
    );
    let (status, _, _) = post_form(&mut second, &approve, "", CROSS_SITE).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "cross-site");
    assert_eq!(
        service
            .pending_roles((&Operator::local("cli")).into())
            .await
            .unwrap()
            .len(),
        1
    );
    let (_, location, _) = post_form(&mut ada, &approve, "", SAME_ORIGIN).await;
    assert_eq!(location, "", "not for a non-administrator");
    let (_, location, _) = post_form(&mut second, &approve, "", SAME_ORIGIN).await;
    assert_eq!(location, "/admin?notice=role-granted");
    assert!(service
        .pending_roles((&Operator::local("cli")).into())
        .await
        .unwrap()
        .is_empty());

    // Ada signs in with a synced passkey session and adds a self-declared
    // device-bound key: capped at tier 1 until another admin vouches.
    let capped = {
        let mut tx = service.store().begin().await.unwrap();
        let ada_id = tx.identity_by_name("ada").await.unwrap().unwrap().id;
        let mut creds = tx.credentials_of(&ada_id).await.unwrap();
        let c = creds.remove(0);
        tx.set_tier_cap(&c.id, Some(1), 1, "capped for the test")
            .await
            .unwrap();
        tx.commit().await.unwrap();
        b64::encode(&c.id)
    };
    let vouch = format!("/admin/credentials/{capped}/vouch");
    let (_, _, people) = get(&mut root, "/admin").await;
    assert!(people.contains(&vouch), "offered for a capped credential");
    let (status, _, _) = post_form(&mut root, &vouch, "", CROSS_SITE).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, location, _) = post_form(&mut root, &vouch, "", SAME_ORIGIN).await;
    assert_eq!(location, "/admin?notice=vouched");
    assert_eq!(
        service
            .credentials_of((&Operator::local("cli")).into(), "ada")
            .await
            .unwrap()[0]
            .tier,
        2
    );
    let (_, location, _) = post_form(&mut root, &vouch, "", SAME_ORIGIN).await;
    assert_eq!(location, "/admin?notice=vouch-refused", "only once");

    // A recovery of ada's account shows on her page; she objects.
    service
        .request_recovery("ada", &keybound_service::ClientContext::default())
        .await
        .unwrap();
    let (_, _, me) = get(&mut ada, "/me").await;
    assert!(me.contains("id=\"pending-recovery\""), "{me}");
    let recovery = service
        .pending_recoveries((&Operator::local("cli")).into())
        .await
        .unwrap()[0]
        .id
        .clone();
    let object = format!("/me/recovery/{recovery}/object");
    let (status, _, _) = post_form(&mut ada, &object, "", CROSS_SITE).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        service
            .pending_recoveries((&Operator::local("cli")).into())
            .await
            .unwrap()
            .len(),
        1
    );
    let (_, location, _) = post_form(&mut root, &object, "", SAME_ORIGIN).await;
    assert_eq!(location, "/me?notice=not-found", "not root's own account");
    let (_, location, _) = post_form(&mut ada, &object, "", SAME_ORIGIN).await;
    assert_eq!(location, "/me?notice=recovery-objected");
    assert!(service
        .pending_recoveries((&Operator::local("cli")).into())
        .await
        .unwrap()
        .is_empty());
}
