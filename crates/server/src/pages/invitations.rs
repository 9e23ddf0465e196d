//! `/admin/invitations`: the open invitations (for whom, which role and
//! minimum tier, by whom, until when), each of which can be voided — red,
//! behind the "I am sure" tick — so a link handed to the wrong person
//! stops working.

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use keybound_service::ServiceError;
use maud::html;

use super::admin::nav;
use super::forms::danger_form;
use super::guard::{AdminForm, AdminPage};
use super::text::Shown;
use super::{date, layout, see_other, with_notice, Notice, NoticeQuery};
use crate::reply::from_service;
use crate::AppState;

pub(super) async fn page(
    State(state): State<AppState>,
    Query(query): Query<NoticeQuery>,
    AdminPage { me, .. }: AdminPage,
) -> Response {
    let open = match state.service.invitations((&me).into()).await {
        Ok(open) => open,
        Err(e) => return from_service(&e),
    };
    layout(
        "Open invitations",
        "admin-invitations",
        query.notice(),
        html! {
            (nav("/admin/invitations"))
            p.hint { "An invitation works once, until it expires. Its link was shown only when it was made; void it if it went to the wrong person." }
            @if open.is_empty() { p #no-invitations { "None." } }
            @else {
                div.table-wrap tabindex="0" role="region" aria-label="Open invitations" {
                    table #invitations {
                        tr { th scope="col" { "For" } th scope="col" { "Role" } th scope="col" { "Minimum tier" } th scope="col" { "Invited by" } th scope="col" { "Made" } th scope="col" { "Expires" } th scope="col" { "Void it" } }
                        @for i in &open {
                            tr data-name=(i.name) {
                                td { (Shown(&i.name)) }
                                td { (i.role.as_str()) }
                                td { (i.min_tier) }
                                td { (Shown(&i.invited_by)) }
                                td { (date(i.created_ms)) }
                                td { (date(i.expires_ms)) }
                                td {
                                    (danger_form("void", "/admin/invitations/void", &[("name", &i.name)], "Void"))
                                }
                            }
                        }
                    }
                }
            }
            p { a href="/admin#invite-heading" { "Invite someone" } }
        },
    )
    .into_response()
}

#[derive(serde::Deserialize)]
pub(super) struct VoidForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    confirm: Option<String>,
}

/// Voids the open invitation of a name.
pub(super) async fn void(
    State(state): State<AppState>,
    AdminForm { me, ctx, form }: AdminForm<VoidForm>,
) -> Response {
    let back = |n| see_other(&with_notice("/admin/invitations", n), HeaderMap::new());
    if form.confirm.as_deref() != Some("yes") {
        return back(Notice::ConfirmVoid);
    }
    match state
        .service
        .console_void_invitation(&me, &form.name, &ctx)
        .await
    {
        Ok(_) => back(Notice::InvitationVoided),
        Err(ServiceError::NotFound | ServiceError::Rejected(_)) => back(Notice::NoOpenInvitation),
        Err(e) => from_service(&e),
    }
}
