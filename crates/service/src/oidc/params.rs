//! Request parameters as the client sent them (a query string or a form
//! body, decoded by the server), with the bounds every field must keep.
//! A parameter sent twice is refused (RFC 6749 §3.1), as is one longer
//! than its bound, before anything is looked up or issued.

use crate::Refusal;

/// The longest value any parameter may have without a bound of its own.
const DEFAULT_MAX: usize = 512;

/// The bound on a parameter's length, in bytes. Every name the provider
/// reads has one; a value past it is `invalid_request`.
pub(crate) fn bound(name: &str) -> usize {
    match name {
        "client_id" => 128,
        "client_secret" => 256,
        "redirect_uri" | "post_logout_redirect_uri" => 2048,
        "state" => 1024,
        "nonce" => 512,
        "code" => 128,
        "code_verifier" | "code_challenge" => 128,
        "scope" | "acr_values" => 512,
        "refresh_token" => 128,
        "token" | "id_token_hint" | "client_assertion" => keybound_jose::MAX_TOKEN_LEN,
        "subject_token" | "actor_token" => keybound_jose::MAX_TOKEN_LEN,
        "task_id" => 64,
        _ => DEFAULT_MAX,
    }
}

/// The parameters of one request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OidcParams(Vec<(String, String)>);

impl OidcParams {
    /// From decoded name-value pairs (`application/x-www-form-urlencoded`
    /// or a query string).
    pub fn new(pairs: Vec<(String, String)>) -> Self {
        OidcParams(pairs)
    }

    /// From an `application/x-www-form-urlencoded` string.
    pub fn parse(text: &[u8]) -> Self {
        OidcParams(
            url::form_urlencoded::parse(text)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The value of `name` (an empty value counts as absent, RFC 6749
    /// §3.1); [`Refusal::OidcMalformedRequest`] when sent twice,
    /// [`Refusal::OidcOversizedParameter`] past its [`bound`].
    pub(crate) fn get(&self, name: &str) -> Result<Option<&str>, Refusal> {
        let mut found = self.0.iter().filter(|(k, _)| k == name);
        let first = found.next();
        if found.next().is_some() {
            return Err(Refusal::OidcMalformedRequest);
        }
        match first {
            Some((_, v)) if v.len() > bound(name) => Err(Refusal::OidcOversizedParameter),
            // No OAuth parameter holds a control character (RFC 6749
            // Appendix A: VSCHAR and friends); a NUL would also fail the
            // insert on PostgreSQL, a 500 instead of an answer.
            Some((_, v)) if v.chars().any(char::is_control) => Err(Refusal::OidcMalformedRequest),
            Some((_, v)) if v.is_empty() => Ok(None),
            Some((_, v)) => Ok(Some(v)),
            None => Ok(None),
        }
    }

    /// Every value of a repeatable parameter (RFC 8707 `resource`), each
    /// within its bound and free of control characters; empty ones are
    /// absent. [`Refusal::OidcMalformedRequest`] past `max` values.
    pub(crate) fn all(&self, name: &str, max: usize) -> Result<Vec<&str>, Refusal> {
        let mut values = Vec::new();
        for (_, v) in self.0.iter().filter(|(k, _)| k == name) {
            if v.len() > bound(name) {
                return Err(Refusal::OidcOversizedParameter);
            }
            if v.chars().any(char::is_control) {
                return Err(Refusal::OidcMalformedRequest);
            }
            if !v.is_empty() {
                values.push(v.as_str());
            }
        }
        if values.len() > max {
            return Err(Refusal::OidcMalformedRequest);
        }
        Ok(values)
    }

    /// [`OidcParams::get`], and absent is [`Refusal::OidcMalformedRequest`].
    pub(crate) fn require(&self, name: &str) -> Result<&str, Refusal> {
        self.get(name)?.ok_or(Refusal::OidcMalformedRequest)
    }

    /// Every pair except those named, for the return URL of a sign-in.
    pub(crate) fn without(&self, names: &[&str]) -> Vec<(&str, &str)> {
        self.0
            .iter()
            .filter(|(k, _)| !names.contains(&k.as_str()))
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    /// Whether any value is past its bound (for endpoints that read only
    /// some parameters: an oversized one they ignore still refuses).
    pub(crate) fn any_oversized(&self) -> bool {
        self.0.iter().any(|(k, v)| v.len() > bound(k))
            || self.0.len() > 64
            || self.0.iter().any(|(k, _)| k.len() > 64)
    }
}

/// How the client authenticated at the token, revocation or introspection
/// endpoint, as the server found it in the request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientCredentials {
    /// `Authorization: Basic` (RFC 6749 §2.3.1), already base64- and
    /// form-decoded: `client_id` and `client_secret`. `Some` also when
    /// the header was there but unreadable (both empty then).
    pub basic: Option<(String, String)>,
}
