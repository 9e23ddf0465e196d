//! Issue 12, items 1-8 and 19: who may bind a key to which account, and
//! with what standing. Each test fails on acfc9e6's behaviour.

use super::*;
use keybound_audit::Severity;

fn synced() -> Authenticator {
    Authenticator {
        backup_eligible: true,
        backup_state: true,
        ..Authenticator::default()
    }
}

/// Enrols an administrator (operator invitation, device-bound key: tier 2);
/// their identity and a fresh console session.
pub(crate) async fn admin(w: &World, name: &str) -> (Admin, Token) {
    let token = w
        .service
        .invite(name, true, &Operator::local("cli"))
        .await
        .unwrap();
    let (_, _, enrolled) = w
        .register(RegistrationStart::Invitation(&token.value))
        .await;
    let session = enrolled.unwrap().session.unwrap();
    let identity = w
        .service
        .authorize_admin(&session.value, &ClientContext::default())
        .await
        .unwrap();
    (identity, session)
}

fn last_event(events: &[keybound_audit::AuditEvent], kind: &str) -> keybound_audit::NewEvent {
    events
        .iter()
        .rev()
        .find(|e| e.event.kind == kind)
        .unwrap_or_else(|| panic!("no {kind} event"))
        .event
        .clone()
}

/// Answers creation `options` obtained earlier with the world's
/// authenticator, as the browser that asked.
async fn answer(
    w: &World,
    options: &keybound_webauthn::PublicKeyCredentialCreationOptions,
) -> Result<Enrolled, ServiceError> {
    let options = serde_json::to_value(options).unwrap();
    let user = keybound_webauthn::b64::decode(options["user"]["id"].as_str().unwrap()).unwrap();
    let (_, json) = w.auth.register(
        Algorithm::Es256,
        &Ceremony {
            rp_id: RP_ID,
            origin: ORIGIN,
            challenge: &challenge_of(&options),
        },
        &user,
    );
    w.service
        .finish_registration(
            BROWSER,
            json.to_string().as_bytes(),
            &ClientContext::default(),
        )
        .await
}

fn advance(w: &World, ms: i64) {
    w.clock.0.fetch_add(ms, Ordering::SeqCst);
}

// --- item 1: open registration never claims an existing name -------------

#[tokio::test]
async fn open_registration_refuses_active_invited_and_offboarded_names() {
    let w = world_with(|c| c.open_registration = true).await;
    w.enrol("ada").await;
    w.service
        .invite("zed", true, &Operator::local("cli"))
        .await
        .unwrap();
    w.enrol("olga").await;
    w.service
        .offboard("olga", &Operator::local("cli"))
        .await
        .unwrap();
    for name in ["ada", "zed", "olga"] {
        assert_eq!(
            w.service
                .begin_registration(
                    BROWSER,
                    RegistrationStart::Open(name),
                    &RegistrationRequest::default()
                )
                .await
                .unwrap_err(),
            ServiceError::Rejected(Refusal::NameTaken),
            "{name}"
        );
        let event = last_event(&w.audit().await, "registration.options");
        assert_eq!(
            (event.subject.as_deref(), event.reason.as_deref()),
            (Some(name), Some("name_taken"))
        );
    }
    assert_eq!(
        w.service
            .credentials_of((&Operator::local("cli")).into(), "ada")
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(w
        .service
        .credentials_of((&Operator::local("cli")).into(), "zed")
        .await
        .unwrap()
        .is_empty());
}

// --- item 2: a session never enrols a key for another name ---------------

#[tokio::test]
async fn a_signed_in_browser_cannot_enrol_a_key_for_another_name() {
    let w = world().await;
    let (mut cred, _) = w.enrol("ada").await;
    w.enrol("bob").await;
    let (_, signed_in) = w.sign_in(&mut cred, "", &Tweaks::default()).await;
    let session = signed_in.unwrap().session;
    let asking_for = |name: &str| RegistrationRequest {
        username: Some(name.into()),
        ..RegistrationRequest::default()
    };
    assert_eq!(
        w.service
            .begin_registration(
                BROWSER,
                RegistrationStart::Session(&session.value),
                &asking_for("bob")
            )
            .await
            .unwrap_err(),
        ServiceError::Rejected(Refusal::NameMismatch)
    );
    let event = last_event(&w.audit().await, "registration.options");
    assert_eq!(event.actor.as_deref(), Some("ada"));
    assert_eq!(event.subject.as_deref(), Some("bob"));
    // The same holds for an invitation naming one account.
    let token = w
        .service
        .invite("cy", false, &Operator::local("cli"))
        .await
        .unwrap();
    assert_eq!(
        w.service
            .begin_registration(
                BROWSER,
                RegistrationStart::Invitation(&token.value),
                &asking_for("ada")
            )
            .await
            .unwrap_err(),
        ServiceError::Rejected(Refusal::NameMismatch)
    );
    // Its own name, or none, is fine.
    w.service
        .begin_registration(
            BROWSER,
            RegistrationStart::Session(&session.value),
            &asking_for("ada"),
        )
        .await
        .unwrap();
    assert_eq!(
        w.service
            .credentials_of((&Operator::local("cli")).into(), "bob")
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn a_key_added_after_the_session_ended_is_refused() {
    let w = world().await;
    let (mut cred, _) = w.enrol("ada").await;
    let (_, signed_in) = w.sign_in(&mut cred, "", &Tweaks::default()).await;
    let session = signed_in.unwrap().session;
    let options = w
        .service
        .begin_registration(
            BROWSER,
            RegistrationStart::Session(&session.value),
            &RegistrationRequest::default(),
        )
        .await
        .unwrap();
    w.service
        .sign_out(&session.value, &ClientContext::default())
        .await
        .unwrap();
    assert_eq!(
        answer(&w, &options).await.unwrap_err(),
        ServiceError::Rejected(Refusal::SessionEnded)
    );
    assert_eq!(
        w.service
            .credentials_of((&Operator::local("cli")).into(), "ada")
            .await
            .unwrap()
            .len(),
        1
    );
}

// --- item 3: no invitation into a live account; admin role by approval ---

#[tokio::test]
async fn an_active_account_cannot_be_invited_by_anyone() {
    let w = world().await;
    w.enrol("ada").await;
    let (root, _) = admin(&w, "root").await;
    assert_eq!(
        w.service
            .invite("ada", false, &Operator::local("cli"))
            .await
            .unwrap_err(),
        ServiceError::Rejected(Refusal::IdentityActive)
    );
    assert_eq!(
        w.service
            .console_invite(&root, "ada", false, 1, &ClientContext::default())
            .await
            .unwrap_err(),
        ServiceError::Rejected(Refusal::IdentityActive)
    );
    let event = last_event(&w.audit().await, "admin.invite");
    assert_eq!(event.outcome, Some(Outcome::Failure));
    assert_eq!(event.severity, Some(Severity::High));
    assert_eq!(event.actor.as_deref(), Some("root"));
    // Still exactly one credential, and ada's own passkey still the only way in.
    assert_eq!(
        w.service
            .credentials_of((&Operator::local("cli")).into(), "ada")
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn the_admin_role_from_the_console_needs_a_second_administrator() {
    let w = world().await;
    let (root, _) = admin(&w, "root").await;
    let (second, _) = admin(&w, "second").await;
    let invitation = w
        .service
        .console_invite(&root, "sock", true, 1, &ClientContext::default())
        .await
        .unwrap();
    let Some(RoleGrant::Proposed { id, missing: 1 }) = invitation.role else {
        panic!("{:?}", invitation.role);
    };
    let (_, _, enrolled) = w
        .register(RegistrationStart::Invitation(&invitation.token.value))
        .await;
    let sock_session = enrolled.unwrap().session.unwrap();
    assert_eq!(
        w.service
            .authorize_admin(&sock_session.value, &ClientContext::default())
            .await
            .unwrap_err(),
        ServiceError::Forbidden,
        "not an administrator on one admin's word"
    );
    assert_eq!(
        w.service
            .approve_role(&root, &id, &ClientContext::default())
            .await
            .unwrap_err(),
        ServiceError::Rejected(Refusal::AlreadyApproved),
        "the proposer counts once"
    );
    let sock = w
        .service
        .people((&Operator::local("cli")).into())
        .await
        .unwrap()
        .into_iter()
        .find(|(i, _)| i.name == "sock")
        .map(|(i, _)| Admin::stale_for_tests(i))
        .unwrap();
    assert_eq!(
        w.service
            .approve_role(&sock, &id, &ClientContext::default())
            .await
            .unwrap_err(),
        ServiceError::Forbidden,
        "only administrators approve, and never their own promotion"
    );
    assert_eq!(
        w.service
            .approve_role(&second, &id, &ClientContext::default())
            .await
            .unwrap(),
        RoleGrant::Granted
    );
    w.service
        .authorize_admin(&sock_session.value, &ClientContext::default())
        .await
        .unwrap();
    let grant = last_event(&w.audit().await, "admin.grant_role");
    assert_eq!(grant.severity, Some(Severity::High));
    assert_eq!(grant.subject.as_deref(), Some("sock"));
    assert!(w
        .service
        .pending_roles((&Operator::local("cli")).into())
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn one_admin_and_an_unapproved_sock_puppet_cannot_pass_a_recovery() {
    let w = world().await;
    w.enrol("victim").await;
    let (root, _) = admin(&w, "root").await;
    let invitation = w
        .service
        .console_invite(&root, "sock", true, 1, &ClientContext::default())
        .await
        .unwrap();
    w.register(RegistrationStart::Invitation(&invitation.token.value))
        .await
        .2
        .unwrap();
    let sock = w
        .service
        .people((&Operator::local("cli")).into())
        .await
        .unwrap()
        .into_iter()
        .find(|(i, _)| i.name == "sock")
        .map(|(i, _)| Admin::stale_for_tests(i))
        .unwrap();
    w.service
        .request_recovery("victim", &ClientContext::default())
        .await
        .unwrap();
    let id = w
        .service
        .pending_recoveries((&Operator::local("cli")).into())
        .await
        .unwrap()[0]
        .id
        .clone();
    w.service.approve_recovery(&root, &id, true).await.unwrap();
    assert_eq!(
        w.service
            .approve_recovery(&sock, &id, true)
            .await
            .unwrap_err(),
        ServiceError::Forbidden,
        "a non-administrator's approval is refused"
    );
    assert_eq!(
        w.service
            .pending_recoveries((&Operator::local("cli")).into())
            .await
            .unwrap()[0]
            .approvers,
        ["root"]
    );
}

#[tokio::test]
async fn reinviting_an_offboarded_admin_does_not_restore_the_role() {
    let w = world().await;
    let (_, session) = admin(&w, "old-admin").await;
    drop(session);
    // Another administrator: the last one is never offboarded.
    admin(&w, "keeper").await;
    w.service
        .offboard("old-admin", &Operator::local("cli"))
        .await
        .unwrap();
    let token = w
        .service
        .invite("old-admin", false, &Operator::local("cli"))
        .await
        .unwrap();
    let (_, _, enrolled) = w
        .register(RegistrationStart::Invitation(&token.value))
        .await;
    let session = enrolled.unwrap().session.unwrap();
    assert_eq!(
        w.service
            .authorize_admin(&session.value, &ClientContext::default())
            .await
            .unwrap_err(),
        ServiceError::Forbidden
    );
}

#[tokio::test]
async fn an_older_invitation_link_does_not_enrol_into_a_live_account() {
    let w = world().await;
    let (root, _) = admin(&w, "root").await;
    // Two links for one invited person; the first is voided by the second.
    let first = w
        .service
        .console_invite(&root, "newcomer", false, 1, &ClientContext::default())
        .await
        .unwrap();
    let second = w
        .service
        .invite("newcomer", false, &Operator::local("cli"))
        .await
        .unwrap();
    assert_eq!(
        w.service.invitation(&first.token.value).await.unwrap(),
        InvitationState::Unknown
    );
    let voided = last_event(&w.audit().await, "admin.void_invitation");
    assert_eq!(voided.subject.as_deref(), Some("newcomer"));
    // Options taken while invited, answered after the person enrolled with
    // the other link (a race across nodes, or links from before the rule).
    let stale = w
        .service
        .invite("late", false, &Operator::local("cli"))
        .await
        .unwrap();
    let options = w
        .service
        .begin_registration(
            BROWSER,
            RegistrationStart::Invitation(&stale.value),
            &RegistrationRequest::default(),
        )
        .await
        .unwrap();
    let mut tx = w.service.store().begin().await.unwrap();
    let late = tx.identity_by_name("late").await.unwrap().unwrap();
    tx.set_identity_status(&late.id, keybound_store::IdentityStatus::Active)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        answer(&w, &options).await.unwrap_err(),
        ServiceError::Rejected(Refusal::IdentityActive)
    );
    assert!(w
        .service
        .credentials_of((&Operator::local("cli")).into(), "late")
        .await
        .unwrap()
        .is_empty());
    // And a link for an account that went live is refused at the start.
    w.register(RegistrationStart::Invitation(&second.value))
        .await
        .2
        .unwrap();
    let third = {
        let mut tx = w.service.store().begin().await.unwrap();
        let n = tx.identity_by_name("newcomer").await.unwrap().unwrap();
        let token = "a-link-issued-before-the-upgrade";
        tx.insert_grant(&keybound_store::Grant {
            token_hash: hash_token(token),
            kind: "invitation".into(),
            identity_id: n.id,
            issued_by: "before-the-upgrade".into(),
            min_tier: 1,
            created_ms: 0,
            expires_ms: i64::MAX,
            used_ms: None,
        })
        .await
        .unwrap();
        tx.commit().await.unwrap();
        token
    };
    assert_eq!(
        w.service
            .begin_registration(
                BROWSER,
                RegistrationStart::Invitation(third),
                &RegistrationRequest::default()
            )
            .await
            .unwrap_err(),
        ServiceError::Rejected(Refusal::IdentityActive)
    );
}

#[tokio::test]
async fn an_administrator_cannot_offboard_themselves_by_another_spelling() {
    let w = world().await;
    let (root, _) = admin(&w, "root").await;
    assert_eq!(
        w.service
            .console_offboard(&root, "ROOT", &ClientContext::default())
            .await
            .unwrap_err(),
        ServiceError::Rejected(Refusal::OffboardSelf)
    );
    assert_eq!(
        w.service
            .people((&Operator::local("cli")).into())
            .await
            .unwrap()[0]
            .0
            .status,
        IdentityStatus::Active
    );
}

#[tokio::test]
async fn a_registration_cannot_store_endless_keys() {
    let w = world().await;
    let (mut cred, _) = w.enrol("ada").await;
    let (_, signed_in) = w.sign_in(&mut cred, "", &Tweaks::default()).await;
    let session = signed_in.unwrap().session;
    for _ in 1..32 {
        w.register(RegistrationStart::Session(&session.value))
            .await
            .2
            .unwrap();
    }
    assert_eq!(
        w.register(RegistrationStart::Session(&session.value))
            .await
            .2
            .unwrap_err(),
        ServiceError::Rejected(Refusal::TooManyCredentials)
    );
    assert_eq!(
        w.service
            .credentials_of((&Operator::local("cli")).into(), "ada")
            .await
            .unwrap()
            .len(),
        32
    );
}

#[tokio::test]
async fn offboarding_an_admin_voids_the_links_they_issued() {
    let w = world().await;
    let (root, _) = admin(&w, "root").await;
    let link = w
        .service
        .console_invite(&root, "guest", false, 1, &ClientContext::default())
        .await
        .unwrap();
    // Another administrator: the last one is never offboarded.
    admin(&w, "keeper").await;
    w.service
        .offboard("root", &Operator::local("cli"))
        .await
        .unwrap();
    assert_eq!(
        w.service.invitation(&link.token.value).await.unwrap(),
        InvitationState::Unknown
    );
    assert_eq!(
        w.service
            .console_invite(&root, "other", false, 1, &ClientContext::default())
            .await
            .unwrap_err(),
        ServiceError::Forbidden,
        "an offboarded admin's console handle acts no more"
    );
}

#[tokio::test]
async fn refused_invitations_are_on_the_record() {
    let w = world().await;
    let (root, _) = admin(&w, "root").await;
    for (name, tier, refusal) in [
        ("bad\nname", 1, Refusal::InvalidName),
        ("cy", 7, Refusal::InvalidTier),
    ] {
        let reason = refusal.reason();
        assert_eq!(
            w.service
                .console_invite(&root, name, false, tier, &ClientContext::default())
                .await
                .unwrap_err(),
            ServiceError::Rejected(refusal)
        );
        let event = last_event(&w.audit().await, "admin.invite");
        assert_eq!(
            (event.actor.as_deref(), event.reason.as_deref()),
            (Some("root"), Some(reason))
        );
        assert!(!event.subject.unwrap_or_default().contains('\n'));
    }
}

// --- item 4: tier N within five minutes means a tier-N proof ------------

#[tokio::test]
async fn a_stale_tier_2_session_refreshed_without_uv_does_not_open_the_console() {
    let mut w = world().await;
    let token = w
        .service
        .invite("root", true, &Operator::local("cli"))
        .await
        .unwrap();
    let (mut key, _, enrolled) = w
        .register(RegistrationStart::Invitation(&token.value))
        .await;
    let session = enrolled.unwrap().session.unwrap();
    advance(&w, STEP_UP_WINDOW_MS + 1);
    assert_eq!(
        w.service
            .authorize_admin(&session.value, &ClientContext::default())
            .await
            .unwrap_err(),
        ServiceError::StepUpRequired
    );
    w.auth.user_verified = false;
    let c = w.options("").await;
    let json = w.auth.assert_with(
        &mut key,
        &Ceremony {
            rp_id: RP_ID,
            origin: ORIGIN,
            challenge: &c,
        },
        &Tweaks::default(),
    );
    let refreshed = w
        .service
        .step_up(
            &session.value,
            BROWSER,
            json.to_string().as_bytes(),
            &ClientContext::default(),
        )
        .await
        .unwrap();
    assert_eq!(refreshed.tier, 1);
    assert_eq!(
        w.service
            .authorize_admin(&refreshed.session.value, &ClientContext::default())
            .await
            .unwrap_err(),
        ServiceError::StepUpRequired
    );
}

// --- item 5: adding a key does not raise what the account can reach -----

#[tokio::test]
async fn a_synced_session_cannot_mint_tier_2_by_adding_a_self_declared_key() {
    let mut w = world().await;
    w.auth = synced();
    let token = w
        .service
        .invite("root", true, &Operator::local("cli"))
        .await
        .unwrap();
    let (_, _, enrolled) = w
        .register(RegistrationStart::Invitation(&token.value))
        .await;
    let tier1 = enrolled.unwrap().session.unwrap();
    assert_eq!(
        w.service.account(&tier1.value).await.unwrap().session_tier,
        1
    );
    // A key that reports BE=0, UV=1, with no attestation.
    w.auth = Authenticator::default();
    let (mut added, _, result) = w.register(RegistrationStart::Session(&tier1.value)).await;
    result.unwrap();
    let stored = w
        .service
        .credentials_of((&Operator::local("cli")).into(), "root")
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.id == added.id)
        .unwrap();
    assert_eq!((stored.tier, stored.tier_cap), (1, Some(1)));
    assert!(stored.tier_reasons.contains("added from a tier-1 session"));
    let event = last_event(&w.audit().await, "registration");
    assert_eq!(event.severity, Some(Severity::High));

    let (_, signed_in) = w.sign_in(&mut added, "", &Tweaks::default()).await;
    let signed_in = signed_in.unwrap();
    assert_eq!(signed_in.tier, 1);
    assert_eq!(
        w.service
            .authorize_admin(&signed_in.session.value, &ClientContext::default())
            .await
            .unwrap_err(),
        ServiceError::StepUpRequired
    );
    assert!(
        w.service
            .account(&signed_in.session.value)
            .await
            .unwrap()
            .admin_lacks_tier
    );

    // The way forward: another administrator vouches for it.
    let id = keybound_webauthn::b64::encode(&added.id);
    let root = w
        .service
        .people((&Operator::local("cli")).into())
        .await
        .unwrap()
        .into_iter()
        .find(|(i, _)| i.name == "root")
        .map(|(i, _)| Admin::stale_for_tests(i))
        .unwrap();
    assert_eq!(
        w.service
            .vouch_credential(&root, &id, &ClientContext::default())
            .await
            .unwrap_err(),
        ServiceError::Rejected(Refusal::SelfVouch)
    );
    let (other, _) = admin(&w, "other").await;
    assert_eq!(
        w.service
            .vouch_credential(&other, &id, &ClientContext::default())
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        w.service
            .vouch_credential(&other, &id, &ClientContext::default())
            .await
            .unwrap_err(),
        ServiceError::Rejected(Refusal::NothingToVouch)
    );
    let (_, again) = w.sign_in(&mut added, "", &Tweaks::default()).await;
    let again = again.unwrap();
    assert_eq!(again.tier, 2);
    w.service
        .authorize_admin(&again.session.value, &ClientContext::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn policy_can_require_attestation_for_tier_2() {
    let w = world_with(|c| c.policy.tier2_requires_attestation = true).await;
    w.enrol("ada").await;
    let stored = &w
        .service
        .credentials_of((&Operator::local("cli")).into(), "ada")
        .await
        .unwrap()[0];
    assert_eq!(stored.tier, 1);
    assert!(stored
        .tier_reasons
        .contains("policy requires attestation for tier 2"));
}

#[tokio::test]
async fn turning_the_attestation_policy_on_lowers_keys_registered_before() {
    let w = world().await;
    w.enrol("ada").await;
    assert_eq!(
        w.service
            .credentials_of((&Operator::local("cli")).into(), "ada")
            .await
            .unwrap()[0]
            .tier,
        2
    );
    assert_eq!(w.service.retier_for_policy().await.unwrap(), 0);
    // The same database under a node started with the policy on.
    let strict = Service::new(
        w.service.store().clone(),
        {
            let mut c = w.service.config().clone();
            c.policy.tier2_requires_attestation = true;
            c
        },
        w.clock.clone(),
        Box::new(rand_chacha::ChaCha20Rng::seed_from_u64(3)),
    );
    assert_eq!(strict.retier_for_policy().await.unwrap(), 1);
    assert_eq!(
        w.service
            .credentials_of((&Operator::local("cli")).into(), "ada")
            .await
            .unwrap()[0]
            .tier,
        1
    );
    let event = last_event(&w.audit().await, "policy.retier");
    assert_eq!(event.subject.as_deref(), Some("ada"));
    // And off again restores it.
    assert_eq!(w.service.retier_for_policy().await.unwrap(), 1);
    assert_eq!(
        w.service
            .credentials_of((&Operator::local("cli")).into(), "ada")
            .await
            .unwrap()[0]
            .tier,
        2
    );
}

// --- item 6: recovery approvals ------------------------------------------

#[tokio::test]
async fn an_approval_by_someone_offboarded_before_the_issue_does_not_count() {
    let w = world_with(|c| c.recovery.wait_ms = 60_000).await;
    w.enrol("ada").await;
    let (a1, _) = admin(&w, "a1").await;
    let (a2, _) = admin(&w, "a2").await;
    w.service
        .request_recovery("ada", &ClientContext::default())
        .await
        .unwrap();
    let id = w
        .service
        .pending_recoveries((&Operator::local("cli")).into())
        .await
        .unwrap()[0]
        .id
        .clone();
    w.service.approve_recovery(&a1, &id, true).await.unwrap();
    assert!(matches!(
        w.service.approve_recovery(&a2, &id, true).await.unwrap(),
        Approval::Waiting { .. }
    ));
    w.service
        .offboard("a1", &Operator::local("cli"))
        .await
        .unwrap();
    advance(&w, 60_001);
    assert_eq!(
        w.service.issue_recovery_grant(&a2, &id).await.unwrap_err(),
        ServiceError::Rejected(Refusal::ApprovalsNoLongerStand)
    );
    assert!(
        w.service
            .pending_recoveries((&Operator::local("cli")).into())
            .await
            .unwrap()[0]
            .ready_ms
            .is_none(),
        "it needs a new approval"
    );
}

#[tokio::test]
async fn one_approver_asking_to_revoke_is_enough() {
    let w = world().await;
    let (mut old, _) = w.enrol("ada").await;
    let (a1, _) = admin(&w, "a1").await;
    let (a2, _) = admin(&w, "a2").await;
    w.service
        .request_recovery("ada", &ClientContext::default())
        .await
        .unwrap();
    let id = w
        .service
        .pending_recoveries((&Operator::local("cli")).into())
        .await
        .unwrap()[0]
        .id
        .clone();
    w.service.approve_recovery(&a1, &id, true).await.unwrap();
    let Approval::Issued(_) = w.service.approve_recovery(&a2, &id, false).await.unwrap() else {
        panic!("issued");
    };
    let (_, refused) = w.sign_in(&mut old, "", &Tweaks::default()).await;
    assert!(
        refused.is_err(),
        "the later 'keep' did not override the 'revoke'"
    );
}

#[tokio::test]
async fn the_person_sees_a_pending_recovery_and_can_object() {
    let w = world().await;
    let (mut cred, _) = w.enrol("ada").await;
    let (_, signed_in) = w.sign_in(&mut cred, "", &Tweaks::default()).await;
    let session = signed_in.unwrap().session;
    w.service
        .request_recovery("ada", &ClientContext::default())
        .await
        .unwrap();
    let account = w.service.account(&session.value).await.unwrap();
    let pending = account.pending_recovery.unwrap();
    // Somebody else cannot object to it.
    let (mut bob, _) = w.enrol("bob").await;
    let (_, bob_in) = w.sign_in(&mut bob, "", &Tweaks::default()).await;
    assert_eq!(
        w.service
            .object_to_recovery(
                &bob_in.unwrap().session.value,
                &pending.id,
                &ClientContext::default()
            )
            .await
            .unwrap_err(),
        ServiceError::NotFound
    );
    w.service
        .object_to_recovery(&session.value, &pending.id, &ClientContext::default())
        .await
        .unwrap();
    assert!(w
        .service
        .pending_recoveries((&Operator::local("cli")).into())
        .await
        .unwrap()
        .is_empty());
    let event = last_event(&w.audit().await, "recovery.objection");
    assert_eq!(event.outcome, Some(Outcome::Alert));
    assert_eq!(event.severity, Some(Severity::High));
    assert!(w
        .service
        .account(&session.value)
        .await
        .unwrap()
        .pending_recovery
        .is_none());
}

#[tokio::test]
async fn the_person_can_still_object_while_the_grant_is_unused() {
    let w = world().await;
    let (mut cred, _) = w.enrol("ada").await;
    let (_, signed_in) = w.sign_in(&mut cred, "", &Tweaks::default()).await;
    let session = signed_in.unwrap().session;
    let (a1, _) = admin(&w, "a1").await;
    let (a2, _) = admin(&w, "a2").await;
    w.service
        .request_recovery("ada", &ClientContext::default())
        .await
        .unwrap();
    let id = w
        .service
        .pending_recoveries((&Operator::local("cli")).into())
        .await
        .unwrap()[0]
        .id
        .clone();
    w.service.approve_recovery(&a1, &id, false).await.unwrap();
    let Approval::Issued(grant) = w.service.approve_recovery(&a2, &id, false).await.unwrap() else {
        panic!("issued");
    };
    // Both kept the old passkeys: ada is still signed in and sees it.
    let open = w
        .service
        .account(&session.value)
        .await
        .unwrap()
        .pending_recovery
        .unwrap();
    assert_eq!(open.id, id);
    w.service
        .object_to_recovery(&session.value, &id, &ClientContext::default())
        .await
        .unwrap();
    assert_eq!(
        w.service.invitation(&grant.value).await.unwrap(),
        InvitationState::Unknown,
        "the grant is void"
    );
    let refused = w
        .service
        .begin_registration(
            BROWSER,
            RegistrationStart::Invitation(&grant.value),
            &RegistrationRequest::default(),
        )
        .await;
    assert_eq!(refused.unwrap_err(), ServiceError::Forbidden);
    assert!(w
        .service
        .account(&session.value)
        .await
        .unwrap()
        .pending_recovery
        .is_none());
}

#[tokio::test]
async fn a_recovery_grant_keeps_the_invitations_minimum_tier() {
    let mut w = world().await;
    let token = w
        .service
        .invite_with_min_tier("ada", false, &Operator::local("cli"), 2)
        .await
        .unwrap();
    w.register(RegistrationStart::Invitation(&token.value))
        .await
        .2
        .unwrap();
    let (a1, _) = admin(&w, "a1").await;
    let (a2, _) = admin(&w, "a2").await;
    w.service
        .request_recovery("ada", &ClientContext::default())
        .await
        .unwrap();
    let id = w
        .service
        .pending_recoveries((&Operator::local("cli")).into())
        .await
        .unwrap()[0]
        .id
        .clone();
    w.service.approve_recovery(&a1, &id, true).await.unwrap();
    let Approval::Issued(grant) = w.service.approve_recovery(&a2, &id, true).await.unwrap() else {
        panic!("issued");
    };
    w.auth = synced();
    assert_eq!(
        w.register(RegistrationStart::Invitation(&grant.value))
            .await
            .2
            .unwrap_err(),
        ServiceError::Rejected(Refusal::TierBelowGrant)
    );
    w.auth = Authenticator::default();
    w.register(RegistrationStart::Invitation(&grant.value))
        .await
        .2
        .unwrap();
    let event = last_event(&w.audit().await, "registration");
    assert_eq!(event.severity, Some(Severity::High), "a recovery enrolment");
}

// --- item 7: quarantine ends the clone's sessions for good ---------------

#[tokio::test]
async fn clearing_a_quarantine_does_not_revive_the_clones_session() {
    let w = world().await;
    let (mut cred, _) = w.enrol("ada").await;
    let (_, first) = w.sign_in(&mut cred, "", &Tweaks::default()).await;
    let session = first.unwrap().session;
    let regress = Tweaks {
        sign_count: Some(0),
        ..Tweaks::default()
    };
    let (_, regressed) = w.sign_in(&mut cred, "", &regress).await;
    assert!(regressed.is_err());
    let id = keybound_webauthn::b64::encode(&cred.id);
    w.service
        .clear_credential(&id, &Operator::local("cli"))
        .await
        .unwrap();
    assert_eq!(
        w.service.account(&session.value).await.unwrap_err(),
        ServiceError::Forbidden
    );
}

// --- item 19: what the audit log did not show ----------------------------

#[tokio::test]
async fn signing_in_as_someone_else_records_the_end_of_the_first_session() {
    let w = world().await;
    let (mut ada, _) = w.enrol("ada").await;
    let (mut bob, _) = w.enrol("bob").await;
    let (_, ada_in) = w.sign_in(&mut ada, "", &Tweaks::default()).await;
    let ada_in = ada_in.unwrap();
    let c = w.options("").await;
    let json = w.auth.assert_with(
        &mut bob,
        &Ceremony {
            rp_id: RP_ID,
            origin: ORIGIN,
            challenge: &c,
        },
        &Tweaks::default(),
    );
    w.service
        .step_up(
            &ada_in.session.value,
            BROWSER,
            json.to_string().as_bytes(),
            &ClientContext::default(),
        )
        .await
        .unwrap();
    let ended = last_event(&w.audit().await, "session.end");
    assert_eq!(ended.subject.as_deref(), Some("ada"));
    assert_eq!(
        ended.reason.as_deref(),
        Some("replaced by a sign-in as bob in the same browser")
    );
}

#[tokio::test]
async fn enrolling_in_a_browser_signed_in_as_someone_else_ends_their_session() {
    let w = world().await;
    let (mut ada, _) = w.enrol("ada").await;
    let (_, ada_in) = w.sign_in(&mut ada, "", &Tweaks::default()).await;
    let ada_session = ada_in.unwrap().session;
    let token = w
        .service
        .invite("bob", false, &Operator::local("cli"))
        .await
        .unwrap();
    let options = w
        .service
        .begin_registration(
            BROWSER,
            RegistrationStart::Invitation(&token.value),
            &RegistrationRequest::default(),
        )
        .await
        .unwrap();
    let options = serde_json::to_value(&options).unwrap();
    let user = keybound_webauthn::b64::decode(options["user"]["id"].as_str().unwrap()).unwrap();
    let (_, json) = w.auth.register(
        Algorithm::Es256,
        &Ceremony {
            rp_id: RP_ID,
            origin: ORIGIN,
            challenge: &challenge_of(&options),
        },
        &user,
    );
    let bob = w
        .service
        .finish_registration_replacing(
            BROWSER,
            Some(&ada_session.value),
            json.to_string().as_bytes(),
            &ClientContext::default(),
        )
        .await
        .unwrap();
    assert_eq!(bob.name, "bob");
    assert_eq!(
        w.service.account(&ada_session.value).await.unwrap_err(),
        ServiceError::Forbidden,
        "ada's session does not live on behind bob's cookie"
    );
    let ended = last_event(&w.audit().await, "session.end");
    assert_eq!(ended.subject.as_deref(), Some("ada"));
}

#[tokio::test]
async fn console_refusals_views_and_renames_are_recorded() {
    let w = world().await;
    let (mut cred, _) = w.enrol("ada").await;
    let (_, signed_in) = w.sign_in(&mut cred, "", &Tweaks::default()).await;
    let session = signed_in.unwrap().session;
    let ctx = ClientContext {
        ip: Some("192.0.2.7".into()),
        user_agent: Some("probe".into()),
        hints: Default::default(),
    };
    assert_eq!(
        w.service
            .authorize_admin(&session.value, &ctx)
            .await
            .unwrap_err(),
        ServiceError::Forbidden
    );
    let refused = last_event(&w.audit().await, "admin.console");
    assert_eq!(
        (
            refused.actor.as_deref(),
            refused.reason.as_deref(),
            refused.ip.as_deref()
        ),
        (Some("ada"), Some("not_admin"), Some("192.0.2.7"))
    );

    let (root, _) = admin(&w, "root").await;
    let filter = AuditFilter {
        identity: Some("ada".into()),
        limit: 10,
        ..AuditFilter::default()
    };
    w.service
        .note_audit_view(&root, &filter, &ctx)
        .await
        .unwrap();
    let viewed = last_event(&w.audit().await, "audit.view");
    assert_eq!(
        (viewed.actor.as_deref(), viewed.subject.as_deref()),
        (Some("root"), Some("ada"))
    );

    let id = keybound_webauthn::b64::encode(&cred.id);
    w.service
        .rename_credential(&session.value, &id, "work key", &ctx)
        .await
        .unwrap();
    let renamed = last_event(&w.audit().await, "credential.rename");
    assert_eq!(
        renamed.reason.as_deref(),
        Some("nickname set to \"work key\"")
    );
    w.service
        .offboard_from("ada", &Operator::local("root"), &ctx)
        .await
        .unwrap();
    let offboarded = last_event(&w.audit().await, "admin.offboard");
    assert_eq!(offboarded.ip.as_deref(), Some("192.0.2.7"));
    assert!(verify_chain(w.audit().await).is_ok());
}
