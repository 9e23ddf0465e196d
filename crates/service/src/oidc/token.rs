//! The token endpoint (RFC 6749 §4.1.3 and §6, OIDC Core §3.1.3): the
//! client authenticates as it registered to; a code is taken once through
//! the single-use table and must come from this client, with the same
//! redirect URI and the PKCE verifier of its challenge; a code presented
//! again revokes every token issued from it (§4.1.2) and raises an alert.
//! Refresh tokens (only when the setting is on) rotate on every use, and
//! one presented after its exchange revokes its whole family.

use keybound_audit::{NewEvent, Outcome, Severity};
use keybound_store::{Identity, OidcClient, OidcToken};
use serde_json::{json, Map, Value};

use crate::oidc::claims::person_claims;
use crate::oidc::params::{ClientCredentials, OidcParams};
use crate::oidc::{pkce_syntax, s256, signing, OAuthError, OidcError};
use crate::record::Record;
use crate::single_use::TokenKind;
use crate::tokens::{hash_token, hex_id};
use crate::{ClientContext, EventKind, Refusal, Service};

/// What a refused token request is told, and why (for the audit log).
pub(crate) type Refused = (Refusal, OidcError);

pub(crate) fn refused(reason: Refusal, told: OAuthError) -> Refused {
    (reason, OidcError::OAuth(told))
}

pub(crate) fn internal(e: impl Into<OidcError>) -> Refused {
    (Refusal::OidcMalformedRequest, e.into())
}

/// A code or refresh token presented again: someone holds a copy. What it
/// issued is already revoked in `tx`; this commits that with a high-severity
/// alert naming the person, so people look, and answers `invalid_grant`.
async fn replayed(
    mut tx: keybound_store::WriteTx,
    event: &NewEvent,
    kind: EventKind,
    reason: Refusal,
    revoked: u64,
    identity_id: &str,
) -> Refused {
    let mut alert = event.clone();
    alert.kind = kind.as_str().to_owned();
    alert.outcome = Some(Outcome::Alert);
    alert.severity = Some(Severity::High);
    alert.reason = Some(reason.reason().to_owned());
    alert.details.insert("revoked".into(), revoked.to_string());
    alert.subject = match tx.identity_by_id(identity_id).await {
        Ok(identity) => identity.map(|i| i.name),
        Err(e) => return internal(e),
    };
    if let Err(e) = tx.record(alert).await {
        return internal(e);
    }
    if let Err(e) = tx.commit().await {
        return internal(e);
    }
    refused(reason, OAuthError::InvalidGrant)
}

/// What one grant covers, whichever way it came (a code, a refresh
/// token).
pub(crate) struct Grant<'a> {
    pub(crate) client: &'a OidcClient,
    pub(crate) identity: &'a Identity,
    pub(crate) scope: &'a str,
    pub(crate) session_hash: &'a [u8],
    pub(crate) sid: &'a str,
    pub(crate) family_id: &'a str,
    pub(crate) code_hash: Option<&'a [u8]>,
}

impl Service {
    /// A token request (`application/x-www-form-urlencoded` body decoded
    /// into `params`, client credentials from the `Authorization` header):
    /// the JSON reply of RFC 6749 §5.1, or the refusal to send as §5.2.
    /// Every refusal is audited; nothing is issued with one.
    ///
    /// `proof` is the request's `DPoP` header and the token endpoint's
    /// URL: the token exchange for agents (RFC 8693) needs both.
    pub async fn oidc_token(
        &self,
        params: &OidcParams,
        credentials: &ClientCredentials,
        proof: &crate::agents::TokenProof<'_>,
        ctx: &ClientContext,
    ) -> Result<Value, OidcError> {
        let mut event = self.event(EventKind::OidcToken, ctx);
        self.oidc_ready().await?;
        let attempt = match params.get("grant_type") {
            // No client authentication: the actor token authenticates the
            // agent.
            Ok(Some(crate::agents::TOKEN_EXCHANGE)) if !params.any_oversized() => {
                event.kind = EventKind::TaskToken.as_str().to_owned();
                self.exchange_task_token(params, proof, &mut event).await
            }
            _ => self.try_token(params, credentials, &mut event).await,
        };
        match attempt {
            Ok(reply) => Ok(reply),
            Err((reason, OidcError::OAuth(told))) => {
                Err(self.refuse_oidc(event, reason, told).await)
            }
            Err((_, internal)) => Err(internal),
        }
    }

    async fn try_token(
        &self,
        params: &OidcParams,
        credentials: &ClientCredentials,
        event: &mut NewEvent,
    ) -> Result<Value, Refused> {
        if params.any_oversized() {
            return Err(refused(
                Refusal::OidcOversizedParameter,
                OAuthError::InvalidRequest,
            ));
        }
        let grant_type = params
            .require("grant_type")
            .map_err(|r| refused(r, OAuthError::InvalidRequest))?;
        let client = self.authenticate_client(params, credentials).await?;
        event
            .details
            .insert("client_id".into(), client.client_id.clone());
        match grant_type {
            "authorization_code" => self.exchange_code(&client, params, event).await,
            "refresh_token" if self.config.oidc.refresh_tokens => {
                event.kind = EventKind::OidcRefresh.as_str().to_owned();
                self.exchange_refresh(&client, params, event).await
            }
            _ => Err(refused(
                Refusal::OidcUnsupportedGrantType,
                OAuthError::UnsupportedGrantType,
            )),
        }
    }

    async fn exchange_code(
        &self,
        client: &OidcClient,
        params: &OidcParams,
        event: &mut NewEvent,
    ) -> Result<Value, Refused> {
        let malformed = |r| refused(r, OAuthError::InvalidRequest);
        let code = params.require("code").map_err(malformed)?;
        let redirect_uri = params.require("redirect_uri").map_err(malformed)?;
        let verifier = params.get("code_verifier").map_err(malformed)?;
        let code_hash = hash_token(code);
        let now = self.now_ms();
        let mut tx = self.kernel.store.begin().await.map_err(internal)?;
        let Some(state) = tx.oidc_code(&code_hash).await.map_err(internal)? else {
            return Err(refused(Refusal::OidcUnknownCode, OAuthError::InvalidGrant));
        };
        let taken = self
            .use_single_use(&mut tx, TokenKind::OidcCode, code)
            .await
            .map_err(internal)?;
        if !taken {
            // Used before, or expired: whatever it issued is revoked.
            let revoked = tx
                .revoke_oidc_tokens_of_code(&code_hash, now)
                .await
                .map_err(internal)?;
            if revoked == 0 && state.expires_ms <= now {
                return Err(refused(Refusal::OidcUnknownCode, OAuthError::InvalidGrant));
            }
            return Err(replayed(
                tx,
                event,
                EventKind::OidcCodeReplay,
                Refusal::OidcCodeReplayed,
                revoked,
                &state.identity_id,
            )
            .await);
        }
        // Checks that fail here roll the take back with the transaction.
        if state.client_id != client.client_id {
            return Err(refused(
                Refusal::OidcCodeOfAnotherClient,
                OAuthError::InvalidGrant,
            ));
        }
        if state.redirect_uri != redirect_uri {
            return Err(refused(
                Refusal::OidcRedirectUriMismatch,
                OAuthError::InvalidGrant,
            ));
        }
        let pkce_ok =
            verifier.is_some_and(|v| pkce_syntax(v, 43) && s256(v) == state.code_challenge);
        if !pkce_ok {
            return Err(refused(Refusal::OidcPkceMismatch, OAuthError::InvalidGrant));
        }
        let identity = self
            .live_grant(&mut tx, &state.session_hash, &state.identity_id)
            .await?;
        event.subject = Some(identity.name.clone());
        let family_id = hex_id(self.random());
        let grant = Grant {
            client,
            identity: &identity,
            scope: &state.scope,
            session_hash: &state.session_hash,
            sid: &state.sid,
            family_id: &family_id,
            code_hash: Some(&code_hash),
        };
        let mut reply = self.issue(&mut tx, &grant).await?;
        // The ID token (OIDC Core §2).
        let sub = self
            .oidc_subject(client, &identity.id)
            .await
            .map_err(internal)?;
        let mut claims = Map::new();
        claims.insert("iss".into(), json!(self.config.oidc.issuer));
        claims.insert("sub".into(), json!(sub));
        claims.insert("aud".into(), json!(client.client_id));
        claims.insert("azp".into(), json!(client.client_id));
        claims.insert("iat".into(), json!(now / 1000));
        claims.insert(
            "exp".into(),
            json!(now / 1000 + self.config.oidc.access_token_ttl_s),
        );
        claims.insert("auth_time".into(), json!(state.auth_time_ms / 1000));
        claims.insert("acr".into(), json!(state.acr));
        claims.insert(
            "amr".into(),
            json!(state.amr.split(' ').collect::<Vec<_>>()),
        );
        claims.insert("sid".into(), json!(state.sid));
        if let Some(nonce) = &state.nonce {
            claims.insert("nonce".into(), json!(nonce));
        }
        person_claims(&identity, &state.scope, &mut claims);
        let id_token = signing::sign_jwt(self, &mut tx, &client.id_token_alg, "JWT", &claims)
            .await
            .map_err(internal)?;
        reply.insert("id_token".into(), json!(id_token));
        let mut done = event.clone();
        done.outcome = Some(Outcome::Success);
        tx.record(done).await.map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        Ok(Value::Object(reply))
    }

    async fn exchange_refresh(
        &self,
        client: &OidcClient,
        params: &OidcParams,
        event: &mut NewEvent,
    ) -> Result<Value, Refused> {
        let malformed = |r| refused(r, OAuthError::InvalidRequest);
        let presented = params.require("refresh_token").map_err(malformed)?;
        let asked_scope = params.get("scope").map_err(malformed)?;
        let hash = hash_token(presented);
        let now = self.now_ms();
        let mut tx = self.kernel.store.begin().await.map_err(internal)?;
        let unknown = refused(Refusal::OidcUnknownToken, OAuthError::InvalidGrant);
        let Some(old) = tx.oidc_token(&hash).await.map_err(internal)? else {
            return Err(unknown);
        };
        if old.kind != "refresh" || old.client_id != client.client_id {
            return Err(unknown);
        }
        let taken =
            old.used_ms.is_none() && tx.use_oidc_refresh(&hash, now).await.map_err(internal)?;
        if !taken {
            // Read again under the writer: a racing request that exchanged
            // it between the first read and the update is a reuse too, and
            // must not pass as "unknown" and keep the family alive.
            let used = tx
                .oidc_token(&hash)
                .await
                .map_err(internal)?
                .is_some_and(|t| t.used_ms.is_some());
            if !used {
                // Revoked or expired, never exchanged.
                return Err(unknown);
            }
            // Reuse: someone holds a copy. The family goes, and people look.
            let revoked = tx
                .revoke_oidc_family(&old.family_id, now)
                .await
                .map_err(internal)?;
            return Err(replayed(
                tx,
                event,
                EventKind::OidcRefreshReuse,
                Refusal::OidcRefreshReused,
                revoked,
                &old.identity_id,
            )
            .await);
        }
        let scope = match asked_scope {
            None => old.scope.clone(),
            Some(asked) => {
                let granted: Vec<&str> = old.scope.split(' ').collect();
                if !asked.split(' ').all(|s| granted.contains(&s)) {
                    return Err(refused(
                        Refusal::OidcScopeWithoutOpenid,
                        OAuthError::InvalidScope,
                    ));
                }
                asked.to_owned()
            }
        };
        let identity = self
            .live_grant(&mut tx, &old.session_hash, &old.identity_id)
            .await?;
        event.subject = Some(identity.name.clone());
        let grant = Grant {
            client,
            identity: &identity,
            scope: &scope,
            session_hash: &old.session_hash,
            sid: &old.sid,
            family_id: &old.family_id,
            code_hash: old.code_hash.as_deref(),
        };
        let reply = self.issue(&mut tx, &grant).await?;
        let mut done = event.clone();
        done.outcome = Some(Outcome::Success);
        tx.record(done).await.map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        Ok(Value::Object(reply))
    }

    /// The person behind a grant, if its session is still live (not
    /// ended, its credential not revoked) and they are still active.
    async fn live_grant(
        &self,
        tx: &mut keybound_store::WriteTx,
        session_hash: &[u8],
        identity_id: &str,
    ) -> Result<Identity, Refused> {
        let ended = refused(Refusal::OidcSessionEnded, OAuthError::InvalidGrant);
        let live = tx
            .live_session(session_hash, self.now_ms())
            .await
            .map_err(internal)?;
        if live.is_none_or(|s| s.identity_id != identity_id) {
            return Err(ended);
        }
        tx.identity_by_id(identity_id)
            .await
            .map_err(internal)?
            .filter(|i| i.status == keybound_store::IdentityStatus::Active)
            .ok_or(ended)
    }

    /// Issues an access token (RFC 9068 JWT) and, when refresh tokens are
    /// on, a refresh token, both recorded by hash: the start of the
    /// §5.1 reply.
    async fn issue(
        &self,
        tx: &mut keybound_store::WriteTx,
        grant: &Grant<'_>,
    ) -> Result<Map<String, Value>, Refused> {
        let now = self.now_ms();
        let ttl_s = self.config.oidc.access_token_ttl_s;
        let jti = self.mint().value;
        let sub = self
            .oidc_subject(grant.client, &grant.identity.id)
            .await
            .map_err(internal)?;
        let Value::Object(claims) = json!({
            "iss": self.config.oidc.issuer,
            "sub": sub,
            "aud": grant.client.client_id,
            "client_id": grant.client.client_id,
            "scope": grant.scope,
            "jti": jti,
            "iat": now / 1000,
            "exp": now / 1000 + ttl_s,
        }) else {
            return Err(internal(crate::ServiceError::Internal(
                "claims are not an object".into(),
            )));
        };
        let access = signing::sign_jwt(self, tx, "ES256", "at+jwt", &claims)
            .await
            .map_err(internal)?;
        let row = |hash: Vec<u8>, kind: &str, ttl_ms: i64| OidcToken {
            token_hash: hash,
            kind: kind.to_owned(),
            family_id: grant.family_id.to_owned(),
            code_hash: grant.code_hash.map(<[u8]>::to_vec),
            session_hash: grant.session_hash.to_vec(),
            sid: grant.sid.to_owned(),
            identity_id: grant.identity.id.clone(),
            client_id: grant.client.client_id.clone(),
            scope: grant.scope.to_owned(),
            created_ms: now,
            expires_ms: now + ttl_ms,
            used_ms: None,
            revoked_ms: None,
        };
        tx.insert_oidc_token(&row(hash_token(&jti), "access", ttl_s * 1000))
            .await
            .map_err(internal)?;
        let mut reply = Map::new();
        reply.insert("access_token".into(), json!(access));
        reply.insert("token_type".into(), json!("Bearer"));
        reply.insert("expires_in".into(), json!(ttl_s));
        reply.insert("scope".into(), json!(grant.scope));
        if self.config.oidc.refresh_tokens {
            let refresh = self.mint();
            let ttl_ms = self.config.oidc.refresh_token_ttl_s * 1000;
            tx.insert_oidc_token(&row(refresh.hash.clone(), "refresh", ttl_ms))
                .await
                .map_err(internal)?;
            reply.insert("refresh_token".into(), json!(refresh.value));
        }
        Ok(reply)
    }
}
