//! The one mapping from the provider's answers to HTTP: JSON errors per
//! RFC 6749 §5.2 (400, or 401 with `WWW-Authenticate` for
//! `invalid_client`), bearer errors per RFC 6750 §3, redirects for the
//! authorization endpoint, and a page (never a redirect) when the client
//! or its redirect URI could not be verified. Our own failures are logged
//! and answered `server_error` without detail.

use axum::http::header::{
    ACCESS_CONTROL_ALLOW_ORIGIN, CACHE_CONTROL, LOCATION, PRAGMA, WWW_AUTHENTICATE,
};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use keybound_service::oidc::LoggedOut;
use keybound_service::{Authorized, OAuthError, OidcError};
use serde_json::{json, Value};

use crate::pages::message;

/// JSON anyone may read and cache briefly (discovery, JWKS), from any
/// origin (browser-based relying parties fetch it).
pub(super) fn public_json(body: Value) -> Response {
    let mut response = Json(body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    response
}

/// JSON with tokens or personal data: never cached (RFC 6749 §5.1).
pub(super) fn private_json(body: Value) -> Response {
    no_store(Json(body).into_response())
}

fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    response
}

fn server_error(e: &OidcError) -> Response {
    tracing::error!(error = %e, "internal error");
    no_store(
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"error": "server_error"})),
        )
            .into_response(),
    )
}

/// A token, revocation or introspection refusal (RFC 6749 §5.2); `basic`:
/// the client tried `Authorization: Basic`, so `invalid_client` names the
/// scheme (§5.2: 401 with `WWW-Authenticate`).
pub(super) fn json_error(e: &OidcError, basic: bool) -> Response {
    let OidcError::OAuth(error) = e else {
        return server_error(e);
    };
    // `use_dpop_nonce` and `invalid_dpop_proof` are 400 at the token
    // endpoint (RFC 9449 §8, §5), as every other error but
    // `invalid_client`.
    let status = match error {
        OAuthError::InvalidClient => StatusCode::UNAUTHORIZED,
        _ => StatusCode::BAD_REQUEST,
    };
    let mut response = no_store((status, Json(json!({"error": error.code()}))).into_response());
    if *error == OAuthError::InvalidClient {
        let challenge = if basic {
            "Basic realm=\"keybound\""
        } else {
            "Basic realm=\"keybound\", error=\"invalid_client\""
        };
        response
            .headers_mut()
            .insert(WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
    }
    response
}

/// A UserInfo refusal (RFC 6750 §3.1).
pub(super) fn bearer_error(e: &OidcError) -> Response {
    let OidcError::OAuth(error) = e else {
        return server_error(e);
    };
    let mut response = no_store(
        (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": error.code()})),
        )
            .into_response(),
    );
    if let Ok(value) = HeaderValue::from_str(&format!(
        "Bearer realm=\"keybound\", error=\"{}\"",
        error.code()
    )) {
        response.headers_mut().insert(WWW_AUTHENTICATE, value);
    }
    response
}

fn found(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(value) => (StatusCode::FOUND, [(LOCATION, value)]).into_response(),
        Err(_) => message(
            StatusCode::BAD_REQUEST,
            "Sign-in not possible",
            "The application's address cannot be used.",
        ),
    }
}

/// Where the authorization endpoint sends the browser.
pub(super) fn authorized(decided: Result<Authorized, OidcError>) -> Response {
    match decided {
        Ok(Authorized::Redirect(url) | Authorized::SignIn(url) | Authorized::StepUp(url)) => {
            found(&url)
        }
        Ok(Authorized::ErrorPage(text)) => {
            message(StatusCode::BAD_REQUEST, "Sign-in not possible", text)
        }
        Err(e) => {
            tracing::error!(error = %e, "internal error");
            message(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "keybound could not answer the application. Try again in a moment.",
            )
        }
    }
}

/// A logout the provider refused (no valid ID token, an unregistered
/// return address): a page, never a redirect.
pub(super) fn logout_refused() -> Response {
    message(
        StatusCode::BAD_REQUEST,
        "Sign-out not possible",
        "The application's sign-out request could not be verified. Sign out from your keybound page instead.",
    )
}

/// Where RP-initiated logout sends the browser.
pub(super) fn logged_out(done: Result<LoggedOut, OidcError>) -> Response {
    match done {
        Ok(LoggedOut::Redirect(url)) => found(&url),
        Ok(LoggedOut::Page) => message(
            StatusCode::OK,
            "Signed out",
            "You are signed out of keybound and of the application.",
        ),
        Err(OidcError::OAuth(_)) => logout_refused(),
        Err(e) => {
            tracing::error!(error = %e, "internal error");
            message(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "keybound could not sign you out. Try again in a moment.",
            )
        }
    }
}
