//! Issue 16: `keybound device …` against a database holding a device
//! enrolled the way a browser enrols one ("Trust this device").

use super::*;
use keybound_service::{
    ClientContext, Config, Operator, RegistrationRequest, RegistrationStart, Service, SystemClock,
};
use keybound_soft_authenticator::{Algorithm, Authenticator, Ceremony};
use serde_json::Value;

const ORIGIN: &str = "http://localhost:8080";

/// `keybound ARGS --data-dir DIR`; (exit code, stdout, stderr).
pub(super) fn run(dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env_remove("KEYBOUND_DATABASE_URL")
        .env_remove("KEYBOUND_CONFIG")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A database under `dir` where `ada` enrolled a passkey, then from its
/// session the device she uses; the device's name.
fn with_a_device(dir: &std::path::Path) -> String {
    let db = format!("sqlite://{}", dir.join("keybound.db").display());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = keybound_store::Store::open(&db).await.unwrap();
        let config = Config::new(
            "localhost",
            keybound_webauthn::OriginPolicy::exact([ORIGIN]).unwrap(),
            [3; 32],
        );
        let rng = rand_core::TryRngCore::unwrap_err(rand_core::OsRng);
        let service = Service::new(
            store,
            config,
            std::sync::Arc::new(SystemClock),
            Box::new(rng),
        );
        let invitation = service
            .invite("ada", false, &Operator::local("cli"))
            .await
            .unwrap();
        let session = register(&service, RegistrationStart::Invitation(&invitation.value))
            .await
            .session
            .unwrap();
        register(
            &service,
            RegistrationStart::Device {
                session: &session.value,
                label: "ada's laptop",
            },
        )
        .await
        .device
        .unwrap()
        .name
    })
}

/// A registration entitled by `start`, answered by a soft platform
/// authenticator from a Windows browser.
pub(super) async fn register(
    service: &Service,
    start: RegistrationStart<'_>,
) -> keybound_service::Enrolled {
    let ctx = ClientContext {
        ip: None,
        user_agent: Some("Mozilla/5.0 (Windows NT 10.0; Win64; x64)".into()),
        ..ClientContext::default()
    };
    let options = service
        .begin_registration(b"browser", start, &RegistrationRequest::default())
        .await
        .unwrap();
    let options = serde_json::to_value(&options).unwrap();
    let user = keybound_webauthn::b64::decode(options["user"]["id"].as_str().unwrap()).unwrap();
    let challenge = keybound_webauthn::b64::decode(options["challenge"].as_str().unwrap()).unwrap();
    let (_, json) = Authenticator::default().register(
        Algorithm::Es256,
        &Ceremony {
            rp_id: "localhost",
            origin: ORIGIN,
            challenge: &challenge,
        },
        &user,
    );
    service
        .finish_registration(b"browser", json.to_string().as_bytes(), &ctx)
        .await
        .unwrap()
}

#[test]
fn device_list_show_trust_and_decommission() {
    let dir = tempfile::tempdir().unwrap();
    let name = with_a_device(dir.path());

    let (code, out, err) = run(dir.path(), &["device", "list", "--json"]);
    assert_eq!(code, 0, "{err}");
    let listed: Value = serde_json::from_str(&out).expect(&out);
    let devices = listed.as_array().unwrap();
    assert_eq!(devices.len(), 1);
    let device = &devices[0];
    assert_eq!(device["name"], name.as_str());
    assert_eq!(device["owner"], "ada");
    assert_eq!(device["label"], "ada's laptop");
    assert_eq!(device["platform"], "Windows");
    assert_eq!(device["status"], "untrusted");
    assert!(device["last_seen_at"].as_str().unwrap().ends_with('Z'));

    let (code, out, _) = run(dir.path(), &["device", "list"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("NAME"), "{out}");
    assert!(out.contains(&name) && out.contains("untrusted"), "{out}");

    let (code, out, err) = run(
        dir.path(),
        &["device", "trust", &name, "--reason", "seen it"],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), format!("trusted '{name}'"));
    let (code, _, err) = run(dir.path(), &["device", "trust", &name]);
    assert_eq!(code, 1);
    assert!(err.contains("already has that trust"), "{err}");
    let (code, out, _) = run(dir.path(), &["device", "show", &name]);
    assert_eq!(code, 0);
    assert!(
        out.contains("status: trusted\n") && out.contains("why: seen it\n"),
        "{out}"
    );

    let (code, _, err) = run(dir.path(), &["device", "rename", &name, ""]);
    assert_eq!(code, 1);
    assert!(err.contains("1 to 64 printable characters"), "{err}");
    let (code, _, err) = run(dir.path(), &["device", "rename", &name, "desk"]);
    assert_eq!(code, 0, "{err}");

    let (code, out, err) = run(dir.path(), &["device", "decommission", &name]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("credential revoked"), "{out}");
    let (code, out, _) = run(dir.path(), &["device", "show", &name, "--json"]);
    assert_eq!(code, 0);
    let shown: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(shown["status"], "decommissioned");
    assert_eq!(shown["label"], "desk");
    assert!(shown["decommissioned_at"].is_string());

    let (code, _, err) = run(dir.path(), &["device", "decommission", &name]);
    assert_eq!(code, 1);
    assert!(err.contains("is decommissioned"), "{err}");
    let (code, _, err) = run(dir.path(), &["device", "show", "dev-nothing"]);
    assert_eq!(code, 1);
    assert!(err.contains("device not found"), "{err}");

    let (code, out, _) = run(dir.path(), &["audit", "export"]);
    assert_eq!(code, 0);
    for kind in [
        "device.enrol",
        "device.trust",
        "device.rename",
        "credential.revoke",
        "device.decommission",
    ] {
        assert!(out.contains(&format!("\"kind\":\"{kind}\"")), "{kind}");
    }
}
