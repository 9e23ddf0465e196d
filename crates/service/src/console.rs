//! What the admin console may do and see. Every console request is checked
//! here: the session's owner must be an active administrator, signed in at
//! tier 2 or above within the step-up window. Console actions then run as
//! the ordinary use cases with that administrator as the actor.

use keybound_audit::{AuditEvent, Outcome};
use keybound_store::{AuditQuery, Identity, MAX_AUDIT_PAGE};

use crate::account::STEP_UP_WINDOW_MS;
use crate::{Service, ServiceError};

/// The tier an administrator's session needs.
pub const ADMIN_MIN_TIER: i64 = 2;

/// Which audit events the console shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Events about this identity (subject) or by it (actor).
    pub identity: Option<String>,
    /// Events whose kind starts with this (`registration`, `admin.`).
    pub kind: Option<String>,
    /// `success`, `failure` or `alert`.
    pub outcome: Option<Outcome>,
    /// Events at or after this time, ms.
    pub since_ms: Option<i64>,
    /// Events older than this sequence number: [`AuditPage::older`] of the
    /// page before, to page back through the log.
    pub before_seq: Option<u64>,
    /// At most this many, newest first (at least 1, fewer than
    /// [`MAX_AUDIT_PAGE`]).
    pub limit: usize,
}

/// One page of the audit log, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditPage {
    /// The events.
    pub events: Vec<AuditEvent>,
    /// When older events match the filter too: the `before_seq` that shows
    /// them.
    pub older: Option<u64>,
}

/// `30s`, `30m`, `24h`, `7d` in milliseconds: how far back an audit view
/// (console or `keybound audit alerts --since`) looks.
pub fn duration_ms(text: &str) -> Option<i64> {
    let (number, unit) = text.split_at(text.len().checked_sub(1)?);
    let n: i64 = number.parse().ok()?;
    let unit_ms = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    n.checked_mul(unit_ms).filter(|ms| *ms >= 0)
}

impl Service {
    /// The administrator behind a console request. Not an admin:
    /// [`ServiceError::Forbidden`]; an admin whose session is below tier 2
    /// or older than the step-up window: [`ServiceError::StepUpRequired`].
    pub async fn console_admin(&self, session_token: &str) -> Result<Identity, ServiceError> {
        let mut tx = self.store.begin().await?;
        let (session, identity) = self.signed_in(&mut tx, session_token).await?;
        if !identity.is_admin {
            return Err(ServiceError::Forbidden);
        }
        let fresh = self.now_ms().saturating_sub(session.created_ms) <= STEP_UP_WINDOW_MS;
        if session.tier < ADMIN_MIN_TIER || !fresh {
            return Err(ServiceError::StepUpRequired);
        }
        Ok(identity)
    }

    /// A page of audit events for the console, newest first: one indexed
    /// query, so the cost of a view does not grow with the chain.
    pub async fn audit_view(&self, filter: &AuditFilter) -> Result<AuditPage, ServiceError> {
        let limit = filter.limit.clamp(1, MAX_AUDIT_PAGE - 1);
        let query = AuditQuery {
            identity: filter.identity.clone(),
            kind_prefix: filter.kind.clone(),
            outcome: filter.outcome,
            since_ms: filter.since_ms,
            before_seq: filter.before_seq,
            // One more than shown: whether an older page exists.
            limit: limit + 1,
        };
        let mut events = self.store.audit_page(&query).await?;
        let older = if events.len() > limit {
            events.truncate(limit);
            events.last().map(|e| e.seq)
        } else {
            None
        };
        Ok(AuditPage { events, older })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(duration_ms("30s"), Some(30_000));
        assert_eq!(duration_ms("24h"), Some(86_400_000));
        assert_eq!(duration_ms("7d"), Some(604_800_000));
        for bad in ["", "h", "soon", "-1h", "1w", "9999999999999999d"] {
            assert_eq!(duration_ms(bad), None, "{bad}");
        }
    }
}
