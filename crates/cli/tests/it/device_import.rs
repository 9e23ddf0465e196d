//! `keybound device import` through the real binary: a CSV with a BOM
//! marks a registered device managed and keeps an unknown serial waiting;
//! a malformed row is refused with its line and field and nothing is
//! imported; an oversized file is refused; `policy check --device` then
//! decides with that device's posture.

use super::*;
use std::path::Path;

/// `keybound ARGS --data-dir DIR`: (exit code, stdout, stderr).
fn run(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env_remove("KEYBOUND_DATABASE_URL")
        .env_remove("KEYBOUND_POLICY_DIR")
        .env_remove("KEYBOUND_CONFIG")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// An organisation's device `dev-shared`, untrusted, with no credential
/// (enrolment is the registry's own command).
fn add_device(data: &Path) {
    let url = format!("sqlite://{}", data.join("keybound.db").display());
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let store = keybound_store::Store::open(&url).await.unwrap();
            let mut tx = store.begin().await.unwrap();
            tx.insert_identity(&keybound_store::Identity {
                id: "id-dev-shared".into(),
                kind: keybound_store::IdentityKind::Device,
                name: "dev-shared".into(),
                status: keybound_store::IdentityStatus::Active,
                is_admin: false,
                user_handle: b"dev-shared".to_vec(),
                created_ms: 0,
            })
            .await
            .unwrap();
            tx.insert_device(&keybound_store::DeviceRow {
                identity_id: "id-dev-shared".into(),
                name: String::new(),
                owner_id: None,
                label: "kiosk".into(),
                platform: "Windows".into(),
                attachment: "platform".into(),
                credential_id: None,
                aaguid: String::new(),
                model: String::new(),
                attestation_format: "none".into(),
                attestation_trust: "not_applicable".into(),
                key_storage: "unknown".into(),
                serial: None,
                status: "untrusted".into(),
                trust_reason: "test".into(),
                created_ms: 0,
                last_seen_ms: None,
                decommissioned_ms: None,
            })
            .await
            .unwrap();
            tx.commit().await.unwrap();
        });
}

fn device_events(data: &Path) -> Vec<serde_json::Value> {
    let (code, export, err) = run(data, &["audit", "export"]);
    assert_eq!(code, 0, "{err}");
    export
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["kind"].as_str().is_some_and(|k| k.starts_with("device.")))
        .collect()
}

const MANAGED: &str = r#"@id("kiosk-managed")
permit (principal, action in Keybound::Action::"http", resource in Keybound::App::"app.example.com")
when { context has device && context.device.posture.managed };"#;

#[test]
fn device_import_marks_managed_and_refuses_malformed_rows_whole() {
    let data = tempfile::tempdir().unwrap();
    let data = data.path();
    assert_eq!(run(data, &["init"]).0, 0);
    assert_eq!(run(data, &["admin", "invite", "ann"]).0, 0);
    add_device(data);
    let files = tempfile::tempdir().unwrap();
    let file = |name: &str, text: &[u8]| {
        let path = files.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    };

    // A malformed row: refused, naming the line, nothing imported.
    let bad = file(
        "bad.csv",
        b"device,managed\ndev-shared,true\nSN-1,sometimes\n",
    );
    let (code, out, err) = run(data, &["device", "import", &bad]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("line 3, field managed"), "{err}");
    assert!(device_events(data).is_empty(), "nothing half-imported");

    // Too big: refused before parsing.
    let huge = file("huge.csv", &vec![b'a'; 4 * 1024 * 1024 + 10]);
    let (code, _, err) = run(data, &["device", "import", &huge]);
    assert_eq!(code, 1);
    assert!(err.contains("larger than"), "{err}");

    // With a BOM: imported.
    let good = file(
        "inventory.csv",
        "\u{feff}device,managed,owner,os_version\ndev-shared,yes,it,10.0.22631\nSN-1,true,bob,15.0\n"
            .as_bytes(),
    );
    let (code, out, err) = run(data, &["device", "import", &good, "--json"]);
    assert_eq!(code, 0, "{out}{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["matched"], 1);
    assert_eq!(report["waiting"], 1);
    assert_eq!(report["changed"], serde_json::json!(["dev-shared"]));
    let kinds: Vec<String> = device_events(data)
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kinds, vec!["device.posture", "device.import"]);

    // policy check asks with the device's posture.
    let policies = tempfile::tempdir().unwrap();
    std::fs::write(policies.path().join("kiosk.cedar"), MANAGED).unwrap();
    let dir = policies.path().to_str().unwrap();
    let check = |extra: &[&str]| {
        let mut args = vec![
            "policy",
            "check",
            "--policy-dir",
            dir,
            "--principal",
            "ann",
            "--action",
            "GET",
            "--resource",
            "https://app.example.com/",
        ];
        args.extend_from_slice(extra);
        run(data, &args)
    };
    assert_eq!(check(&[]).0, 2, "no device: denied");
    let (code, out, err) = check(&["--device", "dev-shared"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("kiosk-managed"), "{out}");
    let (code, _, err) = check(&["--device", "dev-nobody"]);
    assert_eq!(code, 1);
    assert!(err.contains("no device named"), "{err}");
}
