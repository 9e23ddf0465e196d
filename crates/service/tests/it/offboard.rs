//! Offboarding leaves no way in: credentials, sessions and grants all end
//! in one transaction, each audited, until a new invitation.

use super::*;

#[tokio::test]
async fn offboarding_closes_every_path_until_a_new_invitation() {
    let w = world().await;
    // An invitation still open when ada enrols with a later one (an active
    // account gets no new invitations).
    let pending = w
        .service
        .invite("ada", false, &Operator::local("cli"))
        .await
        .unwrap();
    let (mut first, _) = w.enrol("ada").await;
    let (_, signed_in) = w.sign_in(&mut first, "", &Tweaks::default()).await;
    let session = signed_in.unwrap().session;
    let (mut second, _, added) = w.register(RegistrationStart::Session(&session.value)).await;
    added.unwrap();
    w.enrol("bob").await;

    // Issue 12: a new invitation voids the older link, so none is left
    // open for someone else to enrol into ada's live account.
    assert_eq!(
        w.service.invitation(&pending.value).await.unwrap(),
        InvitationState::Unknown
    );
    let done = w
        .service
        .offboard("ada", &Operator::local("cli"))
        .await
        .unwrap();
    assert_eq!((done.credentials, done.grants), (2, 0));
    assert_eq!(
        done.sessions, 2,
        "the enrolment's session and the sign-in's"
    );

    for cred in [&mut first, &mut second] {
        for name in ["", "ada"] {
            let (_, refused) = w.sign_in(cred, name, &Tweaks::default()).await;
            assert!(refused.is_err(), "no sign-in after offboarding");
        }
    }
    assert_eq!(
        w.service.account(&session.value).await.unwrap_err(),
        ServiceError::Forbidden
    );
    assert_eq!(
        w.service.invitation(&pending.value).await.unwrap(),
        InvitationState::Unknown,
        "the outstanding invitation is void"
    );
    assert_eq!(
        w.service
            .begin_registration(
                BROWSER,
                RegistrationStart::Invitation(&pending.value),
                &RegistrationRequest::default()
            )
            .await
            .unwrap_err(),
        ServiceError::Forbidden
    );
    let kinds: Vec<String> = w
        .audit()
        .await
        .into_iter()
        .map(|e| e.event.kind)
        .filter(|k| k.starts_with("offboard") || k == "admin.offboard")
        .collect();
    assert_eq!(
        kinds,
        [
            "offboard.revoke_credential",
            "offboard.revoke_credential",
            "offboard.end_session",
            "offboard.end_session",
            "admin.offboard"
        ]
    );
    // Others are untouched.
    assert_eq!(
        w.service
            .credentials_of((&Operator::local("cli")).into(), "bob")
            .await
            .unwrap()[0]
            .status,
        keybound_store::CredentialStatus::Active
    );
    assert_eq!(
        w.service
            .offboard("nobody", &Operator::local("cli"))
            .await
            .unwrap_err(),
        ServiceError::NotFound
    );

    // A new invitation is the way back.
    w.enrol("ada").await;
    let people = w
        .service
        .people((&Operator::local("cli")).into())
        .await
        .unwrap();
    let ada = people.iter().find(|(i, _)| i.name == "ada").unwrap();
    assert_eq!(ada.0.status, keybound_store::IdentityStatus::Active);
    assert!(verify_chain(w.audit().await).is_ok());
}
