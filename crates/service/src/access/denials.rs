//! Recording denials without flooding the chain: a busy app whose users
//! keep hitting a forbidden route would otherwise append an event per
//! request. Each (principal, resource, action) is recorded at most once a
//! minute, and the memory that remembers it is bounded.

use std::collections::HashMap;
use std::sync::Mutex;

use keybound_audit::Outcome;

use super::{AccessAction, AccessDecision, AccessRequest, AccessResource};
use crate::record::Record;
use crate::{ClientContext, EventKind, Service, ServiceError};

/// How long one key's denial stays recorded before the next is, ms.
pub(crate) const DENIAL_INTERVAL_MS: i64 = 60_000;
/// The most keys remembered; when all are recent, further new keys are
/// not recorded until some age out (a flood of distinct keys is itself
/// the flood this prevents).
pub(crate) const MAX_DENIAL_KEYS: usize = 10_000;

/// The most of a resource name (host and path) kept.
const MAX_RESOURCE_CHARS: usize = 256;

/// When each key was last recorded.
#[derive(Default)]
pub(crate) struct Denials {
    last: Mutex<HashMap<String, i64>>,
}

impl Denials {
    /// Whether a denial for `key` at `now_ms` is to be recorded (and if
    /// so, remembers it).
    fn admit(&self, key: String, now_ms: i64) -> bool {
        // A poisoned lock only means another request panicked mid-update;
        // the map is still a map.
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(at) = last.get(&key) {
            if now_ms.saturating_sub(*at) < DENIAL_INTERVAL_MS {
                return false;
            }
        }
        if last.len() >= MAX_DENIAL_KEYS && !last.contains_key(&key) {
            last.retain(|_, at| now_ms.saturating_sub(*at) < DENIAL_INTERVAL_MS);
            if last.len() >= MAX_DENIAL_KEYS {
                return false;
            }
        }
        last.insert(key, now_ms);
        true
    }
}

fn action_name(action: &AccessAction) -> String {
    match action {
        AccessAction::Http(method) => method.to_ascii_uppercase(),
        AccessAction::OidcAuthorize => "oidc:authorize".into(),
        AccessAction::AdminConsole => "admin:console".into(),
        AccessAction::TaskRequest => "task:request".into(),
        AccessAction::TaskUnattended => "task:unattended".into(),
        AccessAction::TaskApprove => "task:approve".into(),
    }
}

fn resource_name(resource: &AccessResource) -> String {
    match resource {
        AccessResource::Route { host, path } => format!("{host}{path}"),
        AccessResource::OidcClient { client_id } => format!("oidc client {client_id}"),
        AccessResource::Console => "console".into(),
        AccessResource::Api { uri } => format!("api {uri}"),
    }
}

impl Service {
    /// Records that the seam turned `request` away (`access.denied`, with
    /// the decision and its policies), at most once a minute per
    /// principal, resource and action. Callers (forward-auth, OIDC) call it
    /// after a [`AccessDecision::Deny`] (or any refusal they act on);
    /// `Ok(false)` means it was within the limit and not recorded.
    pub async fn record_denial(
        &self,
        request: &AccessRequest,
        decision: &AccessDecision,
        ctx: &ClientContext,
    ) -> Result<bool, ServiceError> {
        let who = request
            .principal
            .as_ref()
            .map_or_else(|| "-".to_owned(), |p| p.id.clone());
        let action = action_name(&request.action);
        // Client text (a path can be kilobytes): bounded in the key and
        // the record.
        let resource: String = resource_name(&request.resource)
            .chars()
            .take(MAX_RESOURCE_CHARS)
            .collect();
        let key = format!("{who}\u{0}{resource}\u{0}{action}");
        if !self.access.denials.admit(key, self.now_ms()) {
            return Ok(false);
        }
        let (answer, policies) = match decision {
            AccessDecision::Allow { policies } => ("allow", policies.join(",")),
            AccessDecision::SignIn => ("sign_in", String::new()),
            AccessDecision::StepUp { tier } => ("step_up", format!("tier {tier}")),
            AccessDecision::Deny { policies } => ("deny", policies.join(",")),
        };
        let mut event = self.event(EventKind::AccessDenied, ctx);
        event.outcome = Some(Outcome::Failure);
        event.subject = request
            .principal
            .as_ref()
            .map(|p| keybound_names::for_audit(&p.name));
        event.reason = Some(format!("{answer}: {action} {resource}"));
        event.details.insert("decision".into(), answer.into());
        event.details.insert("action".into(), action);
        event.details.insert("resource".into(), resource);
        event.details.insert(
            "policies".into(),
            if policies.is_empty() && answer == "deny" {
                "default deny".into()
            } else {
                policies
            },
        );
        if let Some(hash) = self.policy_hash() {
            event.details.insert("policy_set".into(), hash);
        }
        let mut tx = self.kernel.store.begin().await?;
        tx.record(event).await?;
        tx.commit().await?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_admitted_once_a_minute_and_the_map_is_bounded() {
        let d = Denials::default();
        assert!(d.admit("a".into(), 0));
        assert!(!d.admit("a".into(), DENIAL_INTERVAL_MS - 1));
        assert!(d.admit("b".into(), 1), "another key is its own");
        assert!(d.admit("a".into(), DENIAL_INTERVAL_MS));
        for i in 0..MAX_DENIAL_KEYS {
            d.admit(format!("k{i}"), 2 * DENIAL_INTERVAL_MS);
        }
        assert!(
            !d.admit("new".into(), 2 * DENIAL_INTERVAL_MS),
            "full of recent keys"
        );
        assert!(d.last.lock().unwrap().len() <= MAX_DENIAL_KEYS);
        assert!(
            d.admit("new".into(), 3 * DENIAL_INTERVAL_MS),
            "old keys age out and make room"
        );
    }
}
