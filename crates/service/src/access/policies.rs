//! The loaded policy set behind the seam: held in memory, swapped whole on
//! reload (readers never wait for a load), and each load audited with the
//! set's hash in the transaction that makes it take effect.

use std::sync::Arc;

use arc_swap::ArcSwapOption;
use keybound_audit::Outcome;
use keybound_policy::{Decision, PolicySet};

use super::{AccessAction, AccessDecision, AccessRequest, AccessResource};
use crate::record::Record;
use crate::{ClientContext, EventKind, Service, ServiceError, Tier};

/// The current set.
pub(crate) struct Policies {
    current: ArcSwapOption<PolicySet>,
}

impl Policies {
    /// The defaults alone, until the caller installs the operator's set.
    pub(crate) fn with_defaults() -> Policies {
        Policies {
            current: ArcSwapOption::new(PolicySet::defaults().ok().map(Arc::new)),
        }
    }

    pub(crate) fn current(&self) -> Option<Arc<PolicySet>> {
        self.current.load_full()
    }
}

/// What a policy load was: where the set came from, for the audit record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyLoad {
    /// At start.
    Start,
    /// A change in the policy directory while running.
    Reload,
}

impl PolicyLoad {
    fn as_str(self) -> &'static str {
        match self {
            PolicyLoad::Start => "start",
            PolicyLoad::Reload => "reload",
        }
    }
}

/// The most of a refused load's error the audit record keeps.
const MAX_LOAD_ERROR: usize = 512;

impl Service {
    /// Makes `set` the one every decision uses, after recording it
    /// (`policy.load`, with its hash, files and size) in a transaction of
    /// its own: if the record cannot be written the set does not take
    /// effect and the error says so.
    pub async fn install_policies(
        &self,
        set: PolicySet,
        load: PolicyLoad,
        dir: Option<&str>,
    ) -> Result<(), ServiceError> {
        let mut event = self.event(EventKind::PolicyLoad, &ClientContext::default());
        event.outcome = Some(Outcome::Success);
        event.actor = Some("cli".into());
        event.reason = Some(format!(
            "{}: {} policies from {} files, sha256 {}",
            load.as_str(),
            set.len(),
            set.files().len(),
            set.hash()
        ));
        event.details.insert("hash".into(), set.hash().to_owned());
        event.details.insert("load".into(), load.as_str().into());
        event
            .details
            .insert("policies".into(), set.len().to_string());
        event.details.insert("files".into(), set.files().join(","));
        if let Some(dir) = dir {
            event.details.insert("dir".into(), dir.to_owned());
        }
        let mut tx = self.kernel.store.begin().await?;
        tx.record(event).await?;
        tx.commit().await?;
        self.access.policies.current.store(Some(Arc::new(set)));
        Ok(())
    }

    /// Records that a reload was refused (`policy.load`, failure) and why;
    /// the set in use stays.
    pub async fn record_policy_refused(&self, error: &str) -> Result<(), ServiceError> {
        let mut event = self.event(EventKind::PolicyLoad, &ClientContext::default());
        event.outcome = Some(Outcome::Failure);
        event.actor = Some("cli".into());
        event.reason = Some(error.chars().take(MAX_LOAD_ERROR).collect());
        if let Some(set) = self.access.policies.current() {
            event.details.insert("kept".into(), set.hash().to_owned());
        }
        let mut tx = self.kernel.store.begin().await?;
        tx.record(event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The hash of the set in use.
    pub fn policy_hash(&self) -> Option<String> {
        self.access
            .policies
            .current()
            .map(|set| set.hash().to_owned())
    }
}

/// The seam's request as the policy crate takes it.
pub(crate) fn to_policy(request: &AccessRequest, window_ms: i64) -> keybound_policy::Request {
    use keybound_policy::{Action, Context, Principal, Resource};
    let c = &request.context;
    keybound_policy::Request {
        principal: request.principal.as_ref().map(|p| Principal {
            id: p.id.clone(),
            kind: p.kind.as_str().to_owned(),
            name: p.name.clone(),
            groups: p.groups.clone(),
            status: if p.active { "active" } else { "inactive" }.to_owned(),
        }),
        action: match &request.action {
            AccessAction::Http(method) => Action::Http(method.clone()),
            AccessAction::OidcAuthorize => Action::OidcAuthorize,
            AccessAction::AdminConsole => Action::AdminConsole,
            AccessAction::TaskRequest => Action::TaskRequest,
            AccessAction::TaskUnattended => Action::TaskUnattended,
            AccessAction::TaskApprove => Action::TaskApprove,
        },
        resource: match &request.resource {
            AccessResource::Route { host, path } => Resource::Route {
                host: host.clone(),
                path: path.clone(),
            },
            AccessResource::OidcClient { client_id } => Resource::OidcClient {
                client_id: client_id.clone(),
            },
            AccessResource::Console => Resource::Console,
            AccessResource::Api { uri } => Resource::Api { uri: uri.clone() },
        },
        context: Context {
            tier: c.tier,
            user_verified: c.user_verified,
            auth_age_s: c.auth_age_s,
            client_ip: c.client_ip.clone(),
            now_s: c.now_s,
            backup_met: c.backup_met,
            session_bound: c.session_bound,
            // Whole seconds, rounded down: with the age rounded up
            // (`auth_age_s`), a proof is fresh in Cedar exactly when it is
            // in milliseconds, for a window of whole seconds.
            step_up_window_s: window_ms.div_euclid(1000),
            device: c.device.clone(),
            task: c.task.clone(),
            task_request: c.task_request.clone(),
        },
    }
}

/// Seconds since `proved_ms`, rounded up, so a proof one millisecond past
/// the window is past it in seconds too.
pub(crate) fn age_s(proved_ms: i64, now_ms: i64) -> i64 {
    let ms = now_ms.saturating_sub(proved_ms);
    ms.div_euclid(1000) + i64::from(ms.rem_euclid(1000) != 0)
}

/// Decides `request` over `set` (none: deny), the one function every
/// access decision goes through.
pub(crate) fn decide_with(
    set: Option<&PolicySet>,
    request: &AccessRequest,
    window_ms: i64,
) -> AccessDecision {
    let Some(set) = set else {
        return AccessDecision::Deny {
            policies: Vec::new(),
        };
    };
    from_decision(set.decide(&to_policy(request, window_ms)))
}

/// The seam's answer for `d`. The task actions never get a step-up: the
/// policy crate offers none for them (a task's tier is its approving
/// passkey's, which no sign-in changes).
fn from_decision(d: Decision) -> AccessDecision {
    use keybound_policy::Outcome;
    match d.outcome {
        Outcome::Allow => AccessDecision::Allow {
            policies: d.policies,
        },
        Outcome::SignIn => AccessDecision::SignIn,
        Outcome::StepUp(n) => match Tier::from_number(n) {
            Some(tier) => AccessDecision::StepUp { tier },
            None => AccessDecision::Deny {
                policies: d.policies,
            },
        },
        Outcome::Deny => AccessDecision::Deny {
            policies: d.policies,
        },
    }
}
