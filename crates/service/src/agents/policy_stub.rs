//! TEMPORARY stand-in for h-policy's `agents/policy.rs` (`TaskQuestion`,
//! `decide_approval`), so approval.rs compiles before that branch lands.
//! Deleted at the merge of `h-policy`.

use crate::{AccessPrincipal, Service};

/// What a task decision is asked about (h-policy's contract).
#[allow(dead_code)]
pub(crate) struct TaskQuestion<'a> {
    pub agent: &'a AccessPrincipal,
    pub owner: &'a str,
    pub delegator: Option<&'a str>,
    pub resources: &'a [String],
    pub actions: &'a [String],
    pub lifetime_s: i64,
    pub client_ip: Option<String>,
    pub now_s: i64,
}

impl Service {
    /// The default `keybound:task-approve` policy: user verification.
    pub(crate) fn decide_approval(
        &self,
        _q: &TaskQuestion<'_>,
        _tier: i64,
        user_verified: bool,
    ) -> Result<(), Vec<String>> {
        if user_verified {
            Ok(())
        } else {
            Err(Vec::new())
        }
    }
}
