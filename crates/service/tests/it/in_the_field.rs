//! Authenticators and clients met in the field: Windows Hello's TPM
//! attestations signed with RS1 (SHA-1), and clients that pad base64 or use
//! the standard alphabet.

use keybound_soft_authenticator::{AttestationMode, TestCa, TpmProfile};

use super::*;

/// A Windows Hello-like authenticator: the TPM's AIK signs with RS1.
fn windows_hello() -> Authenticator {
    let mut tpm = TpmProfile::new(TestCa::new("windows hello root"));
    tpm.aik_rs1 = true;
    Authenticator {
        attestation: AttestationMode::Tpm(tpm),
        ..Authenticator::default()
    }
}

#[tokio::test]
async fn windows_hello_tpm_rs1_registers_by_default_and_the_audit_says_sha1() {
    let mut w = world().await;
    w.auth = windows_hello();
    let (mut cred, _) = w.enrol("ada").await;
    let event = w.audit().await.pop().unwrap().event;
    assert_eq!(event.kind, "registration");
    assert_eq!(event.outcome, Some(Outcome::Success));
    assert_eq!(
        event.attestation.as_deref(),
        Some("tpm/attca (legacy SHA-1 signature)")
    );
    let (_, signed_in) = w.sign_in(&mut cred, "ada", &Tweaks::default()).await;
    signed_in.unwrap();
}

#[tokio::test]
async fn a_policy_refusing_sha1_tpm_attestation_refuses_the_registration() {
    let mut w = world_with(|c| c.policy.allow_sha1_tpm_attestation = false).await;
    w.auth = windows_hello();
    let token = w
        .service
        .invite("ada", false, &Operator::local("cli"))
        .await
        .unwrap();
    let (_, _, enrolled) = w
        .register(RegistrationStart::Invitation(&token.value))
        .await;
    assert_eq!(
        enrolled.unwrap_err(),
        ServiceError::Rejected(Refusal::Verification("sha1_tpm_attestation_not_allowed"))
    );
    let event = w.audit().await.pop().unwrap().event;
    assert_eq!(event.kind, "registration");
    assert_eq!(event.outcome, Some(Outcome::Failure));
    assert_eq!(
        event.reason.as_deref(),
        Some("sha1_tpm_attestation_not_allowed")
    );
    assert!(w
        .service
        .credentials_of((&Operator::local("cli")).into(), "ada")
        .await
        .unwrap()
        .is_empty());

    // The same policy still takes TPMs that sign with SHA-256.
    let tpm = TpmProfile::new(TestCa::new("tpm root"));
    w.auth.attestation = AttestationMode::Tpm(tpm);
    w.enrol("bob").await;
    let event = w.audit().await.pop().unwrap().event;
    assert_eq!(event.attestation.as_deref(), Some("tpm/attca"));
}

/// Canonical base64url, padded.
fn padded(canonical: &str) -> String {
    let mut out = canonical.to_owned();
    while !out.len().is_multiple_of(4) {
        out.push('=');
    }
    out
}

/// Canonical base64url as standard base64, padded.
fn standard(canonical: &str) -> String {
    padded(&canonical.replace('-', "+").replace('_', "/"))
}

/// A way to write canonical base64url as some client does.
type Spelling = fn(&str) -> String;

/// Every binary member of a client's response re-spelled by `spell`.
fn respell(json: &Value, spell: Spelling) -> Value {
    let mut out = json.clone();
    let paths: [&[&str]; 7] = [
        &["id"],
        &["rawId"],
        &["response", "clientDataJSON"],
        &["response", "attestationObject"],
        &["response", "authenticatorData"],
        &["response", "signature"],
        &["response", "userHandle"],
    ];
    for path in paths {
        let member = path.iter().try_fold(&mut out, |v, key| v.get_mut(*key));
        if let Some(v) = member.filter(|v| v.is_string()) {
            *v = Value::String(spell(v.as_str().unwrap()));
        }
    }
    out
}

#[tokio::test]
async fn padded_and_standard_base64_responses_register_and_sign_in() {
    let mut w = world().await;
    // 31-byte ids need one '=' when padded.
    w.auth.credential_id_len = 31;
    let ctx = ClientContext::default();
    for (name, spell) in [("ada", padded as Spelling), ("bob", standard)] {
        let token = w
            .service
            .invite(name, false, &Operator::local("cli"))
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
        let c = challenge_of(&options);
        let ceremony = Ceremony {
            rp_id: RP_ID,
            origin: ORIGIN,
            challenge: &c,
        };
        let (mut cred, json) = w.auth.register(Algorithm::Es256, &ceremony, &user);
        let json = respell(&json, spell);
        assert!(json["rawId"].as_str().unwrap().ends_with('='));
        let enrolled = w
            .service
            .finish_registration(BROWSER, json.to_string().as_bytes(), &ctx)
            .await
            .unwrap();
        assert_eq!(enrolled.credential_id, cred.id);

        let c = w.options(name).await;
        let ceremony = Ceremony {
            challenge: &c,
            ..ceremony
        };
        let json = respell(&w.auth.assert(&mut cred, &ceremony), spell);
        let signed_in = w
            .service
            .finish_authentication(BROWSER, json.to_string().as_bytes(), &ctx)
            .await
            .unwrap();
        assert_eq!(signed_in.name, name);

        // The credential id a page posts back may be spelled either way too.
        let session = &signed_in.session.value;
        let id = spell(&keybound_webauthn::b64::encode(&cred.id));
        w.service
            .rename_credential(session, &id, "laptop", &ctx)
            .await
            .unwrap();
        let stored = &w
            .service
            .credentials_of((&Operator::local("cli")).into(), name)
            .await
            .unwrap()[0];
        assert_eq!(stored.nickname.as_deref(), Some("laptop"));
        // The audit log names it canonically, whatever the client sent.
        let event = w.audit().await.pop().unwrap().event;
        assert_eq!(
            event.credential_id,
            Some(keybound_webauthn::b64::encode(&cred.id))
        );
    }
}

#[tokio::test]
async fn malformed_base64_in_a_response_is_refused_and_audited() {
    let w = world().await;
    let (mut cred, _) = w.enrol("ada").await;
    let c = w.options("ada").await;
    let mut json = w.auth.assert(
        &mut cred,
        &Ceremony {
            rp_id: RP_ID,
            origin: ORIGIN,
            challenge: &c,
        },
    );
    json["response"]["signature"] = Value::String("-+AA=".into());
    assert_eq!(
        w.service
            .finish_authentication(
                BROWSER,
                json.to_string().as_bytes(),
                &ClientContext::default()
            )
            .await
            .unwrap_err(),
        ServiceError::Rejected(Refusal::Verification("invalid_base64"))
    );
    let session = w.sign_in(&mut cred, "ada", &Tweaks::default()).await.1;
    let session = session.unwrap().session.value;
    assert_eq!(
        w.service
            .rename_credential(&session, "-+AA", "x", &ClientContext::default())
            .await
            .unwrap_err(),
        ServiceError::NotFound
    );
}
