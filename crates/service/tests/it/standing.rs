//! Issue 14: open invitations (list, void), a person's standing (promote,
//! demote, suspend, resume) and lifetimes that are settings.

use super::authority::admin;
use super::*;
use keybound_audit::Severity;
use keybound_store::IdentityStatus;

fn op() -> Operator {
    Operator::local("cli")
}

fn advance(w: &World, ms: i64) {
    w.clock.0.fetch_add(ms, Ordering::SeqCst);
}

async fn failures(w: &World, kind: &str) -> Vec<String> {
    w.audit()
        .await
        .into_iter()
        .filter(|e| e.event.kind == kind && e.event.outcome == Some(Outcome::Failure))
        .map(|e| e.event.reason.unwrap_or_default())
        .collect()
}

#[tokio::test]
async fn open_invitations_are_listed_and_a_voided_one_stops_working() {
    let w = world().await;
    let (root, _) = admin(&w, "root").await;
    let now = w.clock.0.load(Ordering::SeqCst);
    let bob = w
        .service
        .invite_with_min_tier("bob", true, &op(), 2)
        .await
        .unwrap();
    advance(&w, 1_000);
    w.service
        .console_invite(&root, "carol", true, 1, &ClientContext::default())
        .await
        .unwrap();
    advance(&w, 1_000);
    w.service.invite("dan", false, &op()).await.unwrap();

    let listed = w.service.invitations((&op()).into()).await.unwrap();
    let rows: Vec<_> = listed
        .iter()
        .map(|i| (i.name.as_str(), i.role, i.min_tier, i.invited_by.as_str()))
        .collect();
    assert_eq!(
        rows,
        [
            ("bob", InvitedRole::Admin, 2, "cli"),
            ("carol", InvitedRole::AdminProposed, 1, "root"),
            ("dan", InvitedRole::User, 1, "cli"),
        ],
        "root's own, used invitation is not open"
    );
    assert_eq!(listed[0].created_ms, now);
    assert_eq!(
        listed[0].expires_ms,
        now + w.service.config().invitation_ttl_ms
    );

    assert_eq!(w.service.void_invitation("BOB", &op()).await.unwrap(), 1);
    assert_eq!(
        w.service.invitation(&bob.value).await.unwrap(),
        InvitationState::Unknown
    );
    assert!(w
        .service
        .begin_registration(
            BROWSER,
            RegistrationStart::Invitation(&bob.value),
            &RegistrationRequest::default()
        )
        .await
        .is_err());
    let people = w.service.people((&op()).into()).await.unwrap();
    let bob_now = people.iter().find(|(i, _)| i.name == "bob").unwrap();
    assert!(!bob_now.0.is_admin, "the role came with the invitation");

    // Twice: refused and recorded; nobody: not found.
    assert_eq!(
        w.service.void_invitation("bob", &op()).await.unwrap_err(),
        ServiceError::Rejected(Refusal::GrantUsedOrExpired)
    );
    assert_eq!(
        failures(&w, "admin.void_invitation").await,
        ["grant_used_or_expired: no open invitation"]
    );
    assert_eq!(
        w.service
            .void_invitation("nobody", &op())
            .await
            .unwrap_err(),
        ServiceError::NotFound
    );

    // The console voids too, and its proposal goes with it.
    w.service
        .console_void_invitation(&root, "carol", &ClientContext::default())
        .await
        .unwrap();
    assert!(w
        .service
        .pending_roles((&root).into())
        .await
        .unwrap()
        .is_empty());
    let names: Vec<_> = w
        .service
        .invitations((&root).into())
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.name)
        .collect();
    assert_eq!(names, ["dan"]);
    assert!(verify_chain(w.audit().await).is_ok());
}

#[tokio::test]
async fn the_last_active_administrator_is_never_demoted_or_suspended() {
    let w = world().await;
    let (root, _) = admin(&w, "root").await;
    assert_eq!(
        w.service.demote("root", &op()).await.unwrap_err(),
        ServiceError::Rejected(Refusal::LastAdmin)
    );
    assert_eq!(
        w.service.suspend("root", &op()).await.unwrap_err(),
        ServiceError::Rejected(Refusal::LastAdmin)
    );
    assert_eq!(
        w.service
            .console_demote(&root, "root", &ClientContext::default())
            .await
            .unwrap_err(),
        ServiceError::Rejected(Refusal::LastAdmin)
    );
    assert_eq!(failures(&w, "admin.revoke_role").await.len(), 2);
    assert_eq!(failures(&w, "admin.suspend").await, ["last_admin"]);

    // An invited administrator is not an active one.
    w.service.invite("pending", true, &op()).await.unwrap();
    assert_eq!(
        w.service.demote("root", &op()).await.unwrap_err(),
        ServiceError::Rejected(Refusal::LastAdmin)
    );

    // With a second active administrator, one may go.
    w.enrol("ann").await;
    assert_eq!(
        w.service.promote("ann", &op()).await.unwrap(),
        RoleGrant::Granted
    );
    assert_eq!(
        w.service.promote("ann", &op()).await.unwrap_err(),
        ServiceError::Rejected(Refusal::RoleUnchanged)
    );
    w.service.demote("root", &op()).await.unwrap();
    assert_eq!(
        w.service.demote("root", &op()).await.unwrap_err(),
        ServiceError::Rejected(Refusal::RoleUnchanged)
    );
    assert_eq!(
        w.service
            .console_demote(&root, "ann", &ClientContext::default())
            .await
            .unwrap_err(),
        ServiceError::Forbidden,
        "root is no longer an administrator"
    );
    assert_eq!(
        w.service.demote("ann", &op()).await.unwrap_err(),
        ServiceError::Rejected(Refusal::LastAdmin)
    );
    assert_eq!(
        w.service.promote("nobody", &op()).await.unwrap_err(),
        ServiceError::NotFound
    );
    let grants: Vec<_> = w
        .audit()
        .await
        .into_iter()
        .filter(|e| e.event.kind == "admin.grant_role" && e.event.subject.as_deref() == Some("ann"))
        .filter(|e| e.event.outcome == Some(Outcome::Success))
        .collect();
    assert_eq!(grants.len(), 1);
    assert_eq!(
        grants[0].event.severity,
        Some(keybound_audit::Severity::High)
    );
}

#[tokio::test]
async fn the_console_proposes_a_promotion_and_never_suspends_itself() {
    let w = world().await;
    let (root, _) = admin(&w, "root").await;
    let (second, _) = admin(&w, "second").await;
    w.enrol("ann").await;
    let proposed = w
        .service
        .console_promote(&root, "ann", &ClientContext::default())
        .await
        .unwrap();
    assert!(matches!(proposed, RoleGrant::Proposed { missing: 1, .. }));
    assert_eq!(
        w.service
            .console_suspend(&root, "ROOT", &ClientContext::default())
            .await
            .unwrap_err(),
        ServiceError::Rejected(Refusal::SuspendSelf)
    );
    // Issue 14 review: the console no longer suspends another
    // administrator; the operator does (and ends root's enrolment session).
    assert_eq!(
        w.service
            .console_suspend(&second, "root", &ClientContext::default())
            .await
            .unwrap_err(),
        ServiceError::Rejected(Refusal::NeedsOperator)
    );
    assert_eq!(
        w.service.suspend("root", &op()).await.unwrap(),
        1,
        "root's enrolment session"
    );
    assert_eq!(
        w.service
            .console_promote(&root, "ann", &ClientContext::default())
            .await
            .unwrap_err(),
        ServiceError::Forbidden,
        "a suspended administrator acts no more"
    );
    assert_eq!(
        w.service
            .console_resume(&second, "root", &ClientContext::default())
            .await
            .unwrap_err(),
        ServiceError::Rejected(Refusal::NeedsOperator)
    );
    w.service.resume("root", &op()).await.unwrap();
}

#[tokio::test]
async fn the_console_leaves_other_administrators_to_the_operator() {
    let w = world().await;
    let (root, _) = admin(&w, "root").await;
    admin(&w, "second").await;
    w.enrol("ann").await;
    let ctx = ClientContext::default();
    assert_eq!(
        w.service
            .console_demote(&root, "second", &ctx)
            .await
            .unwrap_err(),
        ServiceError::Rejected(Refusal::NeedsOperator)
    );
    assert_eq!(
        w.service
            .console_suspend(&root, "second", &ctx)
            .await
            .unwrap_err(),
        ServiceError::Rejected(Refusal::NeedsOperator)
    );
    // A person who is not an administrator: the console acts.
    w.service.console_suspend(&root, "ann", &ctx).await.unwrap();
    w.service.console_resume(&root, "ann", &ctx).await.unwrap();
    let refused: Vec<_> = w
        .audit()
        .await
        .into_iter()
        .filter(|e| e.event.reason.as_deref() == Some("needs_operator"))
        .map(|e| (e.event.kind, e.event.severity))
        .collect();
    assert_eq!(
        refused,
        [
            ("admin.revoke_role".to_owned(), Some(Severity::High)),
            ("admin.suspend".to_owned(), Some(Severity::High)),
        ]
    );
    let people = w.service.people((&op()).into()).await.unwrap();
    let second = people.iter().find(|(i, _)| i.name == "second").unwrap();
    assert!(second.0.is_admin && second.0.status == IdentityStatus::Active);
    // The operator acts directly.
    w.service.suspend("second", &op()).await.unwrap();
    w.service.resume("second", &op()).await.unwrap();
    w.service.demote("second", &op()).await.unwrap();
}

#[tokio::test]
async fn a_stale_console_administrator_is_refused_and_recorded() {
    let w = world().await;
    let (root, _) = admin(&w, "root").await;
    admin(&w, "second").await;
    w.enrol("ann").await;
    w.service.demote("root", &op()).await.unwrap();
    let ctx = ClientContext::default();
    assert_eq!(
        w.service
            .console_suspend(&root, "ann", &ctx)
            .await
            .unwrap_err(),
        ServiceError::Forbidden
    );
    assert_eq!(
        w.service
            .console_void_invitation(&root, "ann", &ctx)
            .await
            .unwrap_err(),
        ServiceError::Forbidden
    );
    let refused: Vec<_> = w
        .audit()
        .await
        .into_iter()
        .filter(|e| e.event.reason.as_deref() == Some("not_admin"))
        .map(|e| (e.event.kind, e.event.actor, e.event.severity))
        .collect();
    assert_eq!(
        refused,
        [
            (
                "admin.suspend".to_owned(),
                Some("root".to_owned()),
                Some(Severity::Warning)
            ),
            (
                "admin.void_invitation".to_owned(),
                Some("root".to_owned()),
                Some(Severity::Warning)
            ),
        ]
    );
}

#[tokio::test]
async fn the_last_active_administrator_is_never_offboarded() {
    let w = world().await;
    admin(&w, "root").await;
    assert_eq!(
        w.service.offboard("root", &op()).await.unwrap_err(),
        ServiceError::Rejected(Refusal::LastAdmin)
    );
    assert_eq!(failures(&w, "admin.offboard").await, ["last_admin"]);
    let (second, _) = admin(&w, "second").await;
    w.service.offboard("root", &op()).await.unwrap();
    assert_eq!(
        w.service
            .console_offboard(&second, "second", &ClientContext::default())
            .await
            .unwrap_err(),
        ServiceError::Rejected(Refusal::OffboardSelf)
    );
}

#[tokio::test]
async fn an_invited_person_is_not_promoted() {
    let w = world().await;
    admin(&w, "root").await;
    w.service.invite("ivy", false, &op()).await.unwrap();
    assert_eq!(
        w.service.promote("ivy", &op()).await.unwrap_err(),
        ServiceError::Rejected(Refusal::IdentityNotActive)
    );
    let people = w.service.people((&op()).into()).await.unwrap();
    assert!(!people.iter().any(|(i, _)| i.name == "ivy" && i.is_admin));
}

#[tokio::test]
async fn suspending_voids_what_was_handed_out() {
    let w = world().await;
    let (root, _) = admin(&w, "root").await;
    admin(&w, "second").await;
    w.enrol("ann").await;
    w.enrol("bea").await;
    let ctx = ClientContext::default();
    // second proposes ann; root's open invitation for carol.
    let (second, _) = admin(&w, "third").await;
    w.service
        .console_promote(&second, "ann", &ctx)
        .await
        .unwrap();
    let carol = w
        .service
        .console_invite(&root, "carol", false, 1, &ctx)
        .await
        .unwrap();
    w.service.suspend("root", &op()).await.unwrap();
    assert_eq!(
        w.service.invitation(&carol.token.value).await.unwrap(),
        InvitationState::Unknown,
        "root's link ended with the suspension"
    );
    w.service.resume("root", &op()).await.unwrap();
    assert_eq!(
        w.service.invitation(&carol.token.value).await.unwrap(),
        InvitationState::Unknown,
        "and stays void after the resume"
    );
    w.service.suspend("third", &op()).await.unwrap();
    let reason = w
        .audit()
        .await
        .into_iter()
        .filter(|e| e.event.kind == "admin.suspend" && e.event.subject.as_deref() == Some("third"))
        .find_map(|e| e.event.reason)
        .unwrap();
    assert!(
        reason.contains("1 role proposals"),
        "third's proposal voided: {reason}"
    );
}

/// A sign-in judged the person active before a suspension committed; the
/// session it then creates under the writer must not outlive it.
#[tokio::test]
async fn a_sign_in_racing_a_suspension_leaves_no_session() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("kb.db").display());
    let store = Store::open(&url).await.unwrap();
    let config = Config::new(RP_ID, OriginPolicy::exact([ORIGIN]).unwrap(), [9; 32]);
    let clock = Arc::new(FakeClock(AtomicI64::new(1_800_000_000_000)));
    let w = World {
        service: Service::new(
            store,
            config,
            clock.clone(),
            Box::new(rand_chacha::ChaCha20Rng::seed_from_u64(7)),
        ),
        clock,
        auth: Authenticator::default(),
    };
    admin(&w, "root").await;
    let (mut key, _) = w.enrol("ada").await;
    let challenge = w.options("ada").await;
    // Hold the writer: the sign-in reads (on a reader), verifies, then
    // waits for it; the suspension commits meanwhile.
    let mut writer = w.service.store().begin().await.unwrap();
    let ada = writer.identity_by_name("ada").await.unwrap().unwrap();
    let suspend = async move {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        writer
            .set_identity_status(&ada.id, IdentityStatus::Suspended)
            .await
            .unwrap();
        writer.end_sessions_of(&ada.id, 0).await.unwrap();
        writer.commit().await.unwrap();
    };
    let tweaks = Tweaks::default();
    let ((_, signed_in), ()) = tokio::join!(
        w.answer(&mut key, &challenge, ORIGIN, BROWSER, &tweaks),
        suspend
    );
    assert_eq!(
        signed_in.unwrap_err(),
        ServiceError::Rejected(Refusal::IdentityNotActive)
    );
}

#[tokio::test]
async fn a_suspended_person_cannot_sign_in_until_resumed() {
    let w = world().await;
    admin(&w, "root").await;
    let (mut key, _) = w.enrol("ada").await;
    let (_, signed_in) = w.sign_in(&mut key, "ada", &Tweaks::default()).await;
    let session = signed_in.unwrap().session;
    assert_eq!(w.service.suspend("ada", &op()).await.unwrap(), 2);
    assert_eq!(
        w.service.account(&session.value).await.unwrap_err(),
        ServiceError::Forbidden,
        "the sessions ended"
    );
    for name in ["", "ada"] {
        let (_, refused) = w.sign_in(&mut key, name, &Tweaks::default()).await;
        assert!(refused.is_err(), "no sign-in while suspended");
    }
    assert_eq!(
        w.service.suspend("ada", &op()).await.unwrap_err(),
        ServiceError::Rejected(Refusal::StatusUnchanged)
    );
    assert_eq!(
        w.service.invite("ada", false, &op()).await.unwrap_err(),
        ServiceError::Rejected(Refusal::IdentityActive),
        "a suspended account is still a live one"
    );
    w.service.resume("ada", &op()).await.unwrap();
    let (_, again) = w.sign_in(&mut key, "ada", &Tweaks::default()).await;
    assert!(again.is_ok(), "resumed: the same key signs in");
    assert_eq!(
        w.service.resume("ada", &op()).await.unwrap_err(),
        ServiceError::Rejected(Refusal::StatusUnchanged)
    );
    w.service.invite("ivy", false, &op()).await.unwrap();
    assert_eq!(
        w.service.suspend("ivy", &op()).await.unwrap_err(),
        ServiceError::Rejected(Refusal::IdentityNotActive)
    );
    let kinds: Vec<_> = w
        .audit()
        .await
        .into_iter()
        .filter(|e| e.event.outcome == Some(Outcome::Success))
        .map(|e| e.event.kind)
        .filter(|k| k == "admin.suspend" || k == "admin.resume")
        .collect();
    assert_eq!(kinds, ["admin.suspend", "admin.resume"]);
}

#[tokio::test]
async fn shorter_lifetimes_set_by_the_operator_take_effect() {
    let w = world_with(|c| {
        c.session_ttl_ms = 120_000;
        c.invitation_ttl_ms = 30_000;
        c.step_up_window_ms = 60_000;
    })
    .await;
    let (_, session) = admin(&w, "root").await;
    let late = w.service.invite("late", false, &op()).await.unwrap();
    advance(&w, 30_001);
    assert_eq!(
        w.service.invitation(&late.value).await.unwrap(),
        InvitationState::Expired
    );
    assert!(w.service.account(&session.value).await.is_ok());
    advance(&w, 30_000);
    assert_eq!(
        w.service
            .authorize_admin(&session.value, &ClientContext::default())
            .await
            .unwrap_err(),
        ServiceError::StepUpRequired,
        "past a one-minute step-up window"
    );
    advance(&w, 60_000);
    assert_eq!(
        w.service.account(&session.value).await.unwrap_err(),
        ServiceError::Forbidden,
        "past a two-minute session"
    );
}
