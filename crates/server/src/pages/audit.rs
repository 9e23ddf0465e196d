//! The audit log in the console: filters (a kind picker of the event kinds
//! the server records), newest first, paged back by sequence number. Each
//! view is itself audited.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use keybound_service::{AuditFilter, Outcome};
use maud::html;

use super::admin::nav;
use super::guard::AdminPage;
use super::text::Shown;
use super::{date, layout};
use crate::reply::from_service;
use crate::AppState;

/// Events on one page of the audit log unless the query asks for fewer
/// (or more, up to [`MAX_AUDIT_LIMIT`]).
const AUDIT_LIMIT: usize = 200;
/// The most events one page shows.
const MAX_AUDIT_LIMIT: usize = 500;

#[derive(serde::Deserialize, serde::Serialize, Default, Clone)]
pub(super) struct AuditQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    identity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    outcome: Option<String>,
    /// `30m`, `24h`, `7d`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    since: Option<String>,
    /// The cursor: events older than this sequence number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    before: Option<String>,
    /// Events per page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    limit: Option<String>,
}

impl AuditQuery {
    /// The filter this query asks for at `now_ms`. What does not parse is
    /// no filter (an empty field, an unknown outcome, a garbled cursor).
    fn filter(&self, now_ms: i64) -> AuditFilter {
        let nonempty = |v: &Option<String>| v.clone().filter(|s| !s.trim().is_empty());
        AuditFilter {
            identity: nonempty(&self.identity),
            kind: nonempty(&self.kind),
            outcome: match self.outcome.as_deref() {
                Some("success") => Some(Outcome::Success),
                Some("failure") => Some(Outcome::Failure),
                Some("alert") => Some(Outcome::Alert),
                _ => None,
            },
            since_ms: self
                .since
                .as_deref()
                .and_then(keybound_service::duration_ms)
                .map(|ms| now_ms.saturating_sub(ms)),
            before_seq: self.before.as_deref().and_then(|b| b.parse().ok()),
            limit: self
                .limit
                .as_deref()
                .and_then(|l| l.parse::<usize>().ok())
                .map_or(AUDIT_LIMIT, |l| l.clamp(1, MAX_AUDIT_LIMIT)),
        }
    }

    /// The link to the page of events older than `seq`, same filters.
    fn older(&self, seq: u64) -> String {
        let next = AuditQuery {
            before: Some(seq.to_string()),
            ..self.clone()
        };
        format!(
            "/admin/audit?{}",
            serde_urlencoded::to_string(&next).unwrap_or_default()
        )
    }
}

/// What the kind picker offers: every kind the server records, and the
/// groups their dotted names form (a group filters by prefix).
fn kind_choices() -> Vec<(String, String)> {
    let kinds = keybound_service::EventKind::ALL.iter().map(|k| k.as_str());
    let mut groups: Vec<String> = kinds
        .clone()
        .filter_map(|k| k.split_once('.').map(|(group, _)| format!("{group}.")))
        .collect();
    groups.sort();
    groups.dedup();
    let mut choices: Vec<(String, String)> = groups
        .into_iter()
        .map(|g| (g.clone(), format!("{g}* (all)")))
        .collect();
    let mut kinds: Vec<&str> = kinds.collect();
    kinds.sort_unstable();
    choices.extend(kinds.into_iter().map(|k| (k.to_owned(), k.to_owned())));
    choices
}

pub(super) async fn audit(
    State(state): State<AppState>,
    Query(query): Query<AuditQuery>,
    AdminPage { me, ctx }: AdminPage,
) -> Response {
    let now = keybound_service::Clock::now_ms(&keybound_service::SystemClock);
    let filter = query.filter(now);
    if let Err(e) = state.service.note_audit_view(&me, &filter, &ctx).await {
        return from_service(&e);
    }
    let page = match state.service.audit_view((&me).into(), &filter).await {
        Ok(page) => page,
        Err(e) => return from_service(&e),
    };
    let events = &page.events;
    let value = |v: &Option<String>| v.clone().unwrap_or_default();
    layout(
        "Audit log",
        "admin-audit",
        None,
        html! {
            (nav("/admin/audit"))
            form.inline-form #audit-filter method="get" action="/admin/audit" {
                label { "Identity " input name="identity" type="text" value=(value(&query.identity)); }
                label { "Kind "
                    select name="kind" {
                        option value="" { "any" }
                        @let current = value(&query.kind);
                        @if !current.is_empty() && !kind_choices().iter().any(|(v, _)| *v == current) {
                            // A link may filter on a kind this list lacks
                            // (a prefix of its own): keep it, marked.
                            option value=(current) selected { (Shown(&current)) " (from the link)" }
                        }
                        optgroup label="Groups" {
                            @for (v, label) in kind_choices().iter().filter(|(v, _)| v.ends_with('.')) {
                                option value=(v) selected[*v == current] { (label) }
                            }
                        }
                        optgroup label="Kinds" {
                            @for (v, label) in kind_choices().iter().filter(|(v, _)| !v.ends_with('.')) {
                                option value=(v) selected[*v == current] { (label) }
                            }
                        }
                    }
                }
                label { "Outcome "
                    select name="outcome" {
                        option value="" { "any" }
                        @for o in ["success", "failure", "alert"] {
                            option value=(o) selected[query.outcome.as_deref() == Some(o)] { (o) }
                        }
                    }
                }
                label { "Since " input name="since" type="text" placeholder="24h" value=(value(&query.since)); }
                button type="submit" { "Filter" }
            }
            p { (events.len()) " events, newest first (at most " (filter.limit) " a page)." }
            div.table-wrap tabindex="0" role="region" aria-label="Audit events" {
            table #events {
                tr { th { "#" } th { "Time" } th { "Kind" } th { "Actor" } th { "Subject" } th { "Outcome" } th { "Severity" } th { "Reason" } th { "Address" } th { "Subject kind" } th { "Details" } }
                @for e in events {
                    tr.event {
                        td { (e.seq) }
                        td { (date(e.event.time_ms)) }
                        td.kind { (Shown(&e.event.kind)) }
                        td { (Shown(e.event.actor.as_deref().unwrap_or(""))) }
                        td.subject { (Shown(e.event.subject.as_deref().unwrap_or(""))) }
                        td.outcome { (e.event.outcome.map(|o| format!("{o:?}").to_lowercase()).unwrap_or_default()) }
                        td { (e.event.severity.map(|s| format!("{s:?}").to_lowercase()).unwrap_or_default()) }
                        td.reason { (Shown(e.event.reason.as_deref().unwrap_or(""))) }
                        td { (Shown(e.event.ip.as_deref().unwrap_or(""))) }
                        td.subject-kind { (Shown(e.event.subject_kind.as_deref().unwrap_or(""))) }
                        td.details {
                            @for (key, value) in &e.event.details {
                                span.detail { (Shown(key)) "=" (Shown(value)) } " "
                            }
                        }
                    }
                }
            }
            }
            @if let Some(seq) = page.older {
                p { a #older href=(query.older(seq)) { "Older events" } }
            }
            p.hint { "The whole chain verifies offline: keybound audit export, then keybound audit verify." }
        },
    )
    .into_response()
}
