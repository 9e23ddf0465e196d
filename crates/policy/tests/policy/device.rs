//! `context.device`: the finance example of docs/manual/policy.md, loaded
//! from the manual itself, admits a trusted managed device with a hardware
//! key and a recent OS, and refuses each shortfall.

use keybound_policy::{
    Action, Context, DeviceContext, Outcome, PolicySet, Posture, Principal, Request, Resource,
};

const MANUAL: &str = include_str!("../../../../docs/manual/policy.md");

/// The fenced block after `<!-- finance-policy -->` in the manual.
fn finance_policy() -> &'static str {
    let after = MANUAL
        .split_once("<!-- finance-policy -->")
        .expect("the manual marks the finance policy")
        .1;
    let body = after.split_once("```cedar\n").expect("a cedar block").1;
    body.split_once("```").expect("closed").0
}

fn mac() -> DeviceContext {
    DeviceContext {
        id: "dev-ann-mac".into(),
        trusted: true,
        kind: "platform".into(),
        platform: "macOS".into(),
        key_storage: "hardware".into(),
        attested_model: "Apple Secure Enclave".into(),
        posture: Posture {
            managed: true,
            compliant: true,
            disk_encrypted: true,
            os_version: "14.4.1".into(),
            os_major: 14,
            os_minor: 4,
            os_source: "import".into(),
            platform_version: "14.4.1".into(),
            browser: "Google Chrome".into(),
            browser_version: "126.0.6478.61".into(),
            browser_major: 126,
        },
    }
}

fn ask(device: Option<DeviceContext>) -> Outcome {
    let set = PolicySet::load(&[("finance.cedar", finance_policy())]).unwrap();
    set.decide(&Request {
        principal: Some(Principal {
            id: "id-ann".into(),
            kind: "person".into(),
            name: "ann".into(),
            groups: vec!["user".into()],
            status: "active".into(),
        }),
        action: Action::Http("GET".into()),
        resource: Resource::Route {
            host: "finance.example.com".into(),
            path: "/ledger".into(),
        },
        context: Context {
            tier: 2,
            user_verified: true,
            auth_age_s: 10,
            client_ip: None,
            now_s: 1_800_000_000,
            backup_met: true,
            session_bound: false,
            step_up_window_s: 300,
            device,
            task: None,
            task_request: None,
        },
    })
    .outcome
}

#[test]
fn the_manuals_finance_policy_loads_and_admits_a_managed_hardware_device() {
    assert_eq!(ask(Some(mac())), Outcome::Allow);
    let mut windows = mac();
    windows.platform = "Windows".into();
    windows.posture.os_major = 15;
    assert_eq!(ask(Some(windows)), Outcome::Allow);
}

#[test]
fn the_finance_policy_refuses_each_shortfall() {
    assert_eq!(ask(None), Outcome::Deny, "no device: a synced passkey");
    let shortfalls: [fn(&mut DeviceContext); 6] = [
        |d| d.trusted = false,
        |d| d.posture.managed = false,
        |d| d.key_storage = "device-bound".into(),
        |d| d.posture.os_major = 13,
        |d| d.posture.os_major = 0,
        |d| d.platform = "Linux".into(),
    ];
    for (n, shortfall) in shortfalls.iter().enumerate() {
        let mut device = mac();
        shortfall(&mut device);
        assert_eq!(ask(Some(device)), Outcome::Deny, "shortfall {n}");
    }
}

#[test]
fn a_policy_using_the_device_without_has_is_refused() {
    let err = PolicySet::load(&[(
        "bad.cedar",
        r#"permit (principal, action, resource) when { context.device.trusted };"#,
    )])
    .expect_err("an optional attribute needs `has`");
    assert!(err.to_string().contains("bad.cedar"), "{err}");
}

#[test]
fn every_device_attribute_is_in_the_schema() {
    let text = r#"permit (principal, action in Keybound::Action::"http", resource) when {
        context has device &&
        context.device.id like "dev-*" && context.device.kind == "platform" &&
        context.device.attested_model != "" &&
        context.device.posture.compliant && context.device.posture.disk_encrypted &&
        context.device.posture.os_version != "" && context.device.posture.os_minor >= 0 &&
        context.device.posture.os_source == "import" &&
        context.device.posture.platform_version != "" &&
        context.device.posture.browser != "" && context.device.posture.browser_version != "" &&
        context.device.posture.browser_major >= 100 };"#;
    let set = PolicySet::load(&[("all.cedar", text)]).unwrap();
    assert_eq!(set.len(), PolicySet::defaults().unwrap().len() + 1);
}
