//! `/admin/invitations`: the open invitations (for whom, which role and
//! minimum tier, by whom, until when), each of which can be voided — red,
//! behind the "I am sure" tick — so a link handed to the wrong person
//! stops working.

use axum::extract::{Query, State};
use axum::http::{Extensions, HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use keybound_service::ServiceError;
use maud::html;

use super::admin::{admin, admin_form, nav};
use super::step_up::{ConsoleForm, Resume};
use super::text::Shown;
use super::{date, layout, see_other, with_notice, Notice, NoticeQuery};
use crate::ceremony::context;
use crate::reply::from_service;
use crate::AppState;

pub(super) async fn page(
    State(state): State<AppState>,
    Query(query): Query<NoticeQuery>,
    uri: Uri,
    headers: HeaderMap,
    extensions: Extensions,
) -> Response {
    let ctx = context(&state, &headers, &extensions);
    let me = match admin(&state, &headers, &ctx, Resume::Page(&uri)).await {
        Ok(me) => me,
        Err(response) => return response,
    };
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
                                    form.void method="post" action="/admin/invitations/void" {
                                        input type="hidden" name="name" value=(i.name);
                                        label { input type="checkbox" name="confirm" value="yes" required; " I am sure" }
                                        button.danger type="submit" { "Void" }
                                    }
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
    uri: Uri,
    headers: HeaderMap,
    extensions: Extensions,
    ConsoleForm {
        value: form,
        fields,
    }: ConsoleForm<VoidForm>,
) -> Response {
    let ctx = context(&state, &headers, &extensions);
    let resume = Resume::Form {
        action: uri.path(),
        fields: &fields,
    };
    let me = match admin_form(&state, &headers, &ctx, resume).await {
        Ok(me) => me,
        Err(response) => return response,
    };
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
