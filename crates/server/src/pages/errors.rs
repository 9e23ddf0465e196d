//! The pages for a wrong address or method: in the site's frame, with a
//! way back, instead of an empty body.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::html;

use super::layout;

/// Any path no route has.
pub(crate) async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        layout(
            "Page not found",
            "not-found",
            None,
            html! {
                p { "There is no page at this address. If you followed a link, it may be incomplete: check that you copied all of it." }
                p { a #home href="/" { "Go to the sign-in page" } }
            },
        ),
    )
        .into_response()
}

/// A path that exists, asked for with a method it does not take (a form
/// address opened as a link, say).
pub(crate) async fn method_not_allowed() -> Response {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        layout(
            "This address is not a page",
            "method-not-allowed",
            None,
            html! {
                p { "This address takes a form sent from one of our pages; it cannot be opened on its own." }
                p { a #home href="/" { "Go to the sign-in page" } }
            },
        ),
    )
        .into_response()
}

/// A page with one message and a way home: what the OpenID Connect
/// endpoints show when they must not redirect (an unverified client or
/// redirect URI, a logout that could not be verified).
pub(crate) fn message(status: StatusCode, title: &str, text: &str) -> Response {
    (
        status,
        layout(
            title,
            "message",
            None,
            html! {
                p #message { (text) }
                p { a #home href="/" { "Go to the sign-in page" } }
            },
        ),
    )
        .into_response()
}
