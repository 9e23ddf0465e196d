//! What operators see of the use cases: every audit event, once its
//! transaction has committed, becomes one log line (target
//! `keybound::audit`) and a few counters. This is the one seam every use
//! case passes through (each records its outcome, or its refusal with the
//! reason, as an audit event), so no use case logs on its own. The store's
//! writer calls it once the batch commits, inside the span the use case
//! committed in, so the line carries the HTTP request's span (request id,
//! route), also when the client went away before the commit returned.
//!
//! A line holds the event's kind, outcome, reason, severity, sequence
//! number, actor and subject (names, never secrets) and at most the first
//! [`CREDENTIAL_PREFIX`] characters of a credential id. Events with a
//! severity of warning or above, and alerts, are logged at `warn`; the rest
//! at `info`. Metric labels come from the service's own tables (event
//! kinds, refusal reasons, detector names), never from client input:
//! anything else is counted as `other`.

use keybound_audit::{AuditEvent, Outcome, Severity};
use keybound_store::CommitObserver;

use crate::EventKind;

/// Characters of a credential id a log line shows: enough to tell keys
/// apart in a log, too few to name one anywhere else.
pub const CREDENTIAL_PREFIX: usize = 8;

/// Audit events committed, by `kind` and `outcome` (a counter).
pub const AUDIT_EVENTS_METRIC: &str = "keybound_audit_events_total";
/// Registration and authentication ceremonies finished, by `ceremony` and
/// `outcome` (`success`, `failure`) (a counter).
pub const CEREMONIES_METRIC: &str = "keybound_ceremonies_total";
/// Refusals recorded, by event `kind` and `reason` (a counter).
pub const REFUSALS_METRIC: &str = "keybound_refusals_total";
/// Alerts the detectors raised, by `detector` (a counter).
pub const ALERTS_METRIC: &str = "keybound_alerts_total";
/// Events of severity warning or high, by `kind` and `severity` (a
/// counter).
pub const FLAGGED_METRIC: &str = "keybound_audit_flagged_total";

/// Logs and counts committed audit events (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct AuditObserver;

impl CommitObserver for AuditObserver {
    fn committed(&self, events: &[AuditEvent]) {
        for event in events {
            log(event);
            count(event);
        }
    }
}

/// The first [`CREDENTIAL_PREFIX`] characters of a credential id.
fn credential_prefix(id: &str) -> String {
    id.chars().take(CREDENTIAL_PREFIX).collect()
}

fn outcome_name(outcome: Option<Outcome>) -> &'static str {
    match outcome {
        Some(Outcome::Success) => "success",
        Some(Outcome::Failure) => "failure",
        Some(Outcome::Alert) => "alert",
        None => "none",
    }
}

fn severity_name(severity: Option<Severity>) -> &'static str {
    match severity {
        Some(Severity::Info) => "info",
        Some(Severity::Warning) => "warning",
        Some(Severity::High) => "high",
        None => "none",
    }
}

/// Whether the event calls for an operator's attention.
fn flagged(event: &AuditEvent) -> bool {
    event.event.severity >= Some(Severity::Warning) || event.event.outcome == Some(Outcome::Alert)
}

/// One line per event, in the caller's span.
fn log(sealed: &AuditEvent) {
    let e = &sealed.event;
    let credential = e.credential_id.as_deref().map(credential_prefix);
    macro_rules! line {
        ($level:ident) => {
            tracing::$level!(
                target: "keybound::audit",
                seq = sealed.seq,
                kind = %e.kind,
                outcome = outcome_name(e.outcome),
                reason = e.reason.as_deref(),
                severity = severity_name(e.severity),
                actor = e.actor.as_deref(),
                subject = e.subject.as_deref(),
                credential = credential.as_deref(),
                "audit event"
            )
        };
    }
    if flagged(sealed) {
        line!(warn);
    } else {
        line!(info);
    }
    // The request that made a ceremony succeed now has an identity.
    if e.outcome == Some(Outcome::Success)
        && (e.kind == EventKind::Registration.as_str()
            || e.kind == EventKind::Authentication.as_str())
    {
        if let Some(subject) = &e.subject {
            tracing::Span::current().record("identity", subject.as_str());
        }
    }
}

/// A kind from the service's table, an alert named by its detector, or
/// `other`.
fn kind_label(kind: &str) -> &'static str {
    EventKind::ALL
        .iter()
        .map(|k| k.as_str())
        .find(|k| *k == kind)
        .unwrap_or(if kind.starts_with("alert.") {
            "alert"
        } else {
            "other"
        })
}

/// A detector's name as the service names it (`alert.<detector>`),
/// `device_returned` for the alert a decommissioned device raises, or
/// `other`.
fn detector_label(kind: &str) -> String {
    match kind.strip_prefix("alert.") {
        Some(detector) if is_stable_name(detector) => detector.to_owned(),
        _ if kind == EventKind::DeviceReturned.as_str() => "device_returned".to_owned(),
        _ => "other".to_owned(),
    }
}

/// A refusal reason as the service's tables name it (`snake_case`, the
/// part before any `: detail`), or `other` (free text, numbers).
fn reason_label(reason: Option<&str>) -> String {
    let Some(reason) = reason else {
        return "none".to_owned();
    };
    let name = reason.split(':').next().unwrap_or_default();
    if is_stable_name(name) {
        name.to_owned()
    } else {
        "other".to_owned()
    }
}

/// `snake_case`, at most 48 bytes: how [`crate::Refusal`], the WebAuthn
/// core's reasons and detector names are spelled; free text is not.
fn is_stable_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 48
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn count(sealed: &AuditEvent) {
    let e = &sealed.event;
    let kind = kind_label(&e.kind);
    let outcome = outcome_name(e.outcome);
    metrics::counter!(AUDIT_EVENTS_METRIC, "kind" => kind, "outcome" => outcome).increment(1);
    if kind == EventKind::Registration.as_str() || kind == EventKind::Authentication.as_str() {
        metrics::counter!(CEREMONIES_METRIC, "ceremony" => kind, "outcome" => outcome).increment(1);
    }
    if e.outcome == Some(Outcome::Failure) {
        let reason = reason_label(e.reason.as_deref());
        metrics::counter!(REFUSALS_METRIC, "kind" => kind, "reason" => reason).increment(1);
    }
    if e.outcome == Some(Outcome::Alert) {
        metrics::counter!(ALERTS_METRIC, "detector" => detector_label(&e.kind)).increment(1);
    }
    if flagged(sealed) {
        let severity = severity_name(e.severity);
        metrics::counter!(FLAGGED_METRIC, "kind" => kind, "severity" => severity).increment(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_come_from_the_tables_only() {
        assert_eq!(kind_label("authentication"), "authentication");
        assert_eq!(kind_label("alert.burst"), "alert");
        assert_eq!(kind_label("ada's kind"), "other");
        assert_eq!(
            detector_label("alert.failures_across_accounts"),
            "failures_across_accounts"
        );
        assert_eq!(detector_label("alert.Ada Lovelace"), "other");
        assert_eq!(detector_label("device.returned"), "device_returned");
        assert_eq!(
            reason_label(Some("unknown_credential")),
            "unknown_credential"
        );
        assert_eq!(
            reason_label(Some("metadata_expired: next update 2020")),
            "metadata_expired"
        );
        assert_eq!(
            reason_label(Some("no active identity of that name")),
            "other"
        );
        assert_eq!(reason_label(Some(&"a".repeat(49))), "other");
        assert_eq!(reason_label(None), "none");
    }

    #[test]
    fn a_credential_shows_only_its_prefix() {
        assert_eq!(credential_prefix("AAECAwQFBgcICQoLDA0ODw"), "AAECAwQF");
        assert_eq!(credential_prefix("é"), "é");
    }
}
