//! The console's step-up that keeps what the administrator was doing. A
//! console request after the step-up window used to land on `/me`, and a
//! form sent then lost what was typed. Now the answer is a page that asks
//! for the passkey and carries the request: the page's address and query,
//! or the form's fields in hidden inputs. After the sign-in the script
//! sends it again (`#resume`), from this origin, checked as any other.

use axum::extract::{FromRequest, RawForm, Request};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use maud::html;
use serde::de::DeserializeOwned;

use super::layout;

/// A form carried through a step-up has at most this many fields...
const MAX_FIELDS: usize = 64;
/// ...and this many bytes of names and values; a larger one is not carried
/// (the step-up returns to the console's first page instead).
const MAX_BYTES: usize = 16 * 1024;

/// What to do again after the step-up.
pub(super) enum Resume<'a> {
    /// Show this page (a GET, with its query).
    Page(&'a Uri),
    /// Send this form again: its action (the path it was sent to) and its
    /// fields as sent.
    Form {
        action: &'a str,
        fields: &'a [(String, String)],
    },
}

/// A console form: the typed value the handler wants, and the fields as
/// sent, which a step-up carries.
pub(super) struct ConsoleForm<T> {
    pub(super) value: T,
    pub(super) fields: Vec<(String, String)>,
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ConsoleForm<T> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let RawForm(bytes) = RawForm::from_request(request, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let value = serde_urlencoded::from_bytes(&bytes)
            .map_err(|_| StatusCode::UNPROCESSABLE_ENTITY.into_response())?;
        let fields = serde_urlencoded::from_bytes(&bytes).unwrap_or_default();
        Ok(ConsoleForm { value, fields })
    }
}

/// Whether `fields` are small enough to carry.
fn carriable(fields: &[(String, String)]) -> bool {
    fields.len() <= MAX_FIELDS
        && fields
            .iter()
            .map(|(k, v)| k.len().saturating_add(v.len()))
            .fold(0usize, usize::saturating_add)
            <= MAX_BYTES
}

/// The step-up page for `resume`: 403 (nothing was done yet), with the
/// button the script answers and the form it sends afterwards.
pub(super) fn page(resume: &Resume<'_>, window_ms: i64) -> Response {
    let window = if window_ms >= 60_000 && window_ms % 60_000 == 0 {
        format!("{} minutes", window_ms / 60_000)
    } else {
        format!("{} seconds", window_ms / 1000)
    };
    let query_fields: Vec<(String, String)>;
    let (method, action, fields): (&str, &str, &[(String, String)]) = match resume {
        Resume::Page(uri) => {
            query_fields = uri
                .query()
                .and_then(|q| serde_urlencoded::from_str(q).ok())
                .unwrap_or_default();
            ("get", uri.path(), &query_fields)
        }
        Resume::Form { action, fields } => ("post", action, fields),
    };
    let (action, fields, method) = if carriable(fields) {
        (action, fields, method)
    } else {
        ("/admin", &[][..], "get")
    };
    let body = html! {
        p {
            "The console needs a sign-in with your passkey within the last " (window)
            ". Confirm it is you; then "
            @if method == "post" { "what you sent is sent again, as you filled it in." }
            @else { "the page you asked for opens." }
        }
        button #step-up type="button" { "Confirm it is you" }
        form #resume method=(method) action=(action) {
            @for (name, value) in fields {
                input type="hidden" name=(name) value=(value);
            }
        }
        noscript { p.problem { "Confirming with a passkey needs JavaScript." } }
        p { a href="/me" { "Cancel and go to your passkeys" } }
    };
    (
        StatusCode::FORBIDDEN,
        layout("Confirm it is you", "step-up", None, body),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_small_forms_are_carried() {
        let field = |n: usize| ("name".to_owned(), "x".repeat(n));
        assert!(carriable(&[field(10)]));
        assert!(carriable(&[field(MAX_BYTES - 4)]));
        assert!(!carriable(&[field(MAX_BYTES)]));
        assert!(!carriable(&vec![field(0); MAX_FIELDS + 1]));
    }
}
