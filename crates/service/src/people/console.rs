//! What the admin console may do and see. Every console request is checked
//! here: the session's owner must be an active administrator, signed in at
//! tier 2 or above within the step-up window. Console actions then run as
//! the ordinary use cases with that administrator as the actor.

use crate::record::Record;
use crate::EventKind;
use keybound_audit::{AuditEvent, Outcome};
use keybound_store::{AuditQuery, MAX_AUDIT_PAGE};

use crate::{policy, Actor, Admin, ClientContext, Service, ServiceError};

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
/// The text is the client's (a query parameter): it is split at a
/// character, never at a byte offset, so any text is an answer, not a panic.
pub fn duration_ms(text: &str) -> Option<i64> {
    let unit = text.chars().next_back()?;
    let number = text.strip_suffix(unit)?;
    let unit_ms = match unit {
        's' => 1_000,
        'm' => 60_000,
        'h' => 3_600_000,
        'd' => 86_400_000,
        _ => return None,
    };
    let n: i64 = number.parse().ok()?;
    n.checked_mul(unit_ms).filter(|ms| *ms >= 0)
}

impl Service {
    /// The authorization seam for administration: the [`Admin`] behind a
    /// console request, made only here, by the admin rule as the loaded
    /// policy set decides it ([`Service::decide`], action
    /// `admin:console`; [`policy::admin_rule`] is the same rule over the
    /// defaults alone). Not an
    /// admin: [`ServiceError::Forbidden`]; an admin whose session is below
    /// the console's tier or older than the step-up window:
    /// [`ServiceError::StepUpRequired`]. A signed-in person turned away is
    /// audited (a session that is not live is not: anyone can send a
    /// cookie).
    pub async fn authorize_admin(
        &self,
        session_token: &str,
        ctx: &ClientContext,
    ) -> Result<Admin, ServiceError> {
        let mut tx = self.kernel.store.read().await?;
        let (session, identity) = self.signed_in(&mut tx, session_token).await?;
        // The device the session was proven on, so an operator may forbid
        // the console from anything but a trusted device.
        let (device, _) = crate::posture::session_device(
            &mut tx,
            &session.credential_id,
            self.now_ms(),
            self.config.posture_max_age_ms,
        )
        .await?;
        drop(tx);
        let principal = crate::AccessPrincipal {
            id: identity.id.clone(),
            kind: identity.kind,
            name: identity.name.clone(),
            groups: vec![policy::group_of(identity.is_admin).to_owned()],
            active: identity.status == crate::IdentityStatus::Active,
        };
        let mut request = policy::console_request(
            principal,
            session.tier,
            session.user_verified,
            session.created_ms,
            self.now_ms(),
            ctx.ip.clone(),
        );
        request.context.device = device;
        let verdict =
            policy::admin_verdict(identity.is_admin, session.tier, &self.decide(&request));
        let (error, reason) = match verdict {
            Ok(()) => return Ok(Admin::admitted(identity, session.tier, session.created_ms)),
            Err(refused) => refused,
        };
        let mut event = self.event(EventKind::AdminConsole, ctx);
        event.actor = Some(identity.name.clone());
        event.credential_id = Some(keybound_webauthn::b64::encode(&session.credential_id));
        if error == ServiceError::Forbidden {
            event.severity = Some(keybound_audit::Severity::Warning);
        }
        match self.record_refusal(event, reason, None).await {
            ServiceError::Rejected(_) => Err(error),
            internal => Err(internal),
        }
    }

    /// Records this node's start and the settings that decide what it
    /// accepts, so a weakened configuration (open registration switched
    /// on, a lower minimum tier, fewer recovery approvals...) is on the
    /// record from the moment it took effect. `node` adds what the service
    /// does not know (listener, durability, trusted proxies).
    pub async fn record_start(&self, node: &[(&str, String)]) -> Result<(), ServiceError> {
        let c = &self.config;
        let p = &c.policy;
        let mut settings: Vec<(&str, String)> = vec![
            ("rp_id", c.rp_id.clone()),
            ("origins", format!("{:?}", c.origins.origins())),
            ("open_registration", c.open_registration.to_string()),
            ("registration_min_tier", p.registration_min_tier.to_string()),
            (
                "group_min_tier",
                format!(
                    "{:?}",
                    p.group_min_tier
                        .iter()
                        .map(|(group, tier)| (group, tier.number()))
                        .collect::<std::collections::BTreeMap<_, _>>()
                ),
            ),
            (
                "require_user_verification",
                p.require_user_verification.to_string(),
            ),
            (
                "tier2_requires_attestation",
                p.tier2_requires_attestation.to_string(),
            ),
            ("attestation", format!("{:?}", p.attestation)),
            ("aaguid_allow", format!("{:?}", p.aaguid_allow)),
            ("aaguid_deny", format!("{:?}", p.aaguid_deny)),
            ("mds_root", c.mds_root.is_some().to_string()),
            ("attestation_roots", c.attestation_roots.len().to_string()),
            ("min_credentials", p.min_credentials.to_string()),
            ("recovery_approvals", c.recovery.approvals.to_string()),
            ("recovery_wait_ms", c.recovery.wait_ms.to_string()),
            (
                "rate_limit_per_source",
                c.rate_limits.per_source.to_string(),
            ),
            (
                "rate_limit_per_identity",
                c.rate_limits.per_identity.to_string(),
            ),
            ("challenge_ttl_ms", c.challenge_ttl_ms.to_string()),
            ("session_ttl_ms", c.session_ttl_ms.to_string()),
            ("invitation_ttl_ms", c.invitation_ttl_ms.to_string()),
            ("step_up_window_ms", c.step_up_window_ms.to_string()),
        ];
        settings.extend(node.iter().cloned());
        let mut event = self.event(EventKind::ServerStart, &ClientContext::default());
        event.outcome = Some(Outcome::Success);
        event.reason = Some(
            settings
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; "),
        );
        let mut tx = self.kernel.store.begin().await?;
        tx.record(event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records that `admin` looked at the audit log, and with which
    /// filter: who read what is part of the record.
    pub async fn note_audit_view(
        &self,
        admin: &Admin,
        filter: &AuditFilter,
        ctx: &ClientContext,
    ) -> Result<(), ServiceError> {
        let mut event = self.event(EventKind::AuditView, ctx);
        event.actor = Some(admin.name.clone());
        event.subject = filter.identity.as_deref().map(keybound_names::for_audit);
        event.outcome = Some(Outcome::Success);
        event.reason = Some(format!(
            "kind {:?}, outcome {:?}, since {:?}, limit {}",
            filter
                .kind
                .as_deref()
                .map_or_else(|| "any".to_owned(), keybound_names::for_audit),
            filter.outcome,
            filter.since_ms,
            filter.limit
        ));
        let mut tx = self.kernel.store.begin().await?;
        tx.record(event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A page of audit events for the console, newest first: one indexed
    /// query, so the cost of a view does not grow with the chain.
    pub async fn audit_view(
        &self,
        _viewer: Actor<'_>,
        filter: &AuditFilter,
    ) -> Result<AuditPage, ServiceError> {
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
        let mut events = self.kernel.store.audit_page(&query).await?;
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

    /// Issue 12 item 18: a multi-byte last character panicked in
    /// `split_at`. Every short string over a mix of ASCII and multi-byte
    /// characters is now an answer.
    #[test]
    fn durations_never_panic_on_multibyte_text() {
        for bad in [
            "1é",
            "é",
            "1\u{10ffff}",
            "\u{301}",
            "1h\u{301}",
            "1\u{200b}h",
            "１h",
        ] {
            assert_eq!(duration_ms(bad), None, "{bad:?}");
        }
        let alphabet = ['1', '9', 'h', 'd', '-', 'é', '€', '\u{10348}', '\u{301}'];
        let mut text = String::new();
        for a in alphabet {
            for b in alphabet {
                for c in alphabet {
                    text.clear();
                    text.extend([a, b, c]);
                    let _ = duration_ms(&text);
                }
            }
        }
        assert_eq!(duration_ms("99h"), Some(99 * 3_600_000));
    }
}
