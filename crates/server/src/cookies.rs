//! The two cookies, both HttpOnly: the ceremony cookie binding a challenge
//! to the browser that asked for it (SameSite=Strict, this host only), and
//! the session cookie (SameSite=Lax, and `Domain=` the `--cookie-domain`
//! when one is set).
//!
//! Why Lax for the session: an app behind forward-auth, or an OIDC client,
//! sends the browser here from another site with a top-level GET, and that
//! navigation must carry the session or every visit would ask to sign in
//! again. Lax still keeps the cookie off cross-site subrequests and POSTs;
//! and every state change a cookie authorises is behind the same-origin
//! guard (`same_origin.rs`) anyway, which also turns away same-site
//! siblings. The ceremony cookie has no reason to travel cross-site, so it
//! stays Strict.

use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue};
use keybound_webauthn::b64;

use crate::AppState;

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

/// Appends a `Set-Cookie` for `name=value` (the ceremony cookie: Strict,
/// this host only).
pub(crate) fn set(headers: &mut HeaderMap, name: &str, value: &str, secure: bool, max_age_s: i64) {
    append(headers, name, value, secure, max_age_s, "Strict", None);
}

/// Appends the session cookie's `Set-Cookie` (`""` and 0 forget it):
/// Lax, scoped to the cookie domain when one is configured.
pub(crate) fn set_session(state: &AppState, headers: &mut HeaderMap, value: &str, max_age_s: i64) {
    append(
        headers,
        SESSION,
        value,
        state.secure_cookies,
        max_age_s,
        "Lax",
        state.cookie_domain.as_deref(),
    );
}

fn append(
    headers: &mut HeaderMap,
    name: &str,
    value: &str,
    secure: bool,
    max_age_s: i64,
    same_site: &str,
    domain: Option<&str>,
) {
    let secure = if secure { "; Secure" } else { "" };
    let domain = domain.map(|d| format!("; Domain={d}")).unwrap_or_default();
    let cookie = format!(
        "{name}={value}; Path=/; HttpOnly; SameSite={same_site}; Max-Age={max_age_s}{domain}{secure}"
    );
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
