//! "Tasks for your agents" on `/me` (issue 18): what an agent asked to do
//! for this person (or, acting on its own, for its owner), shown in full
//! before the person approves it with a passkey. The passkey signs a hash
//! of exactly what is shown (`approval_challenge`), so the script only
//! carries the ceremony: options from `/me/tasks/{id}/approve/options`, the
//! assertion to `/me/tasks/{id}/approve` (same-origin JSON). Deny and "End
//! now" are plain forms, sent from our own pages only, like every other
//! `/me` form.

use axum::extract::{Path, State};
use axum::http::{Extensions, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use keybound_service::{Refusal, ServiceError, TaskView};
use maud::{html, Markup};

use super::text::Shown;
use super::{cross_site, date, see_other, with_notice, Notice};
use crate::ceremony::context;
use crate::reply::{from_service, ok};
use crate::same_origin::JsonBody;
use crate::{cookies, AppState};

/// The section; `tasks` as `my_tasks` gives them, newest first.
pub(super) fn section(tasks: &[TaskView]) -> Markup {
    let pending: Vec<&TaskView> = tasks.iter().filter(|t| t.status == "pending").collect();
    let active: Vec<&TaskView> = tasks.iter().filter(|t| t.status == "active").collect();
    html! {
        section #tasks aria-labelledby="tasks-heading" {
            h2 #tasks-heading { "Tasks for your agents" }
            p.hint {
                "An agent (a program acting for you) asks for a task: what it may do, where, and for how long. "
                "Approving signs exactly what is shown here with your passkey; the agent can then act within it, and nothing more, until it ends."
            }
            @if pending.is_empty() && active.is_empty() {
                p #no-tasks { "No task is waiting for you or running." }
            }
            @for task in &pending { (pending_task(task)) }
            @for task in &active { (active_task(task)) }
            p.problem #task-error role="alert" {}
        }
    }
}

fn context_text(task: &TaskView, key: &str) -> String {
    task.context
        .get(key)
        .and_then(|v| v.as_str())
        .unwrap_or("unknown")
        .to_owned()
}

/// What the task is, as the passkey will sign it.
fn terms(task: &TaskView) -> Markup {
    html! {
        dl.task-terms {
            dt { "Agent" } dd.task-agent { (Shown(&task.agent)) }
            dt { "On behalf of" }
            dd.task-delegator {
                @match &task.delegator {
                    Some(d) => (Shown(d)),
                    None => "itself (you own it)",
                }
            }
            dt { "Resources" }
            dd.task-resources { ul { @for r in &task.resources { li { code { (Shown(r)) } } } } }
            dt { "Actions" } dd.task-actions { (Shown(&task.actions.join(", "))) }
            dt { "Lifetime" } dd.task-lifetime { (lifetime_words(task.lifetime_s)) }
            dt { "Purpose" } dd.task-purpose { (Shown(&task.purpose)) }
            dt { "Asked" }
            dd.task-context {
                (date(task.created_ms)) " from " (Shown(&context_text(task, "address")))
                @if let Some(ua) = task.context.get("user_agent").and_then(|v| v.as_str()).filter(|u| !u.is_empty()) {
                    " (" (Shown(ua)) ")"
                }
                ", proven by "
                code { (Shown(&context_text(task, "agent_proof"))) }
            }
        }
    }
}

fn pending_task(task: &TaskView) -> Markup {
    html! {
        article.task.pending id={ "task-" (task.id) } data-task-id=(task.id) aria-labelledby={ "task-" (task.id) "-title" } {
            h3 id={ "task-" (task.id) "-title" } { "Waiting for your approval: " (Shown(&task.agent)) }
            (terms(task))
            p.task-deadline { "Approve by " (date(task.expires_ms)) " or it expires." }
            button.approve-task type="button" data-task-id=(task.id) { "Approve with passkey" }
            form.deny-task method="post" action={ "/me/tasks/" (task.id) "/deny" } {
                button type="submit" { "Deny" }
            }
        }
    }
}

fn active_task(task: &TaskView) -> Markup {
    html! {
        article.task.active id={ "task-" (task.id) } data-task-id=(task.id) aria-labelledby={ "task-" (task.id) "-title" } {
            h3 id={ "task-" (task.id) "-title" } { "Running: " (Shown(&task.agent)) }
            (terms(task))
            p.task-uses {
                "Used " (task.uses) " time(s); ends " (date(task.expires_ms)) "."
                @if let (Some(by), Some(tier)) = (&task.approved_by, task.approval_tier) {
                    " Approved by " (Shown(by)) " at tier " (tier) "."
                }
            }
            form.end-task method="post" action={ "/me/tasks/" (task.id) "/end" } {
                button type="submit" { "End now" }
            }
        }
    }
}

fn lifetime_words(seconds: i64) -> String {
    if seconds % 3600 == 0 {
        format!("{} hour(s)", seconds / 3600)
    } else if seconds % 60 == 0 {
        format!("{} minute(s)", seconds / 60)
    } else {
        format!("{seconds} seconds")
    }
}

/// WebAuthn options to approve task `id` (JSON, same origin).
pub(super) async fn approve_options(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(_): JsonBody,
) -> Response {
    let session = cookies::get(&headers, cookies::SESSION).unwrap_or_default();
    match state.service.task_approval_options(&session, &id).await {
        Ok(options) => ok(serde_json::to_value(options).unwrap_or_default()),
        Err(e) => from_service(&e),
    }
}

/// The assertion approving task `id` (JSON, same origin).
pub(super) async fn approve(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    extensions: Extensions,
    JsonBody(body): JsonBody,
) -> Response {
    let session = cookies::get(&headers, cookies::SESSION).unwrap_or_default();
    let ctx = context(&state, &headers, &extensions);
    match state.service.approve_task(&session, &id, &body, &ctx).await {
        Ok(task) => ok(serde_json::json!({"task": task.id, "taskStatus": task.status})),
        // The one refusal the person can act on: a stronger passkey.
        Err(ServiceError::Rejected(Refusal::TaskApprovalTierTooLow)) => (
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({
                "status": "failed",
                "errorMessage": "the ceremony failed",
                "reason": "task_tier_too_low",
            })),
        )
            .into_response(),
        Err(e) => from_service(&e),
    }
}

pub(super) async fn deny(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    extensions: Extensions,
) -> Response {
    if cross_site(&state, &headers) {
        return StatusCode::FORBIDDEN.into_response();
    }
    let session = cookies::get(&headers, cookies::SESSION).unwrap_or_default();
    let ctx = context(&state, &headers, &extensions);
    decided(
        &state,
        state.service.deny_task(&session, &id, &ctx).await,
        Notice::TaskDenied,
    )
}

pub(super) async fn end(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    extensions: Extensions,
) -> Response {
    if cross_site(&state, &headers) {
        return StatusCode::FORBIDDEN.into_response();
    }
    let session = cookies::get(&headers, cookies::SESSION).unwrap_or_default();
    let ctx = context(&state, &headers, &extensions);
    decided(
        &state,
        state.service.end_my_task(&session, &id, &ctx).await,
        Notice::TaskEnded,
    )
}

fn decided(state: &AppState, result: Result<TaskView, ServiceError>, done: Notice) -> Response {
    match result {
        Ok(_) => see_other(&with_notice("/me", done), HeaderMap::new()),
        Err(ServiceError::Rejected(_) | ServiceError::NotFound) => {
            see_other(&with_notice("/me", Notice::TaskUnchanged), HeaderMap::new())
        }
        Err(e) => super::me::not_signed_in(state, &e),
    }
}
