//! The rules that decide who may do what, in one place. Access (the admin
//! console, apps, OIDC clients) is decided by Cedar policies behind the one
//! seam ([`crate::Service::decide`]); the rules here that are not access
//! decisions (the backup rule, a new key's group minimum tier) stay code.
//! Use cases ask these functions; none of them compares tiers or ages on
//! its own.

use crate::{Policy, Refusal, ServiceError, Tier};

/// The tier an administrator's session needs for the console.
pub const ADMIN_MIN_TIER: Tier = Tier::DeviceBound;

/// The default of how recent a sign-in must be for actions that weaken an
/// account or administer others (`Config::step_up_window_ms`,
/// `--step-up-window`).
pub const STEP_UP_WINDOW_MS: i64 = 5 * 60 * 1000;

/// Whether a proof made at `proved_ms` is still fresh at `now_ms`, for a
/// step-up window of `window_ms`.
pub fn fresh(proved_ms: i64, now_ms: i64, window_ms: i64) -> bool {
    now_ms.saturating_sub(proved_ms) <= window_ms
}

/// The admin rule: an active administrator, signed in at
/// [`ADMIN_MIN_TIER`] or above, within the step-up window `window_ms`,
/// decided by the default Cedar policy (`keybound:admin-console`) as every
/// console request is ([`crate::Service::authorize_admin`] asks the loaded
/// set, which holds it and the operator's forbids). `Err` gives what the
/// client is told and the reason the audit log records.
pub fn admin_rule(
    is_admin: bool,
    session_tier: i64,
    proved_ms: i64,
    now_ms: i64,
    window_ms: i64,
) -> Result<(), (ServiceError, Refusal)> {
    let principal = crate::AccessPrincipal {
        id: String::new(),
        kind: crate::IdentityKind::Person,
        name: String::new(),
        groups: vec![group_of(is_admin).to_owned()],
        active: true,
    };
    let request = console_request(principal, session_tier, false, proved_ms, now_ms, None);
    let decision = crate::access::decide_with(defaults(), &request, window_ms);
    admin_verdict(is_admin, session_tier, &decision)
}

/// The default policies, loaded once for [`admin_rule`].
fn defaults() -> Option<&'static keybound_policy::PolicySet> {
    static DEFAULTS: std::sync::OnceLock<Option<keybound_policy::PolicySet>> =
        std::sync::OnceLock::new();
    DEFAULTS
        .get_or_init(|| keybound_policy::PolicySet::defaults().ok())
        .as_ref()
}

/// The seam's question for a console request by `principal`, whose session
/// proved `tier` at `proved_ms`.
pub(crate) fn console_request(
    principal: crate::AccessPrincipal,
    tier: i64,
    user_verified: bool,
    proved_ms: i64,
    now_ms: i64,
    client_ip: Option<String>,
) -> crate::AccessRequest {
    crate::AccessRequest {
        principal: Some(principal),
        action: crate::AccessAction::AdminConsole,
        resource: crate::AccessResource::Console,
        context: crate::AccessContext {
            tier,
            user_verified,
            auth_age_s: crate::access::age_s(proved_ms, now_ms),
            client_ip,
            now_s: now_ms.div_euclid(1000),
            backup_met: true,
            // The console reads no bound cookie itself: the server's gate
            // already turned a bound session without one away.
            session_bound: false,
            device: None,
            task: None,
            task_request: None,
        },
    }
}

/// What the seam's answer on the console means for the request: the admin
/// role is a floor no policy lowers (operator policies may only forbid the
/// console); a step-up is a tier too low when the session is below the
/// tier asked for, else a proof too old; a forbid is its own reason.
pub(crate) fn admin_verdict(
    is_admin: bool,
    session_tier: i64,
    decision: &crate::AccessDecision,
) -> Result<(), (ServiceError, Refusal)> {
    use crate::AccessDecision as D;
    if !is_admin {
        return Err((ServiceError::Forbidden, Refusal::NotAdmin));
    }
    match decision {
        D::Allow { .. } => Ok(()),
        D::StepUp { tier } if !tier.reached_by(session_tier) => {
            Err((ServiceError::StepUpRequired, Refusal::SessionTierTooLow))
        }
        D::StepUp { .. } => Err((ServiceError::StepUpRequired, Refusal::SessionNotFresh)),
        D::Deny { policies } if policies.is_empty() => {
            Err((ServiceError::Forbidden, Refusal::NotAdmin))
        }
        D::Deny { .. } | D::SignIn => Err((ServiceError::Forbidden, Refusal::PolicyForbids)),
    }
}

/// Whether an administrator holds a credential that can reach the console.
pub fn reaches_console(credential_tiers: impl IntoIterator<Item = i64>) -> bool {
    credential_tiers
        .into_iter()
        .any(|t| ADMIN_MIN_TIER.reached_by(t))
}

/// The group an identity's minimum tier is looked up under.
pub fn group_of(is_admin: bool) -> &'static str {
    if is_admin {
        "admin"
    } else {
        "user"
    }
}

/// The lowest tier a new key of this identity's group must earn, if the
/// policy sets one.
pub fn group_min_tier(policy: &Policy, is_admin: bool) -> Option<Tier> {
    policy.group_min_tier.get(group_of(is_admin)).copied()
}

/// The backup rule: fewer active credentials than the minimum means one
/// loss locks the person out.
pub fn lacks_backup(policy: &Policy, active_credentials: usize) -> bool {
    active_credentials < policy.min_credentials
}

/// Revoking one of `active_credentials` would leave the person at or below
/// the backup minimum (or with none): it needs a fresh sign-in and an
/// explicit confirmation.
pub fn revoke_needs_care(policy: &Policy, active_credentials: usize) -> bool {
    active_credentials <= policy.min_credentials.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_admin_rule_wants_role_tier_and_recency() {
        let now = 10 * STEP_UP_WINDOW_MS;
        let w = STEP_UP_WINDOW_MS;
        assert!(admin_rule(true, 2, now, now, w).is_ok());
        assert!(admin_rule(true, 3, now - STEP_UP_WINDOW_MS, now, w).is_ok());
        assert_eq!(
            admin_rule(false, 3, now, now, w).unwrap_err().1,
            Refusal::NotAdmin
        );
        assert_eq!(
            admin_rule(true, 1, now, now, w).unwrap_err().1,
            Refusal::SessionTierTooLow
        );
        assert_eq!(
            admin_rule(true, 2, now - STEP_UP_WINDOW_MS - 1, now, w).unwrap_err(),
            (ServiceError::StepUpRequired, Refusal::SessionNotFresh)
        );
        // A shorter window set by the operator is the one that counts.
        assert_eq!(
            admin_rule(true, 2, now - 61_000, now, 60_000).unwrap_err(),
            (ServiceError::StepUpRequired, Refusal::SessionNotFresh)
        );
        assert!(admin_rule(true, 2, now - 60_000, now, 60_000).is_ok());
    }

    #[test]
    fn the_backup_rule_counts_active_credentials() {
        let policy = Policy::default();
        assert!(lacks_backup(&policy, 1));
        assert!(!lacks_backup(&policy, 2));
        assert!(revoke_needs_care(&policy, 2));
        assert!(!revoke_needs_care(&policy, 3));
        let one = Policy {
            min_credentials: 0,
            ..Policy::default()
        };
        assert!(revoke_needs_care(&one, 1), "the last one always needs care");
    }
}
