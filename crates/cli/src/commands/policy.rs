//! `keybound policy check`: asks the policies the server would load (the
//! defaults and `--policy-dir`) about one principal from the database, one
//! action and one resource, and says what they decide and which policies
//! decided it. Read-only: nothing is recorded.
//!
//! Exit status: 0 allowed, 1 an error (unknown name, bad input, invalid
//! policies, no database), 2 denied, 3 allowed only after a step-up.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use keybound_service::policies::Outcome;
use keybound_service::{
    AccessAction, AccessContext, AccessRequest, AccessResource, Operator, ServiceError,
};
use serde::{Deserialize, Serialize};

use crate::app::{self, ServiceSettings};
use crate::output;
use crate::policy_dir;
use crate::settings::{LifetimeSettings, PolicySettings, Sources, StoreSettings};

/// Exit status of a denial.
const DENIED: u8 = 2;
/// Exit status of a step-up.
const STEP_UP: u8 = 3;
/// A task's lifetime when `--context` names none (`--task-default-lifetime`'s
/// default), seconds.
const DEFAULT_TASK_LIFETIME_S: i64 = 900;

/// Check access policies.
#[derive(Args, Debug)]
pub(crate) struct Policy {
    #[command(subcommand)]
    command: PolicyCommand,
}

#[derive(Subcommand, Debug)]
enum PolicyCommand {
    /// Decide one request and explain it: allowed, denied or step-up, and
    /// which policies decided. Exit status 0 allowed, 2 denied, 3 step-up,
    /// 1 an error.
    Check(Check),
}

#[derive(Args, Debug)]
struct Check {
    /// The account name of the principal (looked up in the database).
    #[arg(long)]
    principal: String,
    /// GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, CONNECT, TRACE,
    /// OTHER, oidc:authorize, admin:console, task:request,
    /// task:unattended or task:approve.
    #[arg(long)]
    action: String,
    /// A route as a URL or HOST/PATH (`https://app.example.com/admin`),
    /// `oidc-client:CLIENT_ID`, `console`, or `api:URI` (an API of an
    /// agent's task, for the task actions).
    #[arg(long)]
    resource: String,
    /// The request's circumstances as JSON, each key optional: {"tier": 2,
    /// "user_verified": true, "auth_age_s": 0, "client_ip": "10.0.0.1",
    /// "now_s": 1800000000, "backup_met": true, "session_bound": false}.
    /// Defaults: tier 1, verified, just signed in, no address, now, backup
    /// met, not a device-bound session. The task actions also take
    /// {"actions": ["read"], "delegator": "alice", "owner": "olga",
    /// "lifetime_s": 900} (defaults: none, none, "", 900) and default to
    /// tier 0, not verified.
    #[arg(long, value_name = "JSON")]
    context: Option<String>,
    /// A device name (`dev-…`): the request is asked as if proven on it,
    /// with its trust and posture as the server would see them now
    /// (`context.device`). Without it the context has no device.
    #[arg(long, value_name = "NAME")]
    device: Option<String>,
    /// Print JSON instead of a sentence.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    store: StoreSettings,
    #[command(flatten)]
    policy: PolicySettings,
    #[command(flatten)]
    lifetimes: LifetimeSettings,
}

/// `--context` as given.
#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
struct GivenContext {
    tier: Option<i64>,
    user_verified: Option<bool>,
    auth_age_s: Option<i64>,
    client_ip: Option<String>,
    now_s: Option<i64>,
    backup_met: Option<bool>,
    session_bound: Option<bool>,
    actions: Option<Vec<String>>,
    delegator: Option<String>,
    owner: Option<String>,
    lifetime_s: Option<i64>,
}

/// What `--json` prints.
#[derive(Serialize)]
struct Report<'a> {
    decision: &'static str,
    step_up_tier: Option<i64>,
    policies: &'a [String],
    errors: &'a [String],
    explanation: String,
    policy_set: &'a str,
}

impl Policy {
    /// Runs the subcommand.
    pub(crate) async fn run(self, sources: &Sources) -> Result<ExitCode, String> {
        match self.command {
            PolicyCommand::Check(check) => check.run(sources).await,
        }
    }
}

fn action(name: &str) -> Result<AccessAction, String> {
    match keybound_service::policies::Action::parse(name) {
        Some(keybound_service::policies::Action::Http(method)) => Ok(AccessAction::Http(method)),
        Some(keybound_service::policies::Action::OidcAuthorize) => Ok(AccessAction::OidcAuthorize),
        Some(keybound_service::policies::Action::AdminConsole) => Ok(AccessAction::AdminConsole),
        Some(keybound_service::policies::Action::TaskRequest) => Ok(AccessAction::TaskRequest),
        Some(keybound_service::policies::Action::TaskUnattended) => {
            Ok(AccessAction::TaskUnattended)
        }
        Some(keybound_service::policies::Action::TaskApprove) => Ok(AccessAction::TaskApprove),
        None => Err(format!(
            "unknown action '{name}': one of {}, OTHER, oidc:authorize, admin:console, task:request, task:unattended, task:approve",
            keybound_service::policies::HTTP_METHODS.join(", ")
        )),
    }
}

fn resource(text: &str) -> Result<AccessResource, String> {
    if text == "console" {
        return Ok(AccessResource::Console);
    }
    if let Some(uri) = text.strip_prefix("api:") {
        if uri.is_empty() || uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("api: needs the API's URI".into());
        }
        return Ok(AccessResource::Api {
            uri: uri.to_owned(),
        });
    }
    if let Some(client_id) = text.strip_prefix("oidc-client:") {
        if client_id.is_empty() {
            return Err("oidc-client: needs a client_id".into());
        }
        return Ok(AccessResource::OidcClient {
            client_id: client_id.to_owned(),
        });
    }
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"))
        .unwrap_or(text);
    let (host, path) = match rest.find('/') {
        Some(at) => rest.split_at(at),
        None => (rest, "/"),
    };
    let path = path.split(['?', '#']).next().unwrap_or("/");
    if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "resource '{text}': a route as https://HOST/PATH or HOST/PATH, oidc-client:CLIENT_ID, console, or api:URI"
        ));
    }
    Ok(AccessResource::Route {
        host: host.to_ascii_lowercase(),
        path: if path.is_empty() { "/" } else { path }.to_owned(),
    })
}

/// The context for `action`: a task action's defaults are an agent's
/// request (tier 0, not verified) and it takes the task's facts, which
/// other actions refuse.
fn context(json: Option<&str>, now_s: i64, action: &AccessAction) -> Result<AccessContext, String> {
    let given: GivenContext = match json {
        Some(text) => serde_json::from_str(text).map_err(|e| format!("--context: {e}"))?,
        None => GivenContext::default(),
    };
    let task = matches!(
        action,
        AccessAction::TaskRequest | AccessAction::TaskUnattended | AccessAction::TaskApprove
    );
    let facts = given.actions.is_some()
        || given.delegator.is_some()
        || given.owner.is_some()
        || given.lifetime_s.is_some();
    if facts && !task {
        return Err(
            "--context: actions, delegator, owner and lifetime_s are for the task actions".into(),
        );
    }
    let task_request = task.then(|| keybound_service::policies::TaskFacts {
        actions: given.actions.unwrap_or_default(),
        delegator: given.delegator,
        owner: given.owner.unwrap_or_default(),
        lifetime_s: given.lifetime_s.unwrap_or(DEFAULT_TASK_LIFETIME_S),
    });
    Ok(AccessContext {
        tier: given.tier.unwrap_or(if task { 0 } else { 1 }),
        user_verified: given.user_verified.unwrap_or(!task),
        auth_age_s: given.auth_age_s.unwrap_or(0),
        client_ip: given.client_ip,
        now_s: given.now_s.unwrap_or(now_s),
        backup_met: given.backup_met.unwrap_or(true),
        session_bound: given.session_bound.unwrap_or(false),
        device: None,
        task: None,
        task_request,
    })
}

impl Check {
    async fn run(self, sources: &Sources) -> Result<ExitCode, String> {
        // The input first: a typo is told before the database is opened.
        let action = action(&self.action)?;
        let resource = resource(&self.resource)?;
        let now_s = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let context = context(self.context.as_deref(), now_s, &action)?;
        let policy = sources.resolve(self.policy)?;
        let set = policy_dir::load(policy.dir())?;
        let settings = ServiceSettings {
            store: sources.resolve(self.store)?,
            lifetimes: sources.resolve(self.lifetimes)?,
            ..ServiceSettings::default()
        };
        let service = app::existing_service(&settings).await?;
        let operator = Operator::local("cli");
        let principal = match service
            .access_principal((&operator).into(), &self.principal)
            .await
        {
            Ok(p) => p,
            Err(ServiceError::NotFound) => {
                return Err(format!("no identity named '{}'", self.principal))
            }
            Err(e) => return Err(e.to_string()),
        };
        let mut context = context;
        if let Some(name) = &self.device {
            context.device = match service.access_device((&operator).into(), name).await {
                Ok(d) => Some(d),
                Err(ServiceError::NotFound) => {
                    return Err(format!(
                        "no device named '{name}' that is trusted or untrusted"
                    ))
                }
                Err(e) => return Err(e.to_string()),
            };
        }
        let request = AccessRequest {
            principal: Some(principal),
            action,
            resource,
            context,
        };
        let decision = service.explain(&set, &request);
        let (word, tier, code) = match decision.outcome {
            Outcome::Allow => ("allow", None, ExitCode::SUCCESS),
            Outcome::StepUp(t) => ("step_up", Some(t), ExitCode::from(STEP_UP)),
            Outcome::SignIn => ("sign_in", None, ExitCode::from(DENIED)),
            Outcome::Deny => ("deny", None, ExitCode::from(DENIED)),
        };
        if self.json {
            let report = Report {
                decision: word,
                step_up_tier: tier,
                policies: &decision.policies,
                errors: &decision.errors,
                explanation: decision.explain(),
                policy_set: set.hash(),
            };
            output::write_out(&format!("{}\n", output::json(&report)?))?;
        } else {
            output::write_out(&format!(
                "{}\npolicy set: sha256 {} ({} policies)\n",
                keybound_service::names::text::escape(&decision.explain()),
                set.hash(),
                set.len()
            ))?;
        }
        Ok(code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_parse_and_nonsense_is_refused() {
        assert_eq!(
            resource("https://App.Example.com/admin/x?y=1").unwrap(),
            AccessResource::Route {
                host: "app.example.com".into(),
                path: "/admin/x".into()
            }
        );
        assert_eq!(
            resource("app.test").unwrap(),
            AccessResource::Route {
                host: "app.test".into(),
                path: "/".into()
            }
        );
        assert_eq!(resource("console").unwrap(), AccessResource::Console);
        assert_eq!(
            resource("api:https://api.example.test/").unwrap(),
            AccessResource::Api {
                uri: "https://api.example.test/".into()
            }
        );
        assert!(resource("api:").is_err());
        assert!(resource("api:https://a b/").is_err());
        assert!(resource("oidc-client:").is_err());
        assert!(resource("").is_err());
        assert!(resource("https:///x").is_err());
        assert!(resource("a b/c").is_err());
    }

    #[test]
    fn actions_and_contexts_are_checked() {
        assert!(action("GET").is_ok());
        assert!(action("FETCH").unwrap_err().contains("unknown action"));
        let get = AccessAction::Http("GET".into());
        assert!(context(Some("{\"tier\": 2}"), 0, &get).is_ok());
        assert!(context(Some("{\"tier\": \"2\"}"), 0, &get).is_err());
        assert!(context(Some("{\"tierr\": 2}"), 0, &get).is_err());
        assert!(context(Some("not json"), 0, &get).is_err());
        assert!(
            context(Some("{\"actions\": [\"read\"]}"), 0, &get).is_err(),
            "task facts only for the task actions"
        );
    }

    #[test]
    fn task_actions_parse_and_take_the_task_facts() {
        assert_eq!(action("task:request").unwrap(), AccessAction::TaskRequest);
        assert_eq!(
            action("task:unattended").unwrap(),
            AccessAction::TaskUnattended
        );
        assert_eq!(action("task:approve").unwrap(), AccessAction::TaskApprove);
        let c = context(
            Some("{\"actions\": [\"read\"], \"delegator\": \"alice\", \"owner\": \"olga\"}"),
            5,
            &AccessAction::TaskRequest,
        )
        .unwrap();
        assert_eq!((c.tier, c.user_verified, c.now_s), (0, false, 5));
        assert_eq!(
            c.task_request,
            Some(keybound_service::policies::TaskFacts {
                actions: vec!["read".into()],
                delegator: Some("alice".into()),
                owner: "olga".into(),
                lifetime_s: DEFAULT_TASK_LIFETIME_S,
            })
        );
        let c = context(
            Some("{\"tier\": 3, \"user_verified\": true, \"lifetime_s\": 60}"),
            0,
            &AccessAction::TaskApprove,
        )
        .unwrap();
        assert_eq!((c.tier, c.user_verified), (3, true));
        assert_eq!(c.task_request.map(|f| f.lifetime_s), Some(60));
        let c = context(None, 0, &AccessAction::Http("GET".into())).unwrap();
        assert_eq!(c.task_request, None);
        assert_eq!((c.tier, c.user_verified), (1, true));
    }
}
