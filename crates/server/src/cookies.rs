//! The two cookies: the ceremony cookie binding a challenge to the browser
//! that asked for it, and the session cookie. Both HttpOnly, SameSite=Strict.

use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue};
use keybound_webauthn::b64;

/// Binds challenges to a browser.
pub(crate) const CEREMONY: &str = "kb_ceremony";
/// A signed-in session.
pub(crate) const SESSION: &str = "kb_session";

/// The value of cookie `name`, if the request carries it.
pub(crate) fn get(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// Appends a `Set-Cookie` for `name=value`.
pub(crate) fn set(headers: &mut HeaderMap, name: &str, value: &str, secure: bool, max_age_s: i64) {
    let secure = if secure { "; Secure" } else { "" };
    let cookie =
        format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_s}{secure}");
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        headers.append(SET_COOKIE, v);
    }
}

/// A fresh random cookie value.
pub(crate) fn fresh(random: [u8; 32]) -> String {
    b64::encode(&random)
}

/// Whether `value` could be one [`fresh`] made: 43 base64url characters
/// (32 bytes). Anything else (empty, short, long, other characters) is not
/// ours and binds nothing.
pub(crate) fn is_minted(value: &str) -> bool {
    value.len() == 43
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
