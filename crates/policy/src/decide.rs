//! Deciding: Cedar over the indexed policies, then the answer keybound
//! acts on (allow, sign in, step up, deny) with the policies that decided.

use std::borrow::Cow;
use std::fmt;

use cedar_policy::{Authorizer, Decision as CedarDecision, EntityUid, Response};

use crate::request::{self, Request};
use crate::PolicySet;

/// What the request may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Allowed.
    Allow,
    /// No live session: sign in first.
    SignIn,
    /// Allowed after a sign-in proving at least this tier now.
    StepUp(i64),
    /// Denied; no step-up would change it.
    Deny,
}

/// A decision and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The answer.
    pub outcome: Outcome,
    /// Ids of the policies that decided: the permits that allowed, or the
    /// forbids that denied (empty for the default deny), sorted.
    pub policies: Vec<String>,
    /// Policies that failed to evaluate (skipped, as Cedar does), with why.
    pub errors: Vec<String>,
}

impl Decision {
    fn denied(errors: Vec<String>) -> Decision {
        Decision {
            outcome: Outcome::Deny,
            policies: Vec::new(),
            errors,
        }
    }

    fn sign_in() -> Decision {
        Decision {
            outcome: Outcome::SignIn,
            policies: Vec::new(),
            errors: Vec::new(),
        }
    }

    /// One line for people: the answer and the deciding policies.
    pub fn explain(&self) -> String {
        let answer = match self.outcome {
            Outcome::Allow => "allowed".to_owned(),
            Outcome::SignIn => "sign in first (no session)".to_owned(),
            Outcome::StepUp(tier) => format!("step up: allowed after a sign-in at tier {tier} now"),
            Outcome::Deny => "denied".to_owned(),
        };
        let why = match (self.outcome, self.policies.is_empty()) {
            (Outcome::Deny, true) => " (no policy permits it: default deny)".to_owned(),
            (_, true) => String::new(),
            (Outcome::Allow, false) => format!(" (permitted by {})", self.policies.join(", ")),
            (_, false) => format!(" (forbidden by {})", self.policies.join(", ")),
        };
        let errors = if self.errors.is_empty() {
            String::new()
        } else {
            format!(
                "; policies that failed to evaluate: {}",
                self.errors.join("; ")
            )
        };
        format!("{answer}{why}{errors}")
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.explain())
    }
}

/// The highest tier there is; a step-up is looked for up to it.
const TOP_TIER: i64 = 3;

impl PolicySet {
    /// Decides `request` from memory over the policies that could apply.
    /// Without a principal the answer is [`Outcome::SignIn`]. A signed-in
    /// request that is denied is asked again as if its session had proved
    /// each tier from its own (at least 1) to 3 just now (`auth_age_s` 0):
    /// the first that would be allowed is the answer's step-up tier, unless
    /// a forbid denied the request outright whatever the tier. The task
    /// actions are never answered with a step-up. The
    /// entities and the policies are prepared once for all these asks.
    pub fn decide(&self, request: &Request) -> Decision {
        let prepared = match self.prepare(request, true) {
            Ok(Some(prepared)) => prepared,
            Ok(None) => return Decision::sign_in(),
            Err(e) => return Decision::denied(vec![e]),
        };
        let first = prepared.ask(&request.context);
        // A task's tier is the approving passkey's, not a session's: no
        // sign-in now would change it, so no step-up is offered.
        if first.outcome == Outcome::Allow || request.action.is_task() {
            return first;
        }
        let mut asked = request.context.clone();
        asked.auth_age_s = 0;
        for tier in request.context.tier.max(1)..=TOP_TIER {
            asked.tier = tier;
            if asked == request.context {
                continue; // the question already answered
            }
            if prepared.ask(&asked).outcome == Outcome::Allow {
                return Decision {
                    outcome: Outcome::StepUp(tier),
                    ..first
                };
            }
        }
        first
    }

    /// Cedar's answer over the whole set, not the index: what the index
    /// must always agree with (tests and benchmarks compare the two).
    pub fn decide_unindexed(&self, request: &Request) -> Decision {
        match self.prepare(request, false) {
            Ok(Some(prepared)) => prepared.ask(&request.context),
            Ok(None) => Decision::sign_in(),
            Err(e) => Decision::denied(vec![e]),
        }
    }

    /// The entities, uids and policies for `request` (none without a
    /// principal).
    fn prepare(&self, request: &Request, indexed: bool) -> Result<Option<Prepared<'_>>, String> {
        let Some(principal) = &request.principal else {
            return Ok(None);
        };
        let action = self.types.action_uid(&request.action);
        let (resource, parent) = self.types.resource(&request.resource);
        let (principal_uid, entities) =
            request::entities(&self.types, &self.actions, principal, &request.resource)?;
        let policies = if indexed {
            self.index
                .select(request.action.cedar_id(), &resource, parent.as_ref())
        } else {
            Some(Cow::Borrowed(&self.all))
        };
        Ok(Some(Prepared {
            principal: principal_uid,
            kind: request.action.clone(),
            action,
            resource,
            entities,
            policies,
        }))
    }
}

/// One request's inputs, ready to be asked under several contexts.
struct Prepared<'a> {
    principal: EntityUid,
    /// The action asked (which context Cedar is given).
    kind: request::Action,
    action: EntityUid,
    resource: EntityUid,
    entities: cedar_policy::Entities,
    /// `None`: no policy could apply (the default deny).
    policies: Option<Cow<'a, cedar_policy::PolicySet>>,
}

impl Prepared<'_> {
    fn ask(&self, context: &request::Context) -> Decision {
        let Some(policies) = &self.policies else {
            return Decision::denied(Vec::new());
        };
        let context = match request::context(context, &self.kind) {
            Ok(c) => c,
            Err(e) => return Decision::denied(vec![e]),
        };
        let cedar_request = match cedar_policy::Request::new(
            self.principal.clone(),
            self.action.clone(),
            self.resource.clone(),
            context,
            None,
        ) {
            Ok(r) => r,
            Err(e) => return Decision::denied(vec![e.to_string()]),
        };
        from_response(&Authorizer::new().is_authorized(&cedar_request, policies, &self.entities))
    }
}

fn from_response(response: &Response) -> Decision {
    let mut policies: Vec<String> = response
        .diagnostics()
        .reason()
        .map(|id| id.to_string())
        .collect();
    policies.sort();
    let errors = response
        .diagnostics()
        .errors()
        .map(|e| e.to_string())
        .collect();
    Decision {
        outcome: match response.decision() {
            CedarDecision::Allow => Outcome::Allow,
            CedarDecision::Deny => Outcome::Deny,
        },
        policies,
        errors,
    }
}
