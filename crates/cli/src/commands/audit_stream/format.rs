//! What a stream sends: each event as the JSON line `audit export` writes
//! (so the SIEM's copy carries seq, prev_hash and hash and can be checked
//! like an export), wrapped in an RFC 5424 syslog message or an
//! OpenTelemetry log record.

use keybound_audit::{AuditEvent, Outcome, Severity};
use serde_json::{json, Value};

use crate::commands::audit::{json_line, word};

/// The syslog facility: authpriv (10), for security messages that may
/// name people (RFC 5424 §6.2.1).
const FACILITY_AUTHPRIV: u8 = 10;

/// The structured-data ID: `keybound` under an enterprise number. 32473 is
/// the number RFC 5612 reserves for documentation; a deployment that
/// needs its own can filter on the SD name, which is what SIEMs key on.
const SD_ID: &str = "keybound@32473";

/// How urgent an event is, on the syslog scale (RFC 5424 §6.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Level {
    /// 1: an alert of high severity: act now.
    Alert,
    /// 2: high severity, or an alert without one.
    Critical,
    /// 4: a warning.
    Warning,
    /// 5: a refusal (failure outcome).
    Notice,
    /// 6: everything else.
    Info,
}

impl Level {
    /// The event's level: its severity first, then its outcome.
    pub(crate) fn of(event: &AuditEvent) -> Level {
        let alert = event.event.outcome == Some(Outcome::Alert);
        match (event.event.severity, alert) {
            (Some(Severity::High), true) => Level::Alert,
            (Some(Severity::High), false) | (None, true) => Level::Critical,
            (Some(Severity::Warning), _) => Level::Warning,
            _ if event.event.outcome == Some(Outcome::Failure) => Level::Notice,
            (Some(Severity::Info), true) => Level::Critical,
            _ => Level::Info,
        }
    }

    /// The syslog severity number.
    pub(crate) fn syslog(self) -> u8 {
        match self {
            Level::Alert => 1,
            Level::Critical => 2,
            Level::Warning => 4,
            Level::Notice => 5,
            Level::Info => 6,
        }
    }

    /// The OpenTelemetry severity number and text (logs data model:
    /// FATAL 21, ERROR 17, WARN 13, INFO2 10, INFO 9).
    fn otel(self) -> (u8, &'static str) {
        match self {
            Level::Alert => (21, "FATAL"),
            Level::Critical => (17, "ERROR"),
            Level::Warning => (13, "WARN"),
            Level::Notice => (10, "INFO2"),
            Level::Info => (9, "INFO"),
        }
    }
}

/// An SD-PARAM value escaped as RFC 5424 §6.3.3 requires: `"`, `\` and
/// `]` preceded by a backslash.
pub(crate) fn sd_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `text` as a header field: printable US-ASCII (33–126), at most `max`
/// characters, or the NILVALUE `-` when nothing is left.
pub(crate) fn header_field(text: &str, max: usize) -> String {
    let kept: String = text
        .chars()
        .filter(|c| matches!(*c as u32, 33..=126))
        .take(max)
        .collect();
    if kept.is_empty() {
        "-".into()
    } else {
        kept
    }
}

/// The event time as RFC 3339 UTC with milliseconds (RFC 5424 §6.2.3).
fn timestamp(ms: i64) -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| "-".into())
}

/// One event as an RFC 5424 message:
/// `<PRI>1 TIMESTAMP HOSTNAME keybound - KIND [keybound@32473 seq="N" hash="…"] JSON`.
/// APP-NAME `keybound`, no PROCID, MSGID the event kind (as printable
/// ASCII, at most 32 characters), MSG the export line.
pub(crate) fn syslog_message(event: &AuditEvent, hostname: &str) -> Result<String, String> {
    let pri = u16::from(FACILITY_AUTHPRIV) * 8 + u16::from(Level::of(event).syslog());
    Ok(format!(
        "<{pri}>1 {} {} keybound - {} [{SD_ID} seq=\"{}\" hash=\"{}\"] {}",
        timestamp(event.event.time_ms),
        header_field(hostname, 255),
        header_field(&event.event.kind, 32),
        event.seq,
        sd_escape(&event.hash),
        json_line(event)?
    ))
}

/// A page of events as one OTLP/HTTP JSON request body
/// (`ExportLogsServiceRequest`): one resource (`service.name` keybound),
/// one scope, a log record per event whose body is the export line.
/// 64-bit integers are strings, as the OTLP JSON encoding writes them.
pub(crate) fn otlp_body(events: &[AuditEvent], hostname: &str) -> Result<Value, String> {
    let mut records = Vec::with_capacity(events.len());
    for e in events {
        let (number, text) = Level::of(e).otel();
        let nanos = i128::from(e.event.time_ms) * 1_000_000;
        let outcome = word(&e.event.outcome);
        records.push(json!({
            "timeUnixNano": nanos.max(0).to_string(),
            "severityNumber": number,
            "severityText": text,
            "body": { "stringValue": json_line(e)? },
            "attributes": [
                { "key": "keybound.seq", "value": { "intValue": e.seq.to_string() } },
                { "key": "keybound.kind", "value": { "stringValue": e.event.kind } },
                { "key": "keybound.outcome", "value": { "stringValue": outcome } },
                { "key": "keybound.hash", "value": { "stringValue": e.hash } },
            ],
        }));
    }
    Ok(json!({
        "resourceLogs": [{
            "resource": { "attributes": [
                { "key": "service.name", "value": { "stringValue": "keybound" } },
                { "key": "host.name", "value": { "stringValue": hostname } },
            ]},
            "scopeLogs": [{
                "scope": { "name": "keybound.audit" },
                "logRecords": records,
            }],
        }],
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use keybound_audit::NewEvent;

    fn event(severity: Option<Severity>, outcome: Option<Outcome>) -> AuditEvent {
        AuditEvent {
            seq: 7,
            event: NewEvent {
                time_ms: 1_764_000_000_123,
                kind: "authentication".into(),
                severity,
                outcome,
                ..NewEvent::default()
            },
            prev_hash: "00".into(),
            hash: "ab\"]\\".into(),
        }
    }

    #[test]
    fn levels_follow_severity_then_outcome() {
        let level = |s, o| Level::of(&event(s, o)).syslog();
        assert_eq!(level(Some(Severity::High), Some(Outcome::Alert)), 1);
        assert_eq!(level(Some(Severity::High), Some(Outcome::Success)), 2);
        assert_eq!(level(None, Some(Outcome::Alert)), 2);
        assert_eq!(level(Some(Severity::Warning), Some(Outcome::Failure)), 4);
        assert_eq!(level(None, Some(Outcome::Failure)), 5);
        assert_eq!(level(None, Some(Outcome::Success)), 6);
        assert_eq!(level(Some(Severity::Info), None), 6);
    }

    #[test]
    fn a_syslog_message_is_rfc_5424_with_escaped_sd_and_the_export_line() {
        let mut e = event(None, Some(Outcome::Failure));
        e.event.kind = "a kind\twith spaces and more than thirty-two characters".into();
        let line = syslog_message(&e, "host name").unwrap();
        let json = json_line(&e).unwrap();
        assert_eq!(
            line,
            format!(
                "<85>1 2025-11-24T16:00:00.123Z hostname keybound - \
                 akindwithspacesandmorethanthirty [keybound@32473 seq=\"7\" \
                 hash=\"ab\\\"\\]\\\\\"] {json}"
            )
        );
        assert_eq!(header_field("\u{7f}\u{e9} ", 8), "-");
    }

    #[test]
    fn an_otlp_body_carries_the_export_line_and_attributes() {
        let e = event(Some(Severity::High), Some(Outcome::Alert));
        let body = otlp_body(std::slice::from_ref(&e), "h").unwrap();
        let record = &body["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0];
        assert_eq!(record["timeUnixNano"], "1764000000123000000");
        assert_eq!(record["severityNumber"], 21);
        assert_eq!(record["body"]["stringValue"], json_line(&e).unwrap());
        assert_eq!(record["attributes"][0]["value"]["intValue"], "7");
        assert_eq!(record["attributes"][2]["value"]["stringValue"], "alert");
    }
}
