//! `/admin/tasks` and `/admin/agents` (issue 18): which agents exist, who
//! answers for them, and what each task lets an agent do for whom, with
//! "End" for a task that must stop now. Agents are registered with
//! `keybound agents` at the server. Through the console's seam
//! ([`AdminPage`], [`AdminForm`]): the service acts for an administrator.

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use keybound_service::{Refusal, ServiceError, TaskFilter};
use maud::html;

use super::admin::nav;
use super::forms::danger_form;
use super::guard::{AdminForm, AdminPage};
use super::text::Shown;
use super::{date, layout, see_other, with_notice, Notice, NoticeQuery};
use crate::reply::from_service;
use crate::AppState;

pub(super) async fn tasks(
    State(state): State<AppState>,
    Query(query): Query<NoticeQuery>,
    AdminPage { me, .. }: AdminPage,
) -> Response {
    let tasks = match state
        .service
        .tasks(&(&me).into(), &TaskFilter::default())
        .await
    {
        Ok(tasks) => tasks,
        Err(e) => return from_service(&e),
    };
    layout(
        "Tasks",
        "admin-tasks",
        query.notice(),
        html! {
            (nav("/admin/tasks"))
            p {
                "What agents may do, for whom, until when. A pending task waits for its delegator (or, with none, the agent's owner) to approve it on their page. "
                "Ending a task stops its tokens at their next request."
            }
            @if tasks.is_empty() {
                p #no-tasks { "No tasks." }
            } @else {
                div.table-wrap tabindex="0" role="region" aria-label="Tasks" {
                    table #tasks {
                        tr {
                            th scope="col" { "Agent" }
                            th scope="col" { "For" }
                            th scope="col" { "Status" }
                            th scope="col" { "Resources and actions" }
                            th scope="col" { "Uses" }
                            th scope="col" { "Until" }
                            th scope="col" { "End" }
                        }
                        @for t in &tasks {
                            tr id={ "task-" (t.id) } {
                                td { (Shown(&t.agent)) }
                                td { (Shown(t.delegator.as_deref().unwrap_or("itself"))) }
                                td {
                                    (Shown(&t.status))
                                    @if let Some(tier) = t.approval_tier { " (tier " (tier) ")" }
                                }
                                td {
                                    @for r in &t.resources { code { (Shown(r)) } " " }
                                    (Shown(&t.actions.join(", ")))
                                }
                                td { (t.uses) }
                                td { (date(t.ended_ms.unwrap_or(t.expires_ms))) }
                                td {
                                    @if t.status == "pending" || t.status == "active" {
                                        (danger_form("end-task", &format!("/admin/tasks/{}/end", t.id), &[], "End"))
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
    .into_response()
}

#[derive(serde::Deserialize)]
pub(super) struct EndForm {
    #[serde(default)]
    confirm: Option<String>,
}

/// Ends task `id` (confirmed with "I am sure").
pub(super) async fn end(
    State(state): State<AppState>,
    Path(id): Path<String>,
    AdminForm { me, ctx, form }: AdminForm<EndForm>,
) -> Response {
    let back = |n| see_other(&with_notice("/admin/tasks", n), HeaderMap::new());
    if form.confirm.as_deref() != Some("yes") {
        return back(Notice::ConfirmEndTask);
    }
    match state.service.end_task(&(&me).into(), &id, &ctx).await {
        Ok(_) => back(Notice::TaskEnded),
        Err(ServiceError::NotFound | ServiceError::Rejected(Refusal::TaskNotLive)) => {
            back(Notice::TaskUnchanged)
        }
        Err(e) => from_service(&e),
    }
}

pub(super) async fn agents(
    State(state): State<AppState>,
    Query(query): Query<NoticeQuery>,
    AdminPage { me, .. }: AdminPage,
) -> Response {
    let agents = match state.service.list_agents(&(&me).into()).await {
        Ok(agents) => agents,
        Err(e) => return from_service(&e),
    };
    layout(
        "Agents",
        "admin-agents",
        query.notice(),
        html! {
            (nav("/admin/agents"))
            p {
                "Programs that act for people with task credentials. Register and remove them with "
                code { "keybound agents" } " at the server."
            }
            @if agents.is_empty() {
                p #no-agents { "No agents." }
            } @else {
                div.table-wrap tabindex="0" role="region" aria-label="Agents" {
                    table #agents {
                        tr {
                            th scope="col" { "Agent" }
                            th scope="col" { "Owner" }
                            th scope="col" { "Proof" }
                            th scope="col" { "Status" }
                            th scope="col" { "Registered" }
                        }
                        @for a in &agents {
                            tr {
                                td {
                                    (Shown(&a.name))
                                    @if !a.description.is_empty() { br; small { (Shown(&a.description)) } }
                                }
                                td { (Shown(&a.owner)) }
                                td {
                                    @match (&a.spiffe_id, &a.key_thumbprint) {
                                        (Some(id), _) => { code { (Shown(id)) } }
                                        (None, Some(jkt)) => { "key " code { (Shown(jkt)) } }
                                        (None, None) => { (Shown(&a.proof)) }
                                    }
                                }
                                td {
                                    (Shown(&a.status))
                                    @if let Some(why) = &a.status_reason { " (" (Shown(why)) ")" }
                                }
                                td { (date(a.created_ms)) }
                            }
                        }
                    }
                }
            }
        },
    )
    .into_response()
}
