//! Agents' tasks: the schema's task actions and `Api` resource, the
//! default (approval with user verification; no request or unattended
//! permit), the examples of docs/manual/policy.md loaded from the manual
//! itself, a tier-3 approval forbid, and `context.task` on forward-auth.

use keybound_policy::{
    Action, Context, LoadError, Outcome, PolicySet, Principal, Request, Resource, TaskFacts,
    TaskGrant,
};

const MANUAL: &str = include_str!("../../../../docs/manual/policy.md");

const REPORTS: &str = "https://reports.example.test/";
const PAY: &str = "https://pay.example.test/";

/// The fenced block after `<!-- tasks-policy -->` in the manual.
fn manual_policies() -> &'static str {
    let after = MANUAL
        .split_once("<!-- tasks-policy -->")
        .expect("the manual marks the task policies")
        .1;
    let body = after.split_once("```cedar\n").expect("a cedar block").1;
    body.split_once("```").expect("closed").0
}

fn manual_set() -> PolicySet {
    PolicySet::load(&[("tasks.cedar", manual_policies())]).unwrap()
}

fn agent(name: &str) -> Principal {
    Principal {
        id: format!("id-{name}"),
        kind: "agent".into(),
        name: name.into(),
        groups: Vec::new(),
        status: "active".into(),
    }
}

fn facts(actions: &[&str], delegator: Option<&str>, lifetime_s: i64) -> TaskFacts {
    TaskFacts {
        actions: actions.iter().map(|a| (*a).to_owned()).collect(),
        delegator: delegator.map(str::to_owned),
        owner: "olga".into(),
        lifetime_s,
    }
}

/// `action` by agent `name` on the API `uri` with `facts`, an approval
/// at `tier` with user verification `uv`.
fn task(action: Action, name: &str, uri: &str, facts: TaskFacts, tier: i64, uv: bool) -> Request {
    Request {
        principal: Some(agent(name)),
        action,
        resource: Resource::Api { uri: uri.into() },
        context: Context {
            tier,
            user_verified: uv,
            client_ip: Some("192.0.2.7".into()),
            now_s: 1_800_000_000,
            task_request: Some(facts),
            ..Context::default()
        },
    }
}

fn ask(set: &PolicySet, request: &Request) -> Outcome {
    let d = set.decide(request);
    assert!(d.errors.is_empty(), "{request:?}: {:?}", d.errors);
    // The index agrees with Cedar over the whole set.
    assert_eq!(
        set.decide_unindexed(request),
        set.decide(request),
        "{request:?}"
    );
    d.outcome
}

fn load_err(text: &str) -> LoadError {
    PolicySet::load(&[("mine.cedar", text)]).expect_err("refused")
}

#[test]
fn task_actions_parse_and_name_their_cedar_ids() {
    for (name, action) in [
        ("task:request", Action::TaskRequest),
        ("task:unattended", Action::TaskUnattended),
        ("task:approve", Action::TaskApprove),
    ] {
        assert_eq!(Action::parse(name), Some(action.clone()));
        assert_eq!(action.cedar_id(), name);
        assert!(action.is_task());
    }
    assert!(!Action::Http("GET".into()).is_task());
    assert!(!Action::OidcAuthorize.is_task());
    assert_eq!(Action::parse("task:delete"), None);
}

#[test]
fn by_default_no_agent_may_ask_and_no_task_starts_unattended() {
    let set = PolicySet::defaults().unwrap();
    for action in [Action::TaskRequest, Action::TaskUnattended] {
        let r = task(
            action,
            "report-bot",
            REPORTS,
            facts(&["read"], None, 60),
            0,
            false,
        );
        let d = set.decide(&r);
        assert_eq!(d.outcome, Outcome::Deny, "{r:?}");
        assert!(d.policies.is_empty(), "the default deny: {d:?}");
    }
}

#[test]
fn the_default_approval_wants_user_verification_only() {
    let set = PolicySet::defaults().unwrap();
    let f = facts(&["pay"], Some("alice"), 900);
    let d = set.decide(&task(
        Action::TaskApprove,
        "pay-bot",
        PAY,
        f.clone(),
        1,
        true,
    ));
    assert_eq!(d.outcome, Outcome::Allow);
    assert_eq!(d.policies, ["keybound:task-approve"]);
    // Without user verification: denied, and no step-up is offered.
    let d = set.decide(&task(Action::TaskApprove, "pay-bot", PAY, f, 3, false));
    assert_eq!(d.outcome, Outcome::Deny);
    assert!(d.policies.is_empty());
}

#[test]
fn a_task_action_without_its_facts_is_denied_with_an_error() {
    let set = PolicySet::defaults().unwrap();
    let mut r = task(
        Action::TaskApprove,
        "pay-bot",
        PAY,
        facts(&[], None, 1),
        3,
        true,
    );
    r.context.task_request = None;
    let d = set.decide(&r);
    assert_eq!(d.outcome, Outcome::Deny);
    assert!(
        d.errors.iter().any(|e| e.contains("task")),
        "the error says why: {d:?}"
    );
}

#[test]
fn the_manual_lets_report_bot_ask_for_read_on_reports_only() {
    let set = manual_set();
    let read = |name: &str, uri: &str, actions: &[&str], lifetime_s| {
        ask(
            &set,
            &task(
                Action::TaskRequest,
                name,
                uri,
                facts(actions, Some("alice"), lifetime_s),
                0,
                false,
            ),
        )
    };
    assert_eq!(read("report-bot", REPORTS, &["read"], 3600), Outcome::Allow);
    let d = set.decide(&task(
        Action::TaskRequest,
        "report-bot",
        REPORTS,
        facts(&["read"], None, 60),
        0,
        false,
    ));
    assert_eq!(d.outcome, Outcome::Allow, "autonomous too");
    assert_eq!(d.policies, ["report-bot-read"]);
    assert_eq!(
        read("report-bot", REPORTS, &["read", "write"], 60),
        Outcome::Deny,
        "write is not read"
    );
    assert_eq!(read("report-bot", REPORTS, &["read"], 3601), Outcome::Deny);
    assert_eq!(read("report-bot", PAY, &["read"], 60), Outcome::Deny);
    assert_eq!(read("other-bot", REPORTS, &["read"], 60), Outcome::Deny);
    // A person of that name is not the agent.
    let mut person = task(
        Action::TaskRequest,
        "report-bot",
        REPORTS,
        facts(&["read"], None, 60),
        0,
        false,
    );
    if let Some(p) = person.principal.as_mut() {
        p.kind = "person".into();
    }
    assert_eq!(ask(&set, &person), Outcome::Deny);
}

#[test]
fn the_manual_lets_short_read_only_tasks_start_unattended() {
    let set = manual_set();
    let unattended = |actions: &[&str], lifetime_s| {
        ask(
            &set,
            &task(
                Action::TaskUnattended,
                "report-bot",
                REPORTS,
                facts(actions, None, lifetime_s),
                0,
                false,
            ),
        )
    };
    assert_eq!(unattended(&["read"], 900), Outcome::Allow);
    assert_eq!(unattended(&["read"], 901), Outcome::Deny);
    assert_eq!(unattended(&["read", "write"], 60), Outcome::Deny);
    assert_eq!(unattended(&["write"], 60), Outcome::Deny);
}

#[test]
fn the_manual_lets_pay_bot_ask_only_for_a_person() {
    let set = manual_set();
    let pay = |delegator: Option<&str>, actions: &[&str]| {
        ask(
            &set,
            &task(
                Action::TaskRequest,
                "pay-bot",
                PAY,
                facts(actions, delegator, 300),
                0,
                false,
            ),
        )
    };
    assert_eq!(pay(Some("alice"), &["pay"]), Outcome::Allow);
    assert_eq!(pay(None, &["pay"]), Outcome::Deny, "not on its own");
    assert_eq!(pay(Some("alice"), &["pay", "refund"]), Outcome::Deny);
}

#[test]
fn the_manual_wants_a_tier_3_passkey_to_approve_payments() {
    let set = manual_set();
    let approve = |uri: &str, tier, uv| {
        set.decide(&task(
            Action::TaskApprove,
            "pay-bot",
            uri,
            facts(&["pay"], Some("alice"), 300),
            tier,
            uv,
        ))
    };
    let d = approve(PAY, 2, true);
    assert_eq!(d.outcome, Outcome::Deny, "no step-up for an approval");
    assert_eq!(d.policies, ["payments-tier3-approval"]);
    let d = approve(PAY, 3, true);
    assert_eq!(d.outcome, Outcome::Allow);
    assert_eq!(d.policies, ["keybound:task-approve"]);
    assert_eq!(approve(PAY, 3, false).outcome, Outcome::Deny);
    // Other APIs keep the default.
    assert_eq!(approve(REPORTS, 1, true).outcome, Outcome::Allow);
}

#[test]
fn a_forbid_can_want_tier_3_for_every_approval() {
    let text = r#"@id("approve-tier3") forbid (principal, action == Keybound::Action::"task:approve", resource) when { context.tier < 3 };"#;
    let set = PolicySet::load(&[("tier3.cedar", text)]).unwrap();
    for (tier, want) in [(1, Outcome::Deny), (2, Outcome::Deny), (3, Outcome::Allow)] {
        let r = task(
            Action::TaskApprove,
            "report-bot",
            REPORTS,
            facts(&["read"], Some("alice"), 60),
            tier,
            true,
        );
        assert_eq!(ask(&set, &r), want, "tier {tier}");
    }
}

/// An agent's forward-auth request to the reports app.
fn agent_get(method: &str, grant: Option<TaskGrant>) -> Request {
    Request {
        principal: Some(agent("report-bot")),
        action: Action::Http(method.into()),
        resource: Resource::Route {
            host: "reports.example.test".into(),
            path: "/weekly".into(),
        },
        context: Context {
            tier: 0,
            now_s: 1_800_000_000,
            step_up_window_s: 300,
            task: grant,
            ..Context::default()
        },
    }
}

fn grant(actions: &[&str]) -> TaskGrant {
    TaskGrant {
        id: "task-1".into(),
        actions: actions.iter().map(|a| (*a).to_owned()).collect(),
        delegator: "alice".into(),
        approval_tier: 0,
    }
}

#[test]
fn the_manual_lets_an_agent_read_routes_with_a_read_task() {
    let set = manual_set();
    let d = set.decide(&agent_get("GET", Some(grant(&["read"]))));
    assert_eq!(d.outcome, Outcome::Allow);
    assert_eq!(d.policies, ["reports-agents-read"]);
    assert_eq!(
        ask(&set, &agent_get("HEAD", Some(grant(&["read", "x"])))),
        Outcome::Allow
    );
    assert_eq!(
        set.decide(&agent_get("GET", Some(grant(&["write"]))))
            .outcome,
        Outcome::Deny
    );
    assert_eq!(
        set.decide(&agent_get("POST", Some(grant(&["read"]))))
            .outcome,
        Outcome::Deny
    );
    assert_eq!(
        set.decide(&agent_get("GET", None)).outcome,
        Outcome::Deny,
        "no task, no access"
    );
}

#[test]
fn the_task_grant_carries_every_attribute() {
    let text = r#"@id("all") permit (principal, action == Keybound::Action::"GET", resource)
        when { context has task && context.task.id == "task-1" && context.task.delegator == "alice"
               && context.task.approval_tier == 3 && context.task.actions.contains("read") };"#;
    let set = PolicySet::load(&[("all.cedar", text)]).unwrap();
    let mut g = grant(&["read"]);
    g.approval_tier = 3;
    assert_eq!(
        ask(&set, &agent_get("GET", Some(g.clone()))),
        Outcome::Allow
    );
    for change in [
        |g: &mut TaskGrant| g.id = "task-2".into(),
        |g: &mut TaskGrant| g.delegator = String::new(),
        |g: &mut TaskGrant| g.approval_tier = 2,
        |g: &mut TaskGrant| g.actions = Vec::new(),
    ] {
        let mut other = g.clone();
        change(&mut other);
        assert_ne!(
            set.decide(&agent_get("GET", Some(other.clone()))).outcome,
            Outcome::Allow,
            "{other:?}"
        );
    }
}

#[test]
fn the_task_context_carries_every_attribute() {
    let text = r#"@id("all") permit (principal, action == Keybound::Action::"task:request", resource)
        when { context.actions.contains("read") && context.delegated && context.delegator == "alice"
               && context.owner == "olga" && context.lifetime_s == 60 && context.tier == 0
               && !context.user_verified && context.now_s == 1800000000
               && context has client_ip && context.client_ip.isInRange(ip("192.0.2.0/24")) };"#;
    let set = PolicySet::load(&[("all.cedar", text)]).unwrap();
    let base = || {
        task(
            Action::TaskRequest,
            "report-bot",
            REPORTS,
            facts(&["read"], Some("alice"), 60),
            0,
            false,
        )
    };
    assert_eq!(ask(&set, &base()), Outcome::Allow);
    let changes: [fn(&mut Request); 8] = [
        |r| r.context.client_ip = None,
        |r| r.context.client_ip = Some("not an address".into()),
        |r| r.context.tier = 1,
        |r| r.context.user_verified = true,
        |r| r.context.now_s += 1,
        |r| {
            if let Some(f) = r.context.task_request.as_mut() {
                f.delegator = None;
            }
        },
        |r| {
            if let Some(f) = r.context.task_request.as_mut() {
                f.owner = "alice".into();
            }
        },
        |r| {
            if let Some(f) = r.context.task_request.as_mut() {
                f.lifetime_s = 61;
            }
        },
    ];
    for change in changes {
        let mut r = base();
        change(&mut r);
        assert_eq!(set.decide(&r).outcome, Outcome::Deny, "{r:?}");
    }
}

#[test]
fn task_policies_that_misuse_the_schema_are_refused() {
    for text in [
        // TaskContext has no auth_age_s.
        r#"permit (principal, action == Keybound::Action::"task:request", resource) when { context.auth_age_s < 60 };"#,
        // An unknown attribute.
        r#"permit (principal, action == Keybound::Action::"task:request", resource) when { context.purpose == "x" };"#,
        // The grant has no such attribute.
        r#"permit (principal, action == Keybound::Action::"GET", resource) when { context has task && context.task.scope == "x" };"#,
        // Task actions apply to APIs, which are not routes.
        r#"permit (principal, action == Keybound::Action::"task:request", resource) when { resource.host == "a.test" };"#,
        // Nor do HTTP actions see a TaskContext.
        r#"permit (principal, action == Keybound::Action::"GET", resource) when { context.lifetime_s < 60 };"#,
        // A type error.
        r#"permit (principal, action == Keybound::Action::"task:approve", resource) when { context.tier == "3" };"#,
        r#"permit (principal, action == Keybound::Action::"task:forget", resource);"#,
    ] {
        let e = load_err(text);
        assert!(e.problem.contains("schema"), "{text}: {e}");
    }
}

#[test]
fn api_policies_are_found_by_their_uri() {
    // Many APIs' policies: the index keys them by the Api entity, and
    // decides the same as Cedar over the whole set.
    let mut text = String::new();
    for i in 0..50 {
        text.push_str(&format!(
            "permit (principal, action == Keybound::Action::\"task:request\", resource == Keybound::Api::\"https://api{i}.example.test/\");\n"
        ));
    }
    let set = PolicySet::load(&[("apis.cedar", &text)]).unwrap();
    let ask_for = |uri: &str| {
        ask(
            &set,
            &task(
                Action::TaskRequest,
                "report-bot",
                uri,
                facts(&["read"], None, 60),
                0,
                false,
            ),
        )
    };
    assert_eq!(ask_for("https://api7.example.test/"), Outcome::Allow);
    assert_eq!(ask_for("https://api49.example.test/"), Outcome::Allow);
    assert_eq!(ask_for("https://api50.example.test/"), Outcome::Deny);
    assert_eq!(
        ask_for("https://api7.example.test"),
        Outcome::Deny,
        "the URI as written"
    );
}

#[test]
fn unscoped_policies_apply_to_tasks_and_must_fit_both_contexts() {
    // As the manual warns: an unscoped policy sees the TaskContext too.
    let e = load_err(r#"forbid (principal, action, resource) when { context.auth_age_s > 600 };"#);
    assert!(e.problem.contains("schema"), "{e}");
    let scoped = r#"@id("fresh") forbid (principal, action in Keybound::Action::"http", resource) when { context.auth_age_s > 600 };
@id("tier2") forbid (principal, action, resource) when { context.tier < 2 };
@id("ask") permit (principal, action == Keybound::Action::"task:request", resource);"#;
    let set = PolicySet::load(&[("scoped.cedar", scoped)]).unwrap();
    let r = task(
        Action::TaskRequest,
        "report-bot",
        REPORTS,
        facts(&["read"], None, 60),
        0,
        false,
    );
    let d = set.decide(&r);
    assert_eq!(d.outcome, Outcome::Deny);
    assert_eq!(d.policies, ["tier2"], "the unscoped forbid hits tasks");
}
