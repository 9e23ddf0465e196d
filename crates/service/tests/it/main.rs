//! The use cases end to end, in process, with the software authenticator:
//! invitation -> enrolment -> sign-in, and the refusals that must change
//! nothing but the audit log.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use keybound_audit::{verify_chain, Outcome};
use keybound_service::*;
use keybound_soft_authenticator::{Algorithm, Authenticator, Ceremony, Credential, Tweaks};
use keybound_store::Store;
use keybound_webauthn::OriginPolicy;
use rand_chacha::rand_core::SeedableRng;
use serde_json::Value;

mod access;
mod account;
mod agents;
mod alerts;
mod authority;
mod bounds;
mod dbsc;
mod decoys;
mod devices;
mod forward;
mod in_the_field;
mod metadata;
mod names;
mod offboard;
mod posture;
mod recovery;
mod recovery_requests;
mod standing;
mod tiers;
mod transparency;
mod workloads;

const RP_ID: &str = "localhost";
const ORIGIN: &str = "http://localhost:8080";
const BROWSER: &[u8] = b"browser-cookie-hash-1";

struct FakeClock(AtomicI64);
impl Clock for FakeClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

struct World {
    service: Service,
    clock: Arc<FakeClock>,
    auth: Authenticator,
}

async fn world() -> World {
    world_with(|_| {}).await
}

async fn world_with(tweak: impl FnOnce(&mut Config)) -> World {
    let store = Store::open("sqlite::memory:").await.unwrap();
    let mut config = Config::new(RP_ID, OriginPolicy::exact([ORIGIN]).unwrap(), [9; 32]);
    tweak(&mut config);
    let clock = Arc::new(FakeClock(AtomicI64::new(1_800_000_000_000)));
    let service = Service::new(
        store,
        config,
        clock.clone(),
        Box::new(rand_chacha::ChaCha20Rng::seed_from_u64(1)),
    );
    World {
        service,
        clock,
        auth: Authenticator::default(),
    }
}

fn challenge_of(options: &Value) -> Vec<u8> {
    keybound_webauthn::b64::decode(options["challenge"].as_str().unwrap()).unwrap()
}

impl World {
    async fn enrol(&self, name: &str) -> (Credential, Vec<u8>) {
        let token = self
            .service
            .invite(name, false, &Operator::local("cli"))
            .await
            .unwrap();
        let (cred, user, enrolled) = self
            .register(RegistrationStart::Invitation(&token.value))
            .await;
        assert_eq!(enrolled.unwrap().name, name);
        (cred, user)
    }

    /// A registration ceremony entitled by `start`, answered by the
    /// world's authenticator.
    async fn register(
        &self,
        start: RegistrationStart<'_>,
    ) -> (Credential, Vec<u8>, Result<Enrolled, ServiceError>) {
        let options = self
            .service
            .begin_registration(BROWSER, start, &RegistrationRequest::default())
            .await
            .unwrap();
        let options = serde_json::to_value(&options).unwrap();
        let user = keybound_webauthn::b64::decode(options["user"]["id"].as_str().unwrap()).unwrap();
        let c = challenge_of(&options);
        let (cred, json) = self.auth.register(
            Algorithm::Es256,
            &Ceremony {
                rp_id: RP_ID,
                origin: ORIGIN,
                challenge: &c,
            },
            &user,
        );
        let enrolled = self
            .service
            .finish_registration(
                BROWSER,
                json.to_string().as_bytes(),
                &ClientContext::default(),
            )
            .await;
        (cred, user, enrolled)
    }

    /// Asks for sign-in options for `name`; returns their challenge.
    async fn options(&self, name: &str) -> Vec<u8> {
        let options = self
            .service
            .begin_authentication(BROWSER, name, &AuthenticationRequest::default())
            .await
            .unwrap();
        challenge_of(&serde_json::to_value(&options).unwrap())
    }

    /// Answers `challenge` with `cred` from `origin`, posting as `browser`.
    async fn answer(
        &self,
        cred: &mut Credential,
        challenge: &[u8],
        origin: &str,
        browser: &[u8],
        tweaks: &Tweaks,
    ) -> (Value, Result<SignedIn, ServiceError>) {
        let json = self.auth.assert_with(
            cred,
            &Ceremony {
                rp_id: RP_ID,
                origin,
                challenge,
            },
            tweaks,
        );
        let result = self
            .service
            .finish_authentication(
                browser,
                json.to_string().as_bytes(),
                &ClientContext::default(),
            )
            .await;
        (json, result)
    }

    async fn sign_in(
        &self,
        cred: &mut Credential,
        name: &str,
        tweaks: &Tweaks,
    ) -> (Value, Result<SignedIn, ServiceError>) {
        let c = self.options(name).await;
        self.answer(cred, &c, ORIGIN, BROWSER, tweaks).await
    }

    async fn audit(&self) -> Vec<keybound_audit::AuditEvent> {
        self.service.store().audit_events().await.unwrap()
    }
}

#[tokio::test]
async fn invitation_enrolment_and_both_kinds_of_sign_in() {
    let w = world().await;
    let (mut cred, _) = w.enrol("ada").await;
    let (_, by_name) = w.sign_in(&mut cred, "ada", &Tweaks::default()).await;
    let by_name = by_name.unwrap();
    assert_eq!(by_name.name, "ada");
    let (_, username_less) = w.sign_in(&mut cred, "", &Tweaks::default()).await;
    assert_eq!(username_less.unwrap().name, "ada");
    assert!(w
        .service
        .sign_out(&by_name.session.value, &ClientContext::default())
        .await
        .unwrap());
    assert!(!w
        .service
        .sign_out(&by_name.session.value, &ClientContext::default())
        .await
        .unwrap());
    let events = w.audit().await;
    let kinds: Vec<_> = events.iter().map(|e| e.event.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "admin.invite",
            "registration",
            "authentication",
            "authentication",
            "sign_out"
        ]
    );
    assert_eq!(verify_chain(events).unwrap(), 5);
}

#[tokio::test]
async fn an_invitation_enrols_once() {
    let w = world().await;
    let token = w
        .service
        .invite("ada", false, &Operator::local("cli"))
        .await
        .unwrap();
    let defaults = RegistrationRequest::default();
    let start = || {
        w.service.begin_registration(
            BROWSER,
            RegistrationStart::Invitation(&token.value),
            &defaults,
        )
    };
    let first = serde_json::to_value(start().await.unwrap()).unwrap();
    let second = serde_json::to_value(start().await.unwrap()).unwrap();
    let user = keybound_webauthn::b64::decode(first["user"]["id"].as_str().unwrap()).unwrap();
    let register = |options: &Value| {
        let c = challenge_of(options);
        w.auth
            .register(
                Algorithm::Es256,
                &Ceremony {
                    rp_id: RP_ID,
                    origin: ORIGIN,
                    challenge: &c,
                },
                &user,
            )
            .1
    };
    let (a, b) = (register(&first), register(&second));
    let ctx = ClientContext::default();
    w.service
        .finish_registration(BROWSER, a.to_string().as_bytes(), &ctx)
        .await
        .unwrap();
    assert_eq!(
        w.service
            .finish_registration(BROWSER, b.to_string().as_bytes(), &ctx)
            .await
            .unwrap_err(),
        ServiceError::Rejected(Refusal::GrantUsedOrExpired)
    );
    assert_eq!(start().await.unwrap_err(), ServiceError::Forbidden);
    assert_eq!(
        w.service
            .begin_registration(
                BROWSER,
                RegistrationStart::Open("eve"),
                &RegistrationRequest::default()
            )
            .await
            .unwrap_err(),
        ServiceError::Forbidden,
        "open registration is off by default"
    );
}

#[tokio::test]
async fn refused_ceremonies_change_nothing_but_the_audit_log() {
    let w = world().await;
    let (mut cred, _) = w.enrol("ada").await;
    let before = w.audit().await.len();

    // Replay of a successful result.
    let (json, ok) = w.sign_in(&mut cred, "ada", &Tweaks::default()).await;
    ok.unwrap();
    let replay = w
        .service
        .finish_authentication(
            BROWSER,
            json.to_string().as_bytes(),
            &ClientContext::default(),
        )
        .await;
    assert_eq!(
        replay.unwrap_err(),
        ServiceError::Rejected(Refusal::NoMatchingChallenge)
    );

    let none = Tweaks::default();
    let rejected = |r: Result<SignedIn, ServiceError>| r.unwrap_err();

    // A result from another browser session.
    let c = w.options("ada").await;
    let (_, other) = w
        .answer(&mut cred, &c, ORIGIN, b"another-browser", &none)
        .await;
    assert_eq!(
        rejected(other),
        ServiceError::Rejected(Refusal::NoMatchingChallenge)
    );

    // An expired challenge.
    let c = w.options("ada").await;
    w.clock.0.fetch_add(5 * 60 * 1000, Ordering::SeqCst);
    let (_, late) = w.answer(&mut cred, &c, ORIGIN, BROWSER, &none).await;
    assert_eq!(
        rejected(late),
        ServiceError::Rejected(Refusal::NoMatchingChallenge)
    );

    // Wrong origin and garbage.
    let c = w.options("ada").await;
    let (_, evil) = w
        .answer(&mut cred, &c, "http://evil:8080", BROWSER, &none)
        .await;
    assert_eq!(
        rejected(evil),
        ServiceError::Rejected(Refusal::Verification("origin_mismatch"))
    );
    assert_eq!(
        w.service
            .finish_authentication(BROWSER, b"{]", &ClientContext::default())
            .await
            .unwrap_err(),
        ServiceError::Rejected(Refusal::Verification("malformed_response"))
    );

    // The one success wrote one event; every refusal wrote exactly one failure.
    let events = w.audit().await;
    let new: Vec<_> = events[before..]
        .iter()
        .map(|e| (e.event.outcome, e.event.reason.clone()))
        .collect();
    assert_eq!(new.len(), 6);
    assert_eq!(new[0].0, Some(Outcome::Success));
    let reasons: Vec<_> = new[1..]
        .iter()
        .map(|(o, r)| {
            assert_eq!(*o, Some(Outcome::Failure));
            r.clone().unwrap()
        })
        .collect();
    assert_eq!(
        reasons,
        [
            "no_matching_challenge",
            "no_matching_challenge",
            "no_matching_challenge",
            "origin_mismatch",
            "malformed_response",
        ]
    );
    assert!(verify_chain(events).is_ok());
    // Still one credential that signs in with the counter it had.
    let (_, again) = w.sign_in(&mut cred, "ada", &Tweaks::default()).await;
    again.unwrap();
}

/// The one refusal that changes state: a counter regression quarantines
/// the credential (and ends its sessions) in the transaction that records
/// it, with a high-severity event.
#[tokio::test]
async fn a_counter_regression_quarantines_the_credential() {
    let w = world().await;
    let (mut cred, _) = w.enrol("ada").await;
    let (_, first) = w.sign_in(&mut cred, "ada", &Tweaks::default()).await;
    let session = first.unwrap().session;
    let regress = Tweaks {
        sign_count: Some(0),
        ..Tweaks::default()
    };
    let (_, regressed) = w.sign_in(&mut cred, "", &regress).await;
    assert_eq!(
        regressed.unwrap_err(),
        ServiceError::Rejected(Refusal::Verification("clone_suspected"))
    );
    let last = w.audit().await.pop().unwrap().event;
    assert_eq!(last.severity, Some(keybound_audit::Severity::High));
    assert_eq!(last.sign_count, Some(0));
    let stored = &w
        .service
        .credentials_of((&Operator::local("cli")).into(), "ada")
        .await
        .unwrap()[0];
    assert_eq!(stored.status, keybound_store::CredentialStatus::Quarantined);
    assert_eq!(stored.sign_count, 1, "the counter is not lowered");
    assert_eq!(
        w.service.account(&session.value).await.unwrap_err(),
        ServiceError::Forbidden,
        "its sessions end"
    );
    let (_, refused) = w.sign_in(&mut cred, "", &Tweaks::default()).await;
    assert_eq!(
        refused.unwrap_err(),
        ServiceError::Rejected(Refusal::CredentialQuarantined)
    );

    let id = keybound_webauthn::b64::encode(&cred.id);
    w.service
        .clear_credential(&id, &Operator::local("cli"))
        .await
        .unwrap();
    assert_eq!(
        w.service
            .clear_credential(&id, &Operator::local("cli"))
            .await
            .unwrap_err(),
        ServiceError::NotFound
    );
    let (_, back) = w.sign_in(&mut cred, "", &Tweaks::default()).await;
    back.unwrap();
    assert!(verify_chain(w.audit().await).is_ok());
}

#[tokio::test]
async fn another_users_credential_is_refused() {
    let w = world().await;
    let (mut ada, _) = w.enrol("ada").await;
    w.enrol("bob").await;
    // Options for bob, answered with ada's credential.
    let (_, result) = w.sign_in(&mut ada, "bob", &Tweaks::default()).await;
    assert_eq!(
        result.unwrap_err(),
        ServiceError::Rejected(Refusal::CredentialOfAnotherIdentity)
    );
}

#[tokio::test]
async fn unknown_names_get_options_shaped_like_known_ones() {
    let w = world().await;
    w.enrol("ada").await;
    let shape = |v: &Value| -> Vec<(String, String)> {
        let mut keys: Vec<(String, String)> = v
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), format!("{:?}", std::mem::discriminant(v))))
            .collect();
        keys.sort();
        keys
    };
    let known = serde_json::to_value(
        w.service
            .begin_authentication(BROWSER, "ada", &AuthenticationRequest::default())
            .await
            .unwrap(),
    )
    .unwrap();
    let unknown = serde_json::to_value(
        w.service
            .begin_authentication(BROWSER, "nobody", &AuthenticationRequest::default())
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(shape(&known), shape(&unknown));
    let descriptor = |v: &Value| v["allowCredentials"][0].clone();
    assert_eq!(shape(&descriptor(&known)), shape(&descriptor(&unknown)));
    assert_eq!(
        descriptor(&known)["id"].as_str().unwrap().len(),
        descriptor(&unknown)["id"].as_str().unwrap().len()
    );
    // Stable per name, different across names.
    let again = serde_json::to_value(
        w.service
            .begin_authentication(BROWSER, "nobody", &AuthenticationRequest::default())
            .await
            .unwrap(),
    )
    .unwrap();
    let other = serde_json::to_value(
        w.service
            .begin_authentication(BROWSER, "someone", &AuthenticationRequest::default())
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(descriptor(&unknown), descriptor(&again));
    assert_ne!(descriptor(&unknown), descriptor(&other));
}

#[tokio::test]
async fn revoking_a_credential_stops_its_sign_ins_and_sessions() {
    let w = world().await;
    let (mut cred, _) = w.enrol("ada").await;
    let (_, signed_in) = w.sign_in(&mut cred, "ada", &Tweaks::default()).await;
    let session = signed_in.unwrap().session;
    let people = w
        .service
        .people((&Operator::local("cli")).into())
        .await
        .unwrap();
    assert_eq!(people.len(), 1);
    assert_eq!(people[0].1.len(), 1);
    let id = keybound_webauthn::b64::encode(&cred.id);
    w.service
        .revoke_credential(&id, &Operator::local("cli"), "lost")
        .await
        .unwrap();
    assert_eq!(
        w.service
            .revoke_credential(&id, &Operator::local("cli"), "again")
            .await
            .unwrap_err(),
        ServiceError::NotFound
    );
    // Its session is over: sign-out finds nothing live.
    assert!(!w
        .service
        .sign_out(&session.value, &ClientContext::default())
        .await
        .unwrap());
    let (_, refused) = w.sign_in(&mut cred, "ada", &Tweaks::default()).await;
    assert_eq!(
        refused.unwrap_err(),
        ServiceError::UnknownCredential(Refusal::CredentialRevoked)
    );
    let creds = w
        .service
        .credentials_of((&Operator::local("cli")).into(), "ada")
        .await
        .unwrap();
    assert_eq!(
        creds[0].status,
        keybound_store::CredentialStatus::Revoked("lost".into())
    );
    assert_eq!(
        w.service
            .credentials_of((&Operator::local("cli")).into(), "nobody")
            .await
            .unwrap_err(),
        ServiceError::NotFound
    );
    assert!(verify_chain(w.audit().await).is_ok());
}

#[tokio::test]
async fn requested_user_verification_is_enforced() {
    let w = world().await;
    let token = w
        .service
        .invite("ada", false, &Operator::local("cli"))
        .await
        .unwrap();
    let request = RegistrationRequest {
        authenticator_selection: Some(keybound_webauthn::AuthenticatorSelectionCriteria {
            user_verification: keybound_webauthn::UserVerificationRequirement::Required,
            ..Default::default()
        }),
        attestation: Some(keybound_webauthn::AttestationConveyancePreference::Direct),
        extensions: None,
        display_name: Some("Ada Lovelace".into()),
        username: None,
    };
    let options = w
        .service
        .begin_registration(
            BROWSER,
            RegistrationStart::Invitation(&token.value),
            &request,
        )
        .await
        .unwrap();
    let options = serde_json::to_value(&options).unwrap();
    assert_eq!(options["attestation"], "direct");
    assert_eq!(options["user"]["displayName"], "Ada Lovelace");
    assert_eq!(
        options["authenticatorSelection"]["userVerification"],
        "required"
    );
    let user = keybound_webauthn::b64::decode(options["user"]["id"].as_str().unwrap()).unwrap();
    let c = challenge_of(&options);
    let no_uv = Authenticator {
        user_verified: false,
        ..Authenticator::default()
    };
    let (_, json) = no_uv.register(
        Algorithm::Es256,
        &Ceremony {
            rp_id: RP_ID,
            origin: ORIGIN,
            challenge: &c,
        },
        &user,
    );
    assert_eq!(
        w.service
            .finish_registration(
                BROWSER,
                json.to_string().as_bytes(),
                &ClientContext::default()
            )
            .await
            .unwrap_err(),
        ServiceError::Rejected(Refusal::Verification("user_not_verified"))
    );
}

#[tokio::test]
async fn open_registration_creates_the_name_when_enabled() {
    let store = Store::open("sqlite::memory:").await.unwrap();
    let mut config = Config::new(RP_ID, OriginPolicy::exact([ORIGIN]).unwrap(), [9; 32]);
    config.open_registration = true;
    let service = Service::new(
        store,
        config,
        Arc::new(FakeClock(AtomicI64::new(1_800_000_000_000))),
        Box::new(rand_chacha::ChaCha20Rng::seed_from_u64(2)),
    );
    let auth = Authenticator::default();
    let options = service
        .begin_registration(
            BROWSER,
            RegistrationStart::Open("eve"),
            &RegistrationRequest::default(),
        )
        .await
        .unwrap();
    let options = serde_json::to_value(&options).unwrap();
    let user = keybound_webauthn::b64::decode(options["user"]["id"].as_str().unwrap()).unwrap();
    let c = challenge_of(&options);
    let (_, json) = auth.register(
        Algorithm::Es256,
        &Ceremony {
            rp_id: RP_ID,
            origin: ORIGIN,
            challenge: &c,
        },
        &user,
    );
    let enrolled = service
        .finish_registration(
            BROWSER,
            json.to_string().as_bytes(),
            &ClientContext::default(),
        )
        .await
        .unwrap();
    assert_eq!(enrolled.name, "eve");
    assert_eq!(
        service
            .credentials_of((&Operator::local("cli")).into(), "eve")
            .await
            .unwrap()
            .len(),
        1
    );
    // Issue 12, item 1: open registration only ever creates an identity; a
    // second round for the same name is refused and adds nothing.
    assert_eq!(
        service
            .begin_registration(
                BROWSER,
                RegistrationStart::Open("eve"),
                &RegistrationRequest::default(),
            )
            .await
            .unwrap_err(),
        ServiceError::Rejected(Refusal::NameTaken)
    );
    assert_eq!(
        service
            .credentials_of((&Operator::local("cli")).into(), "eve")
            .await
            .unwrap()
            .len(),
        1
    );
}

// --- gaps found by cargo mutants over the service ---

#[tokio::test]
async fn ceremony_events_carry_time_address_and_agent() {
    let w = world().await;
    let (mut cred, _) = w.enrol("ada").await;
    let c = w.options("ada").await;
    let json = w.auth.assert(
        &mut cred,
        &Ceremony {
            rp_id: RP_ID,
            origin: ORIGIN,
            challenge: &c,
        },
    );
    let ctx = ClientContext {
        ip: Some("192.0.2.7".into()),
        user_agent: Some("test-agent/1".into()),
        hints: Default::default(),
    };
    w.service
        .finish_authentication(BROWSER, json.to_string().as_bytes(), &ctx)
        .await
        .unwrap();
    let last = w.audit().await.pop().unwrap().event;
    assert_eq!(last.time_ms, w.clock.now_ms());
    assert_eq!(last.ip.as_deref(), Some("192.0.2.7"));
    assert_eq!(last.user_agent.as_deref(), Some("test-agent/1"));
    assert_eq!(last.origin.as_deref(), Some(ORIGIN));
    assert_eq!(last.user_verified, Some(true));
}

#[tokio::test]
async fn names_must_be_printable_and_short() {
    let w = world().await;
    for bad in ["", "tab\there", &"x".repeat(65)] {
        assert_eq!(
            w.service
                .invite(bad, false, &Operator::local("cli"))
                .await
                .unwrap_err(),
            ServiceError::Rejected(Refusal::InvalidName),
            "{bad:?}"
        );
    }
    w.service
        .invite(&"x".repeat(64), false, &Operator::local("cli"))
        .await
        .unwrap();
    w.service
        .invite("Zoë Ångström", false, &Operator::local("cli"))
        .await
        .unwrap();
}

#[tokio::test]
async fn suspended_and_offboarded_identities_cannot_enrol() {
    let w = world().await;
    for (name, status) in [
        ("ada", keybound_store::IdentityStatus::Suspended),
        ("bob", keybound_store::IdentityStatus::Offboarded),
    ] {
        let token = w
            .service
            .invite(name, false, &Operator::local("cli"))
            .await
            .unwrap();
        let mut tx = w.service.store().begin().await.unwrap();
        let ada = tx.identity_by_name(name).await.unwrap().unwrap();
        tx.set_identity_status(&ada.id, status).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(
            w.service
                .begin_registration(
                    BROWSER,
                    RegistrationStart::Invitation(&token.value),
                    &RegistrationRequest::default()
                )
                .await
                .unwrap_err(),
            ServiceError::Forbidden,
            "{status:?}"
        );
    }
}

#[tokio::test]
async fn default_creation_options_prefer_passkeys_and_uv() {
    let w = world().await;
    let token = w
        .service
        .invite("ada", false, &Operator::local("cli"))
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
    let v = serde_json::to_value(&options).unwrap();
    assert_eq!(
        v["authenticatorSelection"],
        serde_json::json!({"residentKey": "preferred", "requireResidentKey": false, "userVerification": "preferred"})
    );
    // ES256 first: every certified authenticator has it; EdDSA next.
    assert_eq!(v["pubKeyCredParams"][0]["alg"], -7);
    assert_eq!(v["pubKeyCredParams"][1]["alg"], -8);
}

#[tokio::test]
async fn stored_credentials_record_attestation_format_type_and_trust() {
    use keybound_soft_authenticator::{AttestationMode, TestPki};
    let pki = TestPki::new([0x4b; 16]);
    let store = Store::open("sqlite::memory:").await.unwrap();
    let mut config = Config::new(RP_ID, OriginPolicy::exact([ORIGIN]).unwrap(), [9; 32]);
    config.attestation_roots = vec![pki.root_der.clone()];
    let clock = Arc::new(FakeClock(AtomicI64::new(1_800_000_000_000)));
    let mut w = World {
        service: Service::new(
            store,
            config,
            clock.clone(),
            Box::new(rand_chacha::ChaCha20Rng::seed_from_u64(4)),
        ),
        clock,
        auth: Authenticator::default(),
    };
    let cases = [
        ("none", AttestationMode::None, "none/none/not_applicable"),
        (
            "self",
            AttestationMode::PackedSelf,
            "packed/self/not_applicable",
        ),
        (
            "x5c",
            AttestationMode::Packed(pki.attestation.clone()),
            "packed/basic/verified",
        ),
        (
            "other",
            AttestationMode::Packed(TestPki::new([0x4b; 16]).attestation),
            "packed/basic/unverified:UnknownIssuer",
        ),
    ];
    for (name, mode, expected) in cases {
        w.auth = Authenticator {
            aaguid: [0x4b; 16],
            attestation: mode,
            ..Authenticator::default()
        };
        w.enrol(name).await;
        let c = &w
            .service
            .credentials_of((&Operator::local("cli")).into(), name)
            .await
            .unwrap()[0];
        assert_eq!(
            format!(
                "{}/{}/{}",
                c.attestation_format, c.attestation_type, c.attestation_trust
            ),
            expected
        );
    }
}

#[test]
fn the_system_clock_is_in_this_century() {
    let now = SystemClock.now_ms();
    assert!(now > 1_700_000_000_000 && now < 4_102_444_800_000, "{now}");
}

#[test]
fn errors_read_as_what_went_wrong() {
    assert_eq!(
        ServiceError::Rejected(Refusal::Verification("x")).to_string(),
        "rejected: x"
    );
    assert_eq!(ServiceError::Forbidden.to_string(), "forbidden");
    assert_eq!(
        keybound_audit::ChainError::HashMismatch { seq: 4 }.to_string(),
        "event 4 was altered: its hash does not match its content"
    );
}
