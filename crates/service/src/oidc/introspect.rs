//! Using and inspecting issued tokens: UserInfo (OIDC Core §5.3, a
//! bearer access token), revocation (RFC 7009) and introspection (RFC
//! 7662). A token is live only while its row is unrevoked and unexpired,
//! its client still registered, its session still live (not ended, its
//! credential not revoked) and its person still active: offboarding,
//! suspension, sign-out and revocation all bite at the next request.

use keybound_audit::Outcome;
use keybound_store::{Identity, OidcClient, OidcToken, ReadTx};
use serde_json::{json, Map, Value};

use crate::oidc::claims::person_claims;
use crate::oidc::params::{ClientCredentials, OidcParams};
use crate::oidc::{signing, OAuthError, OidcError};
use crate::record::Record;
use crate::tokens::hash_token;
use crate::{ClientContext, EventKind, Refusal, Service, ServiceError};

/// A live token and what it stands for.
pub(crate) struct LiveToken {
    pub(crate) row: OidcToken,
    pub(crate) client: OidcClient,
    pub(crate) identity: Identity,
}

impl Service {
    /// The row a presented token is recorded under: an access token is a
    /// JWT we signed (its `jti`), anything else is a refresh token's value.
    async fn token_hash(&self, token: &str) -> Result<Vec<u8>, ServiceError> {
        if token.contains('.') {
            if let Some(claims) = signing::verify_jwt(self, token, "at+jwt").await? {
                if let Some(jti) = claims.get("jti").and_then(Value::as_str) {
                    return Ok(hash_token(jti));
                }
            }
        }
        Ok(hash_token(token))
    }

    /// The live token behind `token`, if it is one.
    pub(crate) async fn live_token(
        &self,
        tx: &mut ReadTx,
        token: &str,
    ) -> Result<Option<LiveToken>, ServiceError> {
        let now = self.now_ms();
        let hash = self.token_hash(token).await?;
        let Some(row) = tx.oidc_token(&hash).await? else {
            return Ok(None);
        };
        if row.revoked_ms.is_some() || row.expires_ms <= now || row.used_ms.is_some() {
            return Ok(None);
        }
        let Some(session) = tx.live_session(&row.session_hash, now).await? else {
            return Ok(None);
        };
        if session.identity_id != row.identity_id {
            return Ok(None);
        }
        let Some(client) = tx.oidc_client(&row.client_id).await? else {
            return Ok(None);
        };
        let Some(identity) = tx
            .identity_by_id(&row.identity_id)
            .await?
            .filter(|i| i.status == keybound_store::IdentityStatus::Active)
        else {
            return Ok(None);
        };
        Ok(Some(LiveToken {
            row,
            client,
            identity,
        }))
    }

    /// UserInfo for a bearer access token: `sub` and what its scope
    /// releases. Not a live access token: [`OAuthError::InvalidToken`],
    /// audited.
    pub async fn oidc_userinfo(
        &self,
        bearer: Option<&str>,
        ctx: &ClientContext,
    ) -> Result<Value, OidcError> {
        let event = self.event(EventKind::OidcUserinfo, ctx);
        self.oidc_ready().await?;
        let live = match bearer {
            Some(token) if token.len() <= keybound_jose::MAX_TOKEN_LEN => {
                let mut tx = self.kernel.store.read().await?;
                self.live_token(&mut tx, token).await?
            }
            _ => None,
        };
        let Some(live) = live.filter(|l| l.row.kind == "access") else {
            return Err(self
                .refuse_oidc(event, Refusal::OidcUnknownToken, OAuthError::InvalidToken)
                .await);
        };
        let mut claims = Map::new();
        let sub = self.oidc_subject(&live.client, &live.identity.id).await?;
        claims.insert("sub".into(), json!(sub));
        person_claims(&live.identity, &live.row.scope, &mut claims);
        Ok(Value::Object(claims))
    }

    /// Revocation (RFC 7009): the client revokes one of its own tokens (a
    /// refresh token takes its family with it). Answered alike whether or
    /// not there was anything to revoke (§2.2); refused only when the
    /// client does not authenticate.
    pub async fn oidc_revoke(
        &self,
        params: &OidcParams,
        credentials: &ClientCredentials,
        ctx: &ClientContext,
    ) -> Result<(), OidcError> {
        let mut event = self.event(EventKind::OidcRevoke, ctx);
        self.oidc_ready().await?;
        if params.any_oversized() {
            return Err(self
                .refuse_oidc(
                    event,
                    Refusal::OidcOversizedParameter,
                    OAuthError::InvalidRequest,
                )
                .await);
        }
        // A task token may be revoked by whoever holds it (issue 18).
        if let Some(()) = self.revoke_task_token(params, ctx).await? {
            return Ok(());
        }
        let client = match self.authenticate_client(params, credentials).await {
            Ok(client) => client,
            Err((reason, OidcError::OAuth(told))) => {
                return Err(self.refuse_oidc(event, reason, told).await)
            }
            Err((_, internal)) => return Err(internal),
        };
        event
            .details
            .insert("client_id".into(), client.client_id.clone());
        let token = match params.require("token") {
            Ok(token) => token,
            Err(reason) => {
                return Err(self
                    .refuse_oidc(event, reason, OAuthError::InvalidRequest)
                    .await)
            }
        };
        let hash = self.token_hash(token).await?;
        let now = self.now_ms();
        let mut tx = self.kernel.store.begin().await?;
        let row = tx
            .oidc_token(&hash)
            .await?
            .filter(|r| r.client_id == client.client_id);
        let revoked = match row {
            Some(row) if row.kind == "refresh" => {
                tx.revoke_oidc_family(&row.family_id, now).await?
            }
            Some(_) => u64::from(tx.revoke_oidc_token(&hash, &client.client_id, now).await?),
            None => 0,
        };
        event.outcome = Some(Outcome::Success);
        event.details.insert("revoked".into(), revoked.to_string());
        tx.record(event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Introspection (RFC 7662) for a confidential client (a resource
    /// server registered as one): `{"active": false}` for anything not
    /// live, else what the token stands for.
    pub async fn oidc_introspect(
        &self,
        params: &OidcParams,
        credentials: &ClientCredentials,
        ctx: &ClientContext,
    ) -> Result<Value, OidcError> {
        let event = self.event(EventKind::OidcIntrospect, ctx);
        self.oidc_ready().await?;
        if params.any_oversized() {
            return Err(self
                .refuse_oidc(
                    event,
                    Refusal::OidcOversizedParameter,
                    OAuthError::InvalidRequest,
                )
                .await);
        }
        match self.authenticate_client(params, credentials).await {
            Ok(client) if !client.public => {}
            Ok(_) => {
                return Err(self
                    .refuse_oidc(
                        event,
                        Refusal::OidcClientAuthFailed,
                        OAuthError::InvalidClient,
                    )
                    .await)
            }
            Err((reason, OidcError::OAuth(told))) => {
                return Err(self.refuse_oidc(event, reason, told).await)
            }
            Err((_, internal)) => return Err(internal),
        }
        let token = match params.require("token") {
            Ok(token) => token,
            Err(reason) => {
                return Err(self
                    .refuse_oidc(event, reason, OAuthError::InvalidRequest)
                    .await)
            }
        };
        if let Some(answer) = self.introspect_task_token(token).await? {
            return Ok(answer);
        }
        let mut tx = self.kernel.store.read().await?;
        let Some(live) = self.live_token(&mut tx, token).await? else {
            return Ok(json!({"active": false}));
        };
        drop(tx);
        let sub = self.oidc_subject(&live.client, &live.identity.id).await?;
        let mut answer = json!({
            "active": true,
            "scope": live.row.scope,
            "client_id": live.client.client_id,
            "username": live.identity.name,
            "exp": live.row.expires_ms / 1000,
            "iat": live.row.created_ms / 1000,
            "sub": sub,
            "aud": live.client.client_id,
            "iss": self.config.oidc.issuer,
        });
        // RFC 7662 §2.2: the RFC 6749 §5.1 type; a refresh token has none.
        if let (Some(fields), "access") = (answer.as_object_mut(), live.row.kind.as_str()) {
            fields.insert("token_type".into(), json!("Bearer"));
        }
        Ok(answer)
    }
}
