//! The policy set through its public API: loading (and refusing), the
//! defaults, deciding, step-up, and the index agreeing with Cedar.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use keybound_policy::{
    Action, Context, LoadError, Outcome, PolicySet, Principal, Request, Resource,
    MAX_POLICY_FILE_BYTES,
};

#[path = "policy/device.rs"]
mod device;

#[path = "policy/tasks.rs"]
mod tasks;

#[path = "../benches/support/generate.rs"]
mod generate;

fn person(groups: &[&str]) -> Principal {
    Principal {
        id: "id-ann".into(),
        kind: "person".into(),
        name: "ann".into(),
        groups: groups.iter().map(|g| (*g).to_owned()).collect(),
        status: "active".into(),
    }
}

fn ctx(tier: i64, age: i64) -> Context {
    Context {
        tier,
        user_verified: true,
        auth_age_s: age,
        client_ip: Some("192.0.2.1".into()),
        now_s: 1_800_000_000,
        backup_met: true,
        session_bound: false,
        step_up_window_s: 300,
        device: None,
        task: None,
        task_request: None,
    }
}

fn get(host: &str, path: &str, groups: &[&str], tier: i64, age: i64) -> Request {
    Request {
        principal: Some(person(groups)),
        action: Action::Http("GET".into()),
        resource: Resource::Route {
            host: host.into(),
            path: path.into(),
        },
        context: ctx(tier, age),
    }
}

fn load_err(text: &str) -> LoadError {
    PolicySet::load(&[("mine.cedar", text)]).expect_err("refused")
}

const APP: &str = r#"
@id("app-users")
permit (principal in Keybound::Group::"user", action in Keybound::Action::"http", resource in Keybound::App::"app.example.com");
@id("app-admin-tier3")
forbid (principal, action, resource in Keybound::App::"app.example.com")
  when { resource.path like "/admin*" && context.tier < 3 };
"#;

#[test]
fn routes_are_denied_by_default() {
    let set = PolicySet::defaults().unwrap();
    let d = set.decide(&get("app.example.com", "/", &["user", "admin"], 3, 0));
    assert_eq!(d.outcome, Outcome::Deny);
    assert!(d.policies.is_empty(), "the default deny names no policy");
    assert!(d.explain().contains("default deny"), "{}", d.explain());
}

#[test]
fn no_session_means_sign_in() {
    let set = PolicySet::load(&[("app.cedar", APP)]).unwrap();
    let mut r = get("app.example.com", "/", &["user"], 1, 0);
    r.principal = None;
    assert_eq!(set.decide(&r).outcome, Outcome::SignIn);
}

#[test]
fn a_permit_allows_and_names_itself() {
    let set = PolicySet::load(&[("app.cedar", APP)]).unwrap();
    let d = set.decide(&get("app.example.com", "/x", &["user"], 1, 0));
    assert_eq!(d.outcome, Outcome::Allow);
    assert_eq!(d.policies, ["app-users"]);
    // Another app is not this app's.
    let d = set.decide(&get("other.example.com", "/x", &["user"], 3, 0));
    assert_eq!(d.outcome, Outcome::Deny);
    // Nor a group that was not permitted.
    let d = set.decide(&get("app.example.com", "/x", &["finance"], 3, 0));
    assert_eq!(d.outcome, Outcome::Deny);
}

#[test]
fn forbid_overrides_permit_and_asks_for_a_step_up() {
    let set = PolicySet::load(&[("app.cedar", APP)]).unwrap();
    let d = set.decide(&get("app.example.com", "/admin/users", &["user"], 2, 0));
    assert_eq!(d.outcome, Outcome::StepUp(3));
    assert_eq!(d.policies, ["app-admin-tier3"]);
    let d = set.decide(&get("app.example.com", "/admin/users", &["user"], 3, 0));
    assert_eq!(d.outcome, Outcome::Allow);
}

#[test]
fn an_unconditional_forbid_is_a_denial_not_a_step_up() {
    let text = format!(
        "{APP}\n@id(\"no-delete\") forbid (principal, action == Keybound::Action::\"DELETE\", resource);"
    );
    let set = PolicySet::load(&[("app.cedar", &text)]).unwrap();
    let mut r = get("app.example.com", "/x", &["user"], 1, 0);
    r.action = Action::Http("DELETE".into());
    let d = set.decide(&r);
    assert_eq!(d.outcome, Outcome::Deny);
    assert_eq!(d.policies, ["no-delete"]);
}

#[test]
fn step_up_is_the_lowest_tier_that_would_do_and_recency_counts() {
    let text = r#"permit (principal, action == Keybound::Action::"GET", resource in Keybound::App::"a.test")
        when { context.tier >= 2 && context.auth_age_s <= 60 };"#;
    let set = PolicySet::load(&[("a.cedar", text)]).unwrap();
    assert_eq!(
        set.decide(&get("a.test", "/", &[], 1, 0)).outcome,
        Outcome::StepUp(2)
    );
    // Tier enough but stale: the same tier again, now.
    assert_eq!(
        set.decide(&get("a.test", "/", &[], 3, 61)).outcome,
        Outcome::StepUp(3)
    );
    assert_eq!(
        set.decide(&get("a.test", "/", &[], 2, 60)).outcome,
        Outcome::Allow
    );
    let d = set.decide(&get("a.test", "/", &[], 2, 0));
    assert_eq!(d.policies, ["a.cedar:0"], "no @id: file and index");
}

#[test]
fn the_default_admin_rule_wants_role_tier_and_recency() {
    let set = PolicySet::defaults().unwrap();
    let console = |groups: &[&str], tier, age| Request {
        principal: Some(person(groups)),
        action: Action::AdminConsole,
        resource: Resource::Console,
        context: ctx(tier, age),
    };
    let d = set.decide(&console(&["admin"], 2, 300));
    assert_eq!(d.outcome, Outcome::Allow);
    assert_eq!(d.policies, ["keybound:admin-console"]);
    assert_eq!(
        set.decide(&console(&["admin"], 1, 0)).outcome,
        Outcome::StepUp(2)
    );
    assert_eq!(
        set.decide(&console(&["admin"], 2, 301)).outcome,
        Outcome::StepUp(2)
    );
    assert_eq!(set.decide(&console(&["user"], 3, 0)).outcome, Outcome::Deny);
    let mut suspended = console(&["admin"], 3, 0);
    if let Some(p) = suspended.principal.as_mut() {
        p.status = "suspended".into();
    }
    assert_eq!(set.decide(&suspended).outcome, Outcome::Deny);
}

#[test]
fn the_default_oidc_rule_lets_active_identities_in_and_forbids_narrow_it() {
    let oidc = |client: &str| Request {
        principal: Some(person(&["user"])),
        action: Action::OidcAuthorize,
        resource: Resource::OidcClient {
            client_id: client.into(),
        },
        context: ctx(1, 0),
    };
    let set = PolicySet::defaults().unwrap();
    assert_eq!(set.decide(&oidc("wiki")).outcome, Outcome::Allow);
    let narrow = r#"@id("payroll-tier3") forbid (principal, action, resource == Keybound::OidcClient::"payroll") when { context.tier < 3 };"#;
    let set = PolicySet::load(&[("oidc.cedar", narrow)]).unwrap();
    assert_eq!(set.decide(&oidc("wiki")).outcome, Outcome::Allow);
    assert_eq!(set.decide(&oidc("payroll")).outcome, Outcome::StepUp(3));
}

#[test]
fn the_client_address_can_be_tested_and_a_bad_one_is_left_out() {
    let text = r#"permit (principal, action, resource in Keybound::App::"a.test")
        when { context has client_ip && context.client_ip.isInRange(ip("10.0.0.0/8")) };"#;
    let set = PolicySet::load(&[("net.cedar", text)]).unwrap();
    let mut r = get("a.test", "/", &[], 1, 0);
    r.context.client_ip = Some("10.2.3.4".into());
    assert_eq!(set.decide(&r).outcome, Outcome::Allow);
    r.context.client_ip = Some("192.0.2.1".into());
    assert_eq!(set.decide(&r).outcome, Outcome::Deny);
    r.context.client_ip = Some("10.2.3.4\"); permit(".into());
    assert_eq!(set.decide(&r).outcome, Outcome::Deny);
    r.context.client_ip = None;
    assert_eq!(set.decide(&r).outcome, Outcome::Deny);
}

#[test]
fn unknown_methods_are_the_other_action() {
    let text = r#"permit (principal, action == Keybound::Action::"OTHER", resource in Keybound::App::"dav.test");"#;
    let set = PolicySet::load(&[("dav.cedar", text)]).unwrap();
    let mut r = get("dav.test", "/", &[], 1, 0);
    r.action = Action::Http("PROPFIND".into());
    assert_eq!(set.decide(&r).outcome, Outcome::Allow);
    r.action = Action::Http("get".into());
    assert_eq!(
        set.decide(&r).outcome,
        Outcome::Deny,
        "get is GET, not OTHER"
    );
    assert_eq!(Action::parse("PROPFIND"), None);
    assert_eq!(Action::parse("oidc:authorize"), Some(Action::OidcAuthorize));
}

#[test]
fn invalid_syntax_is_refused_naming_the_file() {
    let e = load_err("permit (principal, action, resource");
    assert_eq!(e.file, "mine.cedar");
    assert!(e.problem.contains("syntax"), "{e}");
    assert!(e.to_string().starts_with("mine.cedar: "), "{e}");
}

#[test]
fn a_policy_violating_the_schema_is_refused() {
    let e = load_err(
        r#"permit (principal, action == Keybound::Action::"GET", resource) when { context.tierr >= 2 };"#,
    );
    assert!(e.problem.contains("schema"), "{e}");
    let e = load_err(
        r#"permit (principal, action == Keybound::Action::"GET", resource) when { context.tier == "2" };"#,
    );
    assert!(e.problem.contains("schema"), "{e}");
    let e = load_err(r#"permit (principal, action == Keybound::Action::"FETCH", resource);"#);
    assert!(e.problem.contains("schema"), "{e}");
}

#[test]
fn an_unknown_entity_type_is_refused() {
    let e = load_err(r#"permit (principal == Keybound::User::"ann", action, resource);"#);
    assert_eq!(e.file, "mine.cedar");
    assert!(e.problem.contains("schema"), "{e}");
}

#[test]
fn huge_files_and_too_many_files_are_refused() {
    let policy = "permit (principal, action == Keybound::Action::\"GET\", resource in Keybound::App::\"a.test\");\n";
    let huge = policy.repeat(MAX_POLICY_FILE_BYTES / policy.len() + 1);
    let e = load_err(&huge);
    assert!(e.problem.contains("at most"), "{e}");
    let names: Vec<String> = (0..=keybound_policy::MAX_POLICY_FILES)
        .map(|i| format!("{i}.cedar"))
        .collect();
    let sources: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "")).collect();
    let e = PolicySet::load(&sources).expect_err("too many files");
    assert!(e.problem.contains("policy files"), "{e}");
}

#[test]
fn templates_duplicate_ids_and_console_permits_are_refused() {
    let e = load_err("permit (principal == ?principal, action, resource);");
    assert!(e.problem.contains("templates"), "{e}");
    let e = load_err(
        "@id(\"x\") permit (principal, action == Keybound::Action::\"GET\", resource);\n@id(\"x\") permit (principal, action == Keybound::Action::\"HEAD\", resource);",
    );
    assert!(e.problem.contains("twice"), "{e}");
    let e = load_err("@id(\"keybound:admin-console\") forbid (principal, action, resource);");
    assert!(
        e.problem.contains("twice"),
        "a default's id cannot be taken: {e}"
    );
    for widen in [
        "permit (principal, action, resource);",
        "permit (principal, action == Keybound::Action::\"admin:console\", resource);",
        "permit (principal, action in [Keybound::Action::\"admin:console\"], resource is Keybound::Console);",
    ] {
        let e = load_err(widen);
        assert!(e.problem.contains("admin console"), "{widen}: {e}");
    }
    // Forbids may narrow the console; permits scoped elsewhere are fine.
    PolicySet::load(&[(
        "ok.cedar",
        "forbid (principal, action == Keybound::Action::\"admin:console\", resource) unless { context has client_ip && context.client_ip.isLoopback() };\npermit (principal, action, resource is Keybound::Route);",
    )])
    .unwrap();
}

#[test]
fn the_hash_covers_names_and_texts() {
    let a = PolicySet::load(&[("a.cedar", APP)]).unwrap();
    let b = PolicySet::load(&[("b.cedar", APP)]).unwrap();
    let again = PolicySet::load(&[("a.cedar", APP)]).unwrap();
    assert_eq!(a.hash(), again.hash());
    assert_ne!(a.hash(), b.hash());
    assert_ne!(a.hash(), PolicySet::defaults().unwrap().hash());
    assert_eq!(a.hash().len(), 64);
    assert_eq!(
        a.files(),
        [
            "defaults/admin.cedar",
            "defaults/oidc.cedar",
            "defaults/tasks.cedar",
            "a.cedar"
        ]
    );
}

#[test]
fn the_index_never_changes_an_answer() {
    for count in [10usize, 100, 1_000] {
        let text = generate::policies(count);
        let set = PolicySet::load(&[("gen.cedar", &text)]).unwrap();
        let mut rng = generate::Rng::new(count as u64);
        let apps = generate::apps(count);
        let mut allowed = 0;
        for _ in 0..1_000 {
            let r = generate::request(&mut rng, apps);
            let mut indexed = set.decide(&r);
            let whole = set.decide_unindexed(&r);
            if indexed.outcome == Outcome::Allow {
                allowed += 1;
            }
            // decide() adds the step-up; compare Cedar's own answer.
            if let Outcome::StepUp(_) = indexed.outcome {
                indexed.outcome = Outcome::Deny;
            }
            assert_eq!(indexed, whole, "{count} policies: {r:?}");
        }
        assert!(
            allowed > 100,
            "the generated requests exercise permits too: {allowed}"
        );
    }
}
