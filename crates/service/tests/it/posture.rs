//! Device posture (issue 16): client hints recorded at a device proof,
//! decided on by Cedar through `context.device`, expiring when stale, and
//! never winning over attestation; the forward-auth cache following device
//! changes. Devices are inserted with the store (enrolment is another
//! change's work).

use super::*;
use keybound_audit::NewEvent;
use keybound_service::policies::PolicySet;
use keybound_service::posture::ClientHints;
use keybound_store::{DeviceRow, Identity, IdentityStatus};

pub(crate) const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// What a device row says about how its key was proven.
pub(crate) struct Proven {
    pub(crate) platform: &'static str,
    pub(crate) attested: bool,
    pub(crate) status: &'static str,
}

/// Stores a device named `dev-<owner>` owned by `owner`, bound by `cred`.
pub(crate) async fn device_for(w: &World, owner: &str, cred: &[u8], proven: &Proven) -> String {
    let store = w.service.store();
    let owner_id = store
        .read()
        .await
        .unwrap()
        .identity_by_name(owner)
        .await
        .unwrap()
        .unwrap()
        .id;
    let name = format!("dev-{owner}");
    let id = format!("id-{name}");
    let now = w.clock.now_ms();
    let mut tx = store.begin().await.unwrap();
    tx.insert_identity(&Identity {
        id: id.clone(),
        kind: IdentityKind::Device,
        name: name.clone(),
        status: IdentityStatus::Active,
        is_admin: false,
        user_handle: name.as_bytes().to_vec(),
        created_ms: now,
    })
    .await
    .unwrap();
    tx.insert_device(&DeviceRow {
        identity_id: id,
        name: name.clone(),
        owner_id: Some(owner_id),
        label: "laptop".into(),
        platform: proven.platform.into(),
        attachment: "platform".into(),
        credential_id: Some(cred.to_vec()),
        aaguid: "00000000-0000-0000-0000-000000000000".into(),
        model: match (proven.attested, proven.platform) {
            (false, _) => String::new(),
            (true, "Windows") => "Windows Hello TPM".into(),
            (true, _) => "Apple Secure Enclave".into(),
        },
        // A TPM statement proves Windows; an Apple one proves no one
        // platform (macOS and iOS both make it).
        attestation_format: match (proven.attested, proven.platform) {
            (false, _) => "none".into(),
            (true, "Windows") => "tpm".into(),
            (true, _) => "apple".into(),
        },
        attestation_trust: if proven.attested {
            "verified".into()
        } else {
            "not_applicable".into()
        },
        key_storage: if proven.attested {
            "hardware".into()
        } else {
            "unknown".into()
        },
        serial: None,
        status: proven.status.into(),
        trust_reason: "test".into(),
        created_ms: now,
        last_seen_ms: None,
        decommissioned_ms: None,
    })
    .await
    .unwrap();
    tx.commit().await.unwrap();
    name
}

pub(crate) fn with_hints(platform: &str, version: &str) -> ClientContext {
    ClientContext {
        ip: None,
        user_agent: None,
        hints: ClientHints::from_headers(
            Some(format!("\"{platform}\"").as_bytes()),
            Some(format!("\"{version}\"").as_bytes()),
            Some(br#""Chromium";v="126", "Not-A.Brand";v="8""#),
            None,
        ),
    }
}

/// Signs `name` in with `cred`, the browser sending `ctx`; the cookie.
pub(crate) async fn sign_in_with(
    w: &World,
    cred: &mut Credential,
    name: &str,
    ctx: &ClientContext,
) -> String {
    let challenge = w.options(name).await;
    let json = w.auth.assert_with(
        cred,
        &Ceremony {
            rp_id: RP_ID,
            origin: ORIGIN,
            challenge: &challenge,
        },
        &Tweaks::default(),
    );
    w.service
        .finish_authentication(BROWSER, json.to_string().as_bytes(), ctx)
        .await
        .unwrap()
        .session
        .value
}

/// The app wants a device reporting macOS 14 or later.
const RECENT_OS: &str = r#"@id("app-recent-os")
permit (principal, action in Keybound::Action::"http", resource in Keybound::App::"app.example.com")
when { context has device && context.device.posture.os_major >= 14 };"#;

/// The app wants a trusted device.
const TRUSTED: &str = r#"@id("app-trusted")
permit (principal, action in Keybound::Action::"http", resource in Keybound::App::"app.example.com")
when { context has device && context.device.trusted };"#;

pub(crate) async fn install(service: &Service, text: &str) {
    let set = PolicySet::load(&[("app.cedar", text)]).unwrap();
    service
        .install_policies(set, PolicyLoad::Start, None)
        .await
        .unwrap();
}

pub(crate) async fn allowed(service: &Service, cookie: &str) -> bool {
    let request = ForwardedRequest::new("GET", "https", "app.example.com", "/").unwrap();
    matches!(
        service
            .forward_auth(Some(cookie), None, &request, &ClientContext::default())
            .await
            .unwrap(),
        ForwardDecision::Allow(_)
    )
}

const UNATTESTED: Proven = Proven {
    platform: "",
    attested: false,
    status: "untrusted",
};

#[tokio::test]
async fn hints_are_recorded_at_a_device_sign_in() {
    let w = world().await;
    let (mut cred, _) = w.enrol("ada").await;
    let device = device_for(&w, "ada", &cred.id.clone(), &UNATTESTED).await;
    sign_in_with(&w, &mut cred, "ada", &with_hints("macOS", "14.4.1")).await;
    let view = w
        .service
        .device_posture((&Operator::local("cli")).into(), &device)
        .await
        .unwrap();
    let fact = |name: &str| {
        view.facts
            .iter()
            .find(|f| f.fact == name)
            .map(|f| (f.source.as_str(), f.value.as_str(), f.stale))
    };
    assert_eq!(fact("platform"), Some(("client_hints", "macOS", false)));
    assert_eq!(
        fact("platform_version"),
        Some(("client_hints", "14.4.1", false))
    );
    assert_eq!(fact("browser"), Some(("client_hints", "Chromium", false)));
    assert_eq!(view.effective.os_major, 14);
    assert_eq!(view.effective.os_source, "client_hints");
    assert!(!view.effective.managed, "hints never vouch for management");
    let events = w.audit().await;
    let posture = events
        .iter()
        .find(|e| e.event.kind == "device.posture")
        .expect("device.posture");
    assert_eq!(posture.event.subject.as_deref(), Some(device.as_str()));
    assert_eq!(posture.event.subject_kind.as_deref(), Some("device"));
    // The same hints again change nothing: no second event.
    sign_in_with(&w, &mut cred, "ada", &with_hints("macOS", "14.4.1")).await;
    let count = w
        .audit()
        .await
        .iter()
        .filter(|e| e.event.kind == "device.posture")
        .count();
    assert_eq!(count, 1);
}

#[tokio::test]
async fn a_sign_in_without_a_device_records_no_posture() {
    let w = world().await;
    let (mut cred, _) = w.enrol("ada").await;
    let cookie = sign_in_with(&w, &mut cred, "ada", &with_hints("macOS", "14.4.1")).await;
    install(&w.service, RECENT_OS).await;
    assert!(
        !allowed(&w.service, &cookie).await,
        "no device: no context.device"
    );
    assert!(!w
        .audit()
        .await
        .iter()
        .any(|e| e.event.kind == "device.posture"));
}

#[tokio::test]
async fn an_os_version_policy_admits_and_refuses_by_reported_hints() {
    let w = world().await;
    install(&w.service, RECENT_OS).await;
    let (mut cred, _) = w.enrol("ada").await;
    device_for(&w, "ada", &cred.id.clone(), &UNATTESTED).await;
    let recent = sign_in_with(&w, &mut cred, "ada", &with_hints("macOS", "14.4.1")).await;
    assert!(allowed(&w.service, &recent).await);
    let old = sign_in_with(&w, &mut cred, "ada", &with_hints("macOS", "13.6")).await;
    assert!(!allowed(&w.service, &old).await, "13.6 is older than 14");
    // The device's posture is the latest report: the earlier session is
    // decided on it too once its cache entry was dropped by the change.
    assert!(!allowed(&w.service, &recent).await);
}

#[tokio::test]
async fn stale_facts_expire() {
    let w = world_with(|c| c.posture_max_age_ms = DAY_MS).await;
    install(&w.service, RECENT_OS).await;
    let (mut cred, _) = w.enrol("ada").await;
    let device = device_for(&w, "ada", &cred.id.clone(), &UNATTESTED).await;
    let cookie = sign_in_with(&w, &mut cred, "ada", &with_hints("macOS", "14.4.1")).await;
    assert!(allowed(&w.service, &cookie).await, "fresh, and now cached");
    w.clock.0.fetch_add(DAY_MS + 1, Ordering::SeqCst);
    assert!(
        !allowed(&w.service, &cookie).await,
        "the cached entry does not outlive its facts"
    );
    let view = w
        .service
        .device_posture((&Operator::local("cli")).into(), &device)
        .await
        .unwrap();
    assert!(view.facts.iter().all(|f| f.stale), "{view:?}");
    assert_eq!(view.effective.os_version, "");
    assert_eq!(view.effective.os_major, 0);
}

#[tokio::test]
async fn forged_hints_lose_to_the_attested_platform() {
    let w = world().await;
    install(&w.service, RECENT_OS).await;
    let (mut cred, _) = w.enrol("ada").await;
    let device = device_for(
        &w,
        "ada",
        &cred.id.clone(),
        &Proven {
            platform: "Windows",
            attested: true,
            status: "trusted",
        },
    )
    .await;
    let cookie = sign_in_with(&w, &mut cred, "ada", &with_hints("macOS", "15.0.0")).await;
    assert!(!allowed(&w.service, &cookie).await, "attestation wins");
    let events = w.audit().await;
    let conflict = events
        .iter()
        .find(|e| e.event.kind == "device.hint_conflict")
        .expect("device.hint_conflict");
    assert_eq!(conflict.event.subject.as_deref(), Some(device.as_str()));
    assert_eq!(conflict.event.details["hinted_platform"], "macOS");
    let view = w
        .service
        .device_posture((&Operator::local("cli")).into(), &device)
        .await
        .unwrap();
    assert!(
        view.facts.is_empty(),
        "no hint of that proof is used: {view:?}"
    );
    let seen = w
        .service
        .access_device((&Operator::local("cli")).into(), &device)
        .await
        .unwrap();
    assert_eq!(seen.platform, "Windows");
    assert_eq!(seen.key_storage, "hardware");
    assert_eq!(seen.attested_model, "Windows Hello TPM");
    assert!(seen.trusted);
    assert_eq!(seen.posture.os_version, "");
}

#[tokio::test]
async fn a_platform_only_claimed_at_enrolment_is_not_attested() {
    // A verified Apple statement proves the key, not the operating system:
    // the User-Agent's "macOS" at enrolment is a claim, so a later hint
    // naming another platform is no conflict and is kept as reported.
    let w = world().await;
    let (mut cred, _) = w.enrol("ada").await;
    let device = device_for(
        &w,
        "ada",
        &cred.id.clone(),
        &Proven {
            platform: "macOS",
            attested: true,
            status: "trusted",
        },
    )
    .await;
    sign_in_with(&w, &mut cred, "ada", &with_hints("Windows", "15.0.0")).await;
    let events = w.audit().await;
    assert!(
        !events
            .iter()
            .any(|e| e.event.kind == "device.hint_conflict"),
        "no attested platform to contradict"
    );
    let view = w
        .service
        .device_posture((&Operator::local("cli")).into(), &device)
        .await
        .unwrap();
    assert!(!view.facts.is_empty(), "the hints are kept as claims");
}

#[tokio::test]
async fn hints_matching_the_attested_platform_are_used() {
    let w = world().await;
    install(&w.service, RECENT_OS).await;
    let (mut cred, _) = w.enrol("ada").await;
    device_for(
        &w,
        "ada",
        &cred.id.clone(),
        &Proven {
            platform: "macOS",
            attested: true,
            status: "trusted",
        },
    )
    .await;
    let cookie = sign_in_with(&w, &mut cred, "ada", &with_hints("macOS", "14.0.0")).await;
    assert!(allowed(&w.service, &cookie).await);
}

/// Appends a device event the way the registry's use cases do.
async fn device_event(w: &World, kind: &str, device: &str) {
    let mut tx = w.service.store().begin().await.unwrap();
    tx.append_audit(NewEvent {
        time_ms: w.clock.now_ms(),
        kind: kind.into(),
        subject: Some(device.into()),
        subject_kind: Some("device".into()),
        ..NewEvent::default()
    })
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn the_cache_follows_device_trust_and_decommission() {
    let w = world().await;
    install(&w.service, TRUSTED).await;
    let (mut cred, _) = w.enrol("ada").await;
    let device = device_for(
        &w,
        "ada",
        &cred.id.clone(),
        &Proven {
            platform: "macOS",
            attested: true,
            status: "trusted",
        },
    )
    .await;
    let cookie = sign_in_with(&w, &mut cred, "ada", &ClientContext::default()).await;
    assert!(allowed(&w.service, &cookie).await, "trusted, and cached");
    let id = format!("id-{device}");
    // Untrusted: the change and its event commit together; the cached
    // entry goes with the event naming the device.
    let mut tx = w.service.store().begin().await.unwrap();
    assert!(tx
        .set_device_status(&id, "untrusted", "test", w.clock.now_ms())
        .await
        .unwrap());
    tx.commit().await.unwrap();
    assert!(
        allowed(&w.service, &cookie).await,
        "no event yet: still cached"
    );
    device_event(&w, "device.untrust", &device).await;
    assert!(!allowed(&w.service, &cookie).await);
    // Decommissioned: no context.device at all.
    let mut tx = w.service.store().begin().await.unwrap();
    tx.set_device_status(&id, "decommissioned", "lost", w.clock.now_ms())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    device_event(&w, "device.decommission", &device).await;
    install(
        &w.service,
        r#"permit (principal, action in Keybound::Action::"http", resource in Keybound::App::"app.example.com")
           unless { context has device };"#,
    )
    .await;
    assert!(
        allowed(&w.service, &cookie).await,
        "a decommissioned device is no device"
    );
}

/// The app wants a managed device.
const MANAGED: &str = r#"@id("app-managed")
permit (principal, action in Keybound::Action::"http", resource in Keybound::App::"app.example.com")
when { context has device && context.device.posture.managed &&
       context.device.posture.os_major >= 14 && context.device.posture.os_source == "import" };"#;

async fn import(w: &World, file: &str) -> Result<ImportSummaryOut, String> {
    let records =
        keybound_service::posture::parse_inventory(file.as_bytes()).map_err(|e| e.to_string())?;
    w.service
        .import_inventory((&Operator::local("cli")).into(), &records)
        .await
        .map_err(|e| e.to_string())
}

type ImportSummaryOut = keybound_service::posture::ImportSummary;

#[tokio::test]
async fn an_import_marks_a_device_managed() {
    let w = world().await;
    install(&w.service, MANAGED).await;
    let (mut cred, _) = w.enrol("ada").await;
    let device = device_for(&w, "ada", &cred.id.clone(), &UNATTESTED).await;
    let cookie = sign_in_with(&w, &mut cred, "ada", &ClientContext::default()).await;
    assert!(
        !allowed(&w.service, &cookie).await,
        "not known to be managed"
    );
    let file = format!(
        "\u{feff}device,managed,owner,compliant,disk_encrypted,os_version\n\
         {device},true,ada,true,true,14.5\n\
         SN-WAITING,true,bob,,,15.0\n"
    );
    let summary = import(&w, &file).await.unwrap();
    assert_eq!(
        (summary.records, summary.matched, summary.waiting),
        (2, 1, 1)
    );
    assert_eq!(summary.changed, vec![device.clone()]);
    assert!(
        allowed(&w.service, &cookie).await,
        "the cache followed the import"
    );
    let events = w.audit().await;
    let imported = events
        .iter()
        .find(|e| e.event.kind == "device.import")
        .expect("device.import");
    assert_eq!(imported.event.details["matched"], "1");
    assert_eq!(imported.event.details["waiting"], "1");
    assert_eq!(imported.event.actor.as_deref(), Some("cli"));
    let posture: Vec<_> = events
        .iter()
        .filter(|e| e.event.kind == "device.posture")
        .collect();
    assert_eq!(posture.len(), 1);
    assert_eq!(posture[0].event.details["managed"], "true");
    // The same file again changes no device.
    let again = import(&w, &file).await.unwrap();
    assert!(again.changed.is_empty());
    let view = w
        .service
        .device_posture((&Operator::local("cli")).into(), &device)
        .await
        .unwrap();
    assert!(view.effective.managed && view.effective.compliant && view.effective.disk_encrypted);
    assert_eq!(view.effective.os_version, "14.5");
}

#[tokio::test]
async fn a_malformed_row_imports_nothing() {
    let w = world().await;
    let (cred, _) = w.enrol("ada").await;
    let device = device_for(&w, "ada", &cred.id, &UNATTESTED).await;
    let file = format!("device,managed\n{device},true\nSN-2,sometimes\n");
    let err = import(&w, &file).await.unwrap_err();
    assert_eq!(err, "line 3, field managed: expected true or false");
    let view = w
        .service
        .device_posture((&Operator::local("cli")).into(), &device)
        .await
        .unwrap();
    assert!(view.facts.is_empty(), "nothing half-imported");
    assert!(!w
        .audit()
        .await
        .iter()
        .any(|e| e.event.kind.starts_with("device.")));
    let huge = "a".repeat(keybound_service::posture::import::MAX_IMPORT_BYTES + 1);
    assert!(import(&w, &huge).await.unwrap_err().contains("larger than"));
}

#[tokio::test]
async fn a_waiting_record_links_when_its_serial_enrols() {
    let w = world().await;
    let summary = import(&w, "[{\"serial\": \"SN-77\", \"managed\": true}]")
        .await
        .unwrap();
    assert_eq!(summary.waiting, 1);
    let (cred, _) = w.enrol("ada").await;
    let device = device_for(&w, "ada", &cred.id, &UNATTESTED).await;
    let mut tx = w.service.store().begin().await.unwrap();
    // Enrolment with enterprise attestation records the serial.
    assert!(tx
        .set_device_status(&format!("id-{device}"), "trusted", "test", 0)
        .await
        .unwrap());
    tx.commit().await.unwrap();
    assert!(
        !w.service.link_inventory(&device).await.unwrap(),
        "no serial yet"
    );
    // The store has no serial setter: a device row with it, as enrolment
    // makes one.
    let (cred2, _) = w.enrol("bob").await;
    let store = w.service.store();
    let bob = store
        .read()
        .await
        .unwrap()
        .identity_by_name("bob")
        .await
        .unwrap()
        .unwrap();
    let mut tx = store.begin().await.unwrap();
    tx.insert_identity(&Identity {
        id: "id-dev-bob-key".into(),
        kind: IdentityKind::Device,
        name: "dev-bob-key".into(),
        status: IdentityStatus::Active,
        is_admin: false,
        user_handle: b"dev-bob-key".to_vec(),
        created_ms: 0,
    })
    .await
    .unwrap();
    let mut row = tx.device(&format!("id-{device}")).await.unwrap().unwrap();
    row.identity_id = "id-dev-bob-key".into();
    row.owner_id = Some(bob.id);
    row.credential_id = Some(cred2.id.clone());
    row.serial = Some("SN-77".into());
    tx.insert_device(&row).await.unwrap();
    tx.commit().await.unwrap();
    assert!(w.service.link_inventory("dev-bob-key").await.unwrap());
    let view = w
        .service
        .device_posture((&Operator::local("cli")).into(), "dev-bob-key")
        .await
        .unwrap();
    assert!(view.effective.managed);
    assert!(
        !w.service.link_inventory("dev-bob-key").await.unwrap(),
        "taken once"
    );
}

#[tokio::test]
async fn an_administrators_fact_outranks_the_import() {
    let w = world().await;
    let (cred, _) = w.enrol("ada").await;
    let device = device_for(&w, "ada", &cred.id, &UNATTESTED).await;
    import(
        &w,
        &format!("device,managed,os_version\n{device},true,14.1\n"),
    )
    .await
    .unwrap();
    let op = Operator::local("cli");
    w.service
        .set_posture_fact((&op).into(), &device, "managed", "false")
        .await
        .unwrap();
    w.service
        .set_posture_fact((&op).into(), &device, "os_version", "15.2")
        .await
        .unwrap();
    let view = w
        .service
        .device_posture((&op).into(), &device)
        .await
        .unwrap();
    assert!(!view.effective.managed, "admin over import");
    assert_eq!(view.effective.os_version, "15.2");
    assert_eq!(view.effective.os_source, "admin");
    for (fact, value) in [
        ("managed", "maybe"),
        ("platform", "Windows"),
        ("os_version", "x; drop"),
        ("os_version", ""),
        ("owner", "a,b"),
    ] {
        assert!(
            matches!(
                w.service
                    .set_posture_fact((&op).into(), &device, fact, value)
                    .await,
                Err(ServiceError::Rejected(Refusal::PostureFactInvalid))
            ),
            "{fact}={value}"
        );
    }
    assert!(matches!(
        w.service
            .set_posture_fact((&op).into(), "dev-nobody", "managed", "true")
            .await,
        Err(ServiceError::NotFound)
    ));
}

#[tokio::test]
async fn the_console_can_be_kept_to_trusted_devices() {
    let w = world().await;
    let token = w
        .service
        .invite("root", true, &Operator::local("cli"))
        .await
        .unwrap();
    let (cred, _, enrolled) = w
        .register(RegistrationStart::Invitation(&token.value))
        .await;
    let on_device = enrolled.unwrap().session.unwrap();
    let (_, elsewhere) = crate::authority::admin(&w, "groot").await;
    device_for(
        &w,
        "root",
        &cred.id,
        &Proven {
            platform: "macOS",
            attested: true,
            status: "trusted",
        },
    )
    .await;
    let set = PolicySet::load(&[(
        "console.cedar",
        r#"@id("console-trusted-device") forbid (principal, action == Keybound::Action::"admin:console", resource)
           unless { context has device && context.device.trusted };"#,
    )])
    .unwrap();
    w.service
        .install_policies(set, PolicyLoad::Start, None)
        .await
        .unwrap();
    let ctx = ClientContext::default();
    assert!(w
        .service
        .authorize_admin(&on_device.value, &ctx)
        .await
        .is_ok());
    assert_eq!(
        w.service
            .authorize_admin(&elsewhere.value, &ctx)
            .await
            .unwrap_err(),
        ServiceError::Forbidden
    );
}
