//! Recovery by M-of-N administrators: no self-approval, each admin once,
//! expiry, the waiting period, old credentials revoked, and the recovered
//! person enrols and signs in again.

use super::*;

/// Enrols an administrator; their identity as the console sees it.
async fn admin(w: &World, name: &str) -> Admin {
    let token = w
        .service
        .invite(name, true, &Operator::local("cli"))
        .await
        .unwrap();
    let (_, _, enrolled) = w
        .register(RegistrationStart::Invitation(&token.value))
        .await;
    let session = enrolled.unwrap().session.unwrap();
    w.service
        .authorize_admin(&session.value, &ClientContext::default())
        .await
        .unwrap()
}

async fn pending_id(w: &World, name: &str) -> String {
    w.service
        .pending_recoveries((&Operator::local("cli")).into())
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.name == name)
        .unwrap()
        .id
}

#[tokio::test]
async fn two_other_admins_recover_a_person_whose_old_passkey_then_fails() {
    let w = world().await;
    let (mut lost, _) = w.enrol("ada").await;
    let a1 = admin(&w, "a1").await;
    let a2 = admin(&w, "a2").await;

    w.service
        .request_recovery("ada", &ClientContext::default())
        .await
        .unwrap();
    w.service
        .request_recovery("ada", &ClientContext::default())
        .await
        .unwrap();
    assert_eq!(
        w.service
            .pending_recoveries((&Operator::local("cli")).into())
            .await
            .unwrap()
            .len(),
        1,
        "one at a time"
    );
    let id = pending_id(&w, "ada").await;

    assert_eq!(
        w.service.approve_recovery(&a1, &id, true).await.unwrap(),
        Approval::NeedsMore { missing: 1 }
    );
    assert_eq!(
        w.service
            .approve_recovery(&a1, &id, true)
            .await
            .unwrap_err(),
        ServiceError::Rejected(Refusal::AlreadyApproved),
        "one admin cannot satisfy M alone"
    );
    let Approval::Issued(grant) = w.service.approve_recovery(&a2, &id, true).await.unwrap() else {
        panic!("two approvals and no wait issue the grant");
    };
    assert!(w
        .service
        .pending_recoveries((&Operator::local("cli")).into())
        .await
        .unwrap()
        .is_empty());

    // The old passkey is revoked; the grant enrols a new one.
    let (_, refused) = w.sign_in(&mut lost, "", &Tweaks::default()).await;
    assert!(refused.is_err());
    let (mut fresh, _, enrolled) = w
        .register(RegistrationStart::Invitation(&grant.value))
        .await;
    assert_eq!(enrolled.unwrap().name, "ada");
    let (_, signed_in) = w.sign_in(&mut fresh, "ada", &Tweaks::default()).await;
    assert_eq!(signed_in.unwrap().name, "ada");
    let again = w
        .service
        .begin_registration(
            BROWSER,
            RegistrationStart::Invitation(&grant.value),
            &RegistrationRequest::default(),
        )
        .await;
    assert_eq!(
        again.unwrap_err(),
        ServiceError::Forbidden,
        "the grant is single use"
    );

    let kinds: Vec<String> = w
        .audit()
        .await
        .into_iter()
        .map(|e| e.event.kind)
        .filter(|k| k.starts_with("recovery."))
        .collect();
    assert_eq!(
        kinds,
        [
            "recovery.request",
            "recovery.request",
            "recovery.approve",
            "recovery.approve",
            // Issue 12, item 19: the approval that completes the quorum is
            // sealed before the issue it causes, and the sessions the
            // grant ends are recorded.
            "recovery.approve",
            "recovery.revoke_credential",
            "recovery.end_session",
            "recovery.issue"
        ]
    );
    assert!(verify_chain(w.audit().await).is_ok());
}

#[tokio::test]
async fn nobody_approves_their_own_recovery() {
    let w = world().await;
    let a1 = admin(&w, "a1").await;
    admin(&w, "a2").await;
    w.service
        .request_recovery("a1", &ClientContext::default())
        .await
        .unwrap();
    let id = pending_id(&w, "a1").await;
    assert_eq!(
        w.service
            .approve_recovery(&a1, &id, true)
            .await
            .unwrap_err(),
        ServiceError::Rejected(Refusal::SelfApproval)
    );
}

#[tokio::test]
async fn a_waiting_period_holds_the_grant_back_and_only_approvers_take_it() {
    let w = world_with(|c| c.recovery.wait_ms = 60 * 60 * 1000).await;
    let (mut kept, _) = w.enrol("ada").await;
    let a1 = admin(&w, "a1").await;
    let a2 = admin(&w, "a2").await;
    let a3 = admin(&w, "a3").await;
    w.service
        .request_recovery("ada", &ClientContext::default())
        .await
        .unwrap();
    let id = pending_id(&w, "ada").await;
    w.service.approve_recovery(&a1, &id, false).await.unwrap();
    let waiting = w.service.approve_recovery(&a2, &id, false).await.unwrap();
    assert!(matches!(waiting, Approval::Waiting { .. }));
    assert_eq!(
        w.service.issue_recovery_grant(&a1, &id).await.unwrap_err(),
        ServiceError::Rejected(Refusal::RecoveryNotReady)
    );
    w.clock.0.fetch_add(60 * 60 * 1000, Ordering::SeqCst);
    assert_eq!(
        w.service.issue_recovery_grant(&a3, &id).await.unwrap_err(),
        ServiceError::Forbidden,
        "not an approver"
    );
    let grant = w.service.issue_recovery_grant(&a1, &id).await.unwrap();
    assert!(matches!(
        w.service.invitation(&grant.value).await.unwrap(),
        InvitationState::Open { .. }
    ));
    // The admins chose to keep the old credential.
    let (_, still) = w.sign_in(&mut kept, "", &Tweaks::default()).await;
    assert!(still.is_ok());
}

#[tokio::test]
async fn a_pending_recovery_expires_and_unknown_names_look_the_same() {
    let w = world().await;
    w.enrol("ada").await;
    let a1 = admin(&w, "a1").await;
    w.service
        .request_recovery("ada", &ClientContext::default())
        .await
        .unwrap();
    let id = pending_id(&w, "ada").await;
    w.clock
        .0
        .fetch_add(w.service.config().recovery.request_ttl_ms, Ordering::SeqCst);
    assert_eq!(
        w.service
            .approve_recovery(&a1, &id, true)
            .await
            .unwrap_err(),
        ServiceError::NotFound
    );
    assert!(w
        .service
        .pending_recoveries((&Operator::local("cli")).into())
        .await
        .unwrap()
        .is_empty());

    assert!(w
        .service
        .request_recovery("nobody", &ClientContext::default())
        .await
        .is_ok());
    let last = w.audit().await.pop().unwrap().event;
    assert_eq!(last.kind, "recovery.request");
    assert_eq!(last.outcome, Some(keybound_audit::Outcome::Failure));
    assert_eq!(last.severity, None, "a request is no alert");
}
