//! Logout tokens for OpenID Connect Back-Channel Logout 1.0 (§2.4): a JWT
//! the provider POSTs to a client's `backchannel_logout_uri` when a session
//! ends. Claims `iss`, `aud`, `iat`, `exp`, `jti`, the `events` member
//! naming the back-channel logout event, and `sub` and/or `sid`; never a
//! `nonce` (§2.4: so a logout token cannot pass for an ID token). The
//! header's `typ` is `logout+jwt` (§2.4, RFC 8725 §3.11 explicit typing).

use serde_json::{json, Map, Value};

use crate::crypto::SecureRandom;
use crate::{jws, Error, SigningKey};

/// The `typ` header of a logout token.
pub const LOGOUT_TOKEN_TYP: &str = "logout+jwt";

/// The `events` member naming a back-channel logout.
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// A logout token's contents; time and `jti` arrive from the caller.
#[derive(Debug, Clone)]
pub struct LogoutToken<'a> {
    /// The provider's issuer identifier.
    pub issuer: &'a str,
    /// The client the token is for (its `client_id`).
    pub audience: &'a str,
    /// The subject signed out, as that client knows it (`sub`).
    pub subject: Option<&'a str>,
    /// The session ended (`sid`), when the client was told one.
    pub session_id: Option<&'a str>,
    /// A unique id, so the client can refuse a replay.
    pub jti: &'a str,
    /// Unix seconds now.
    pub issued_at: i64,
    /// Seconds until `exp`.
    pub lifetime: i64,
}

impl LogoutToken<'_> {
    /// The claims set.
    ///
    /// # Errors
    /// `MissingClaim("sub or sid")` when neither is given (§2.4 requires one).
    pub fn claims(&self) -> Result<Map<String, Value>, Error> {
        if self.subject.is_none() && self.session_id.is_none() {
            return Err(Error::MissingClaim("sub or sid"));
        }
        let mut claims = Map::new();
        claims.insert("iss".into(), self.issuer.into());
        claims.insert("aud".into(), self.audience.into());
        claims.insert("iat".into(), self.issued_at.into());
        claims.insert(
            "exp".into(),
            self.issued_at.saturating_add(self.lifetime).into(),
        );
        claims.insert("jti".into(), self.jti.into());
        claims.insert("events".into(), json!({ BACKCHANNEL_LOGOUT_EVENT: {} }));
        if let Some(sub) = self.subject {
            claims.insert("sub".into(), sub.into());
        }
        if let Some(sid) = self.session_id {
            claims.insert("sid".into(), sid.into());
        }
        Ok(claims)
    }

    /// Signs the token with `key`, naming it `kid` in the header.
    ///
    /// # Errors
    /// As [`LogoutToken::claims`], or `Signing`.
    pub fn sign(
        &self,
        key: &SigningKey,
        kid: &str,
        rng: &dyn SecureRandom,
    ) -> Result<String, Error> {
        let claims = Value::Object(self.claims()?);
        jws::sign(&logout_header(kid), &claims, key, rng)
    }
}

/// The header fields of a logout token besides `alg`.
pub fn logout_header(kid: &str) -> Map<String, Value> {
    let mut header = Map::new();
    header.insert("kid".into(), kid.into());
    header.insert("typ".into(), LOGOUT_TOKEN_TYP.into());
    header
}

#[cfg(test)]
mod tests;
