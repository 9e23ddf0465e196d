//! Agents' tasks as policy sees them (issue 18): the facts of a task
//! request or approval (`TaskContext`, for the actions `task:request`,
//! `task:unattended` and `task:approve` on a `Keybound::Api`), and the
//! task an agent's token carries on a forward-auth request
//! (`context.task`, a `TaskGrant`).
//!
//! Every attribute is always present in the records built here, so a
//! policy needs no `has` check beyond `context has task` (and
//! `context has client_ip`).

use cedar_policy::RestrictedExpression;

/// The task an agent's DPoP-bound token was issued for, on a forward-auth
/// request it makes (`context.task`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TaskGrant {
    /// The task's id.
    pub id: String,
    /// The actions (scopes) the token carries.
    pub actions: Vec<String>,
    /// The account the agent acts for; `""` when it acts on its own.
    pub delegator: String,
    /// The tier of the passkey that approved the task; `0` when it started
    /// unattended.
    pub approval_tier: i64,
}

/// The facts of an agent's task request that are neither the agent (the
/// principal) nor the API (the resource): with the request context's
/// `tier`, `user_verified`, `now_s` and `client_ip` they make Cedar's
/// `TaskContext`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TaskFacts {
    /// The actions (scopes) asked for.
    pub actions: Vec<String>,
    /// The account the agent acts for, `None` when it acts on its own.
    pub delegator: Option<String>,
    /// The agent's owner's account name.
    pub owner: String,
    /// The lifetime asked for, seconds.
    pub lifetime_s: i64,
}

fn string(s: &str) -> RestrictedExpression {
    RestrictedExpression::new_string(s.to_owned())
}

fn strings(list: &[String]) -> RestrictedExpression {
    RestrictedExpression::new_set(list.iter().map(|s| string(s)))
}

/// `context.task` for `grant`.
pub(crate) fn grant_record(grant: &TaskGrant) -> Result<RestrictedExpression, String> {
    RestrictedExpression::new_record([
        ("id".to_owned(), string(&grant.id)),
        ("actions".to_owned(), strings(&grant.actions)),
        ("delegator".to_owned(), string(&grant.delegator)),
        (
            "approval_tier".to_owned(),
            RestrictedExpression::new_long(grant.approval_tier),
        ),
    ])
    .map_err(|e| e.to_string())
}

/// The `TaskContext` pairs for `facts` (the rest come from the request
/// context).
pub(crate) fn facts_pairs(facts: &TaskFacts) -> Vec<(String, RestrictedExpression)> {
    let delegator = facts.delegator.as_deref().unwrap_or("");
    vec![
        ("actions".to_owned(), strings(&facts.actions)),
        (
            "delegated".to_owned(),
            RestrictedExpression::new_bool(facts.delegator.is_some()),
        ),
        ("delegator".to_owned(), string(delegator)),
        ("owner".to_owned(), string(&facts.owner)),
        (
            "lifetime_s".to_owned(),
            RestrictedExpression::new_long(facts.lifetime_s),
        ),
    ]
}
