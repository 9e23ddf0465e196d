//! What Cedar says about a task (issue 18): whether the agent may ask for
//! it (`task:request`), whether it may start without a person
//! (`task:unattended`), and whether a person's approval counts
//! (`task:approve`). Each is asked once per API of the task, the principal
//! the agent, the resource `Keybound::Api::"URI"`, and every API must be
//! permitted: a task is as narrow as its most guarded API.
//!
//! From memory, like every decision of the seam (`Service::decide`): the
//! callers ask inside their own use case and record what follows.

// The callers (tasks.rs, approval.rs) land from other branches of issue
// 18; until then only the tests use this module.
#![allow(dead_code)]

use keybound_policy::TaskFacts;

use crate::{AccessAction, AccessContext, AccessDecision, AccessPrincipal, AccessRequest};
use crate::{AccessResource, Service};

/// A task as policy is asked about it.
#[derive(Debug, Clone)]
pub(crate) struct TaskQuestion<'a> {
    /// The agent (an identity of kind `agent`).
    pub(crate) agent: &'a AccessPrincipal,
    /// The agent's owner's account name.
    pub(crate) owner: &'a str,
    /// The person the agent acts for, `None` when it acts on its own.
    pub(crate) delegator: Option<&'a str>,
    /// The APIs (resource URIs) asked for.
    pub(crate) resources: &'a [String],
    /// The actions (scopes) asked for.
    pub(crate) actions: &'a [String],
    /// The lifetime asked for, seconds.
    pub(crate) lifetime_s: i64,
    /// The address of the agent (at a request) or of the person (at an
    /// approval), when known.
    pub(crate) client_ip: Option<String>,
    /// Now, seconds since the epoch.
    pub(crate) now_s: i64,
}

/// What policy says of a task request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TaskVerdict {
    /// `task:request` was not permitted on `resource` (the first such API):
    /// the policies that forbade it, empty for the default deny.
    Refused {
        /// The API refused.
        resource: String,
        /// Ids of the forbidding policies.
        policies: Vec<String>,
    },
    /// Permitted, and `task:unattended` on every API: active at once.
    Unattended,
    /// Permitted, but a person must approve it.
    NeedsApproval,
}

impl Service {
    /// `task:request` on every API of the task, then `task:unattended` on
    /// every API. A task naming no API is refused: there is nothing policy
    /// could have permitted.
    pub(crate) fn decide_task(&self, q: &TaskQuestion<'_>) -> TaskVerdict {
        if q.resources.is_empty() {
            return TaskVerdict::Refused {
                resource: String::new(),
                policies: Vec::new(),
            };
        }
        for resource in q.resources {
            if let Err(policies) =
                self.task_permitted(q, AccessAction::TaskRequest, resource, 0, false)
            {
                return TaskVerdict::Refused {
                    resource: resource.clone(),
                    policies,
                };
            }
        }
        let unattended = q.resources.iter().all(|resource| {
            self.task_permitted(q, AccessAction::TaskUnattended, resource, 0, false)
                .is_ok()
        });
        if unattended {
            TaskVerdict::Unattended
        } else {
            TaskVerdict::NeedsApproval
        }
    }

    /// `task:approve` on every API of the task, with the approving
    /// passkey's `tier` and whether it verified the user; the error holds
    /// the forbidding policies of the first API refused (empty for the
    /// default deny, or a task naming no API).
    pub(crate) fn decide_approval(
        &self,
        q: &TaskQuestion<'_>,
        tier: i64,
        user_verified: bool,
    ) -> Result<(), Vec<String>> {
        if q.resources.is_empty() {
            return Err(Vec::new());
        }
        for resource in q.resources {
            self.task_permitted(q, AccessAction::TaskApprove, resource, tier, user_verified)?;
        }
        Ok(())
    }

    /// One task action on one API: `Ok` when permitted, else the deciding
    /// policies. A step-up is never an answer here (the seam turns one
    /// into a denial for the task actions).
    fn task_permitted(
        &self,
        q: &TaskQuestion<'_>,
        action: AccessAction,
        resource: &str,
        tier: i64,
        user_verified: bool,
    ) -> Result<(), Vec<String>> {
        let request = AccessRequest {
            principal: Some(q.agent.clone()),
            action,
            resource: AccessResource::Api {
                uri: resource.to_owned(),
            },
            context: AccessContext {
                tier,
                user_verified,
                auth_age_s: 0,
                client_ip: q.client_ip.clone(),
                now_s: q.now_s,
                backup_met: false,
                session_bound: false,
                device: None,
                task: None,
                task_request: Some(TaskFacts {
                    actions: q.actions.to_vec(),
                    delegator: q.delegator.map(str::to_owned),
                    owner: q.owner.to_owned(),
                    lifetime_s: q.lifetime_s,
                }),
            },
        };
        match self.decide(&request) {
            AccessDecision::Allow { .. } => Ok(()),
            AccessDecision::Deny { policies } => Err(policies),
            AccessDecision::SignIn | AccessDecision::StepUp { .. } => Err(Vec::new()),
        }
    }
}

#[cfg(test)]
mod tests;
