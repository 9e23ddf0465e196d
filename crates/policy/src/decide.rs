//! Deciding: Cedar over the indexed policies, then the answer keybound
//! acts on (allow, sign in, step up, deny) with the policies that decided.

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
    /// a forbid denied the request outright whatever the tier.
    pub fn decide(&self, request: &Request) -> Decision {
        if request.principal.is_none() {
            return Decision {
                outcome: Outcome::SignIn,
                policies: Vec::new(),
                errors: Vec::new(),
            };
        }
        let first = self.evaluate(request, true);
        if first.outcome == Outcome::Allow {
            return first;
        }
        let mut asked = request.clone();
        asked.context.auth_age_s = 0;
        for tier in request.context.tier.max(1)..=TOP_TIER {
            asked.context.tier = tier;
            if self.evaluate(&asked, true).outcome == Outcome::Allow {
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
        if request.principal.is_none() {
            return Decision {
                outcome: Outcome::SignIn,
                policies: Vec::new(),
                errors: Vec::new(),
            };
        }
        self.evaluate(request, false)
    }

    fn evaluate(&self, request: &Request, indexed: bool) -> Decision {
        let Some(principal) = &request.principal else {
            return Decision::denied(Vec::new());
        };
        let action = self.types.action_uid(&request.action);
        let (resource, parent) = self.types.resource(&request.resource);
        let built = match self.inputs(request, principal) {
            Ok(built) => built,
            Err(e) => return Decision::denied(vec![e]),
        };
        let (principal_uid, entities, context) = built;
        let cedar_request = match cedar_policy::Request::new(
            principal_uid,
            action.clone(),
            resource.clone(),
            context,
            None,
        ) {
            Ok(r) => r,
            Err(e) => return Decision::denied(vec![e.to_string()]),
        };
        let authorizer = Authorizer::new();
        let response = if indexed {
            let name = request.action.cedar_id();
            match self.index.select(name, &resource, parent.as_ref()) {
                Some(selected) => authorizer.is_authorized(&cedar_request, &selected, &entities),
                None => return Decision::denied(Vec::new()),
            }
        } else {
            authorizer.is_authorized(&cedar_request, &self.all, &entities)
        };
        from_response(&response)
    }

    fn inputs(
        &self,
        request: &Request,
        principal: &request::Principal,
    ) -> Result<(EntityUid, cedar_policy::Entities, cedar_policy::Context), String> {
        let (uid, entities) =
            request::entities(&self.types, &self.actions, principal, &request.resource)?;
        let context = request::context(&request.context)?;
        Ok((uid, entities, context))
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
