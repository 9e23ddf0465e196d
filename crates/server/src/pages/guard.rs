//! The console's way in, as extractors: every console page and form first
//! turns away whoever is not an administrator at the console's tier (see
//! [`admin`] and [`admin_form`]), so the handlers start from the
//! administrator and the request's context instead of repeating the check.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::response::Response;
use keybound_service::{Admin, ClientContext};
use serde::de::DeserializeOwned;

use super::admin::{admin, admin_form};
use super::step_up::{ConsoleForm, Resume};
use crate::ceremony::context;
use crate::AppState;

/// A console page (a GET): the administrator asking and where from. A
/// step-up resumes the page with its query.
pub(super) struct AdminPage {
    pub(super) me: Admin,
    pub(super) ctx: ClientContext,
}

impl FromRequestParts<AppState> for AdminPage {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let ctx = context(state, &parts.headers, &parts.extensions);
        let me = admin(state, &parts.headers, &ctx, Resume::Page(&parts.uri)).await?;
        Ok(AdminPage { me, ctx })
    }
}

/// A console form post: the form's typed value (read first, as
/// [`ConsoleForm`] does), then the administrator sending it from our own
/// pages. A step-up carries the fields as sent.
pub(super) struct AdminForm<T> {
    pub(super) me: Admin,
    pub(super) ctx: ClientContext,
    pub(super) form: T,
}

impl<T: DeserializeOwned + Send> FromRequest<AppState> for AdminForm<T> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        let uri = request.uri().clone();
        let headers = request.headers().clone();
        let ctx = context(state, &headers, request.extensions());
        let ConsoleForm {
            value: form,
            fields,
        } = ConsoleForm::from_request(request, state).await?;
        let resume = Resume::Form {
            action: uri.path(),
            fields: &fields,
        };
        let me = admin_form(state, &headers, &ctx, resume).await?;
        Ok(AdminForm { me, ctx, form })
    }
}
