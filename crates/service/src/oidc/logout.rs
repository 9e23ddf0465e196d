//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): a client
//! sends the person here with the ID token it holds (`id_token_hint`);
//! the keybound session that token came from ends, with every token
//! issued on it, and the browser returns to a `post_logout_redirect_uri`
//! only when the client registered it.
//!
//! The request arrives cross-site by design and the session cookie is
//! `SameSite=Strict`, so the session is found through the hint (its `sid`),
//! never through the cookie: a page cannot sign a person out without an
//! ID token of theirs, which only the client holds. No hint, or one this
//! provider did not sign (`alg: none` included): refused, audited.

use keybound_audit::Outcome;
use keybound_store::EndingSessions;
use serde_json::Value;

use crate::oidc::params::OidcParams;
use crate::oidc::{signing, OAuthError, OidcError};
use crate::record::Record;
use crate::{ClientContext, EventKind, Refusal, Service};

/// Where the browser goes after a logout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoggedOut {
    /// To the client's registered `post_logout_redirect_uri` (with
    /// `state`): the full URL.
    Redirect(String),
    /// Nowhere in particular: show "signed out".
    Page,
}

impl Service {
    /// Ends the session behind `id_token_hint` (see the module docs).
    /// Refusals are [`OAuthError::InvalidRequest`], shown as a page.
    pub async fn oidc_logout(
        &self,
        params: &OidcParams,
        ctx: &ClientContext,
    ) -> Result<LoggedOut, OidcError> {
        let mut event = self.event(EventKind::OidcLogout, ctx);
        self.oidc_ready().await?;
        let refuse = |reason| (reason, OAuthError::InvalidRequest);
        let checked = async {
            if params.any_oversized() {
                return Err(refuse(Refusal::OidcOversizedParameter));
            }
            let hint = params.require("id_token_hint").map_err(refuse)?;
            let back = params
                .get("post_logout_redirect_uri")
                .map_err(refuse)?
                .map(str::to_owned);
            let state = params.get("state").map_err(refuse)?.map(str::to_owned);
            let asked_client = params.get("client_id").map_err(refuse)?;
            let claims = signing::verify_jwt(self, hint, "JWT")
                .await
                .map_err(|_| refuse(Refusal::OidcBadIdTokenHint))?
                .ok_or(refuse(Refusal::OidcBadIdTokenHint))?;
            let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_owned);
            let (Some(iss), Some(aud), Some(sid)) = (text("iss"), text("aud"), text("sid")) else {
                return Err(refuse(Refusal::OidcBadIdTokenHint));
            };
            if iss != self.config.oidc.issuer || asked_client.is_some_and(|c| c != aud) {
                return Err(refuse(Refusal::OidcBadIdTokenHint));
            }
            Ok((aud, sid, back, state))
        };
        let (client_id, sid, back, state) = match checked.await {
            Ok(found) => found,
            Err((reason, told)) => return Err(self.refuse_oidc(event, reason, told).await),
        };
        event.details.insert("client_id".into(), client_id.clone());
        let now = self.now_ms();
        let mut tx = self.kernel.store.begin().await?;
        let Some(client) = tx.oidc_client(&client_id).await? else {
            drop(tx);
            return Err(self
                .refuse_oidc(
                    event,
                    Refusal::OidcUnknownClient,
                    OAuthError::InvalidRequest,
                )
                .await);
        };
        if back
            .as_ref()
            .is_some_and(|b| !client.post_logout_redirect_uris.contains(b))
        {
            drop(tx);
            return Err(self
                .refuse_oidc(
                    event,
                    Refusal::OidcLogoutUriUnknown,
                    OAuthError::InvalidRequest,
                )
                .await);
        }
        if let Some(session_hash) = tx.oidc_session_of_sid(&client_id, &sid).await? {
            if let Some(session) = tx.live_session(&session_hash, now).await? {
                event.subject = tx
                    .identity_by_id(&session.identity_id)
                    .await?
                    .map(|i| i.name);
                event.credential_id = Some(keybound_webauthn::b64::encode(&session.credential_id));
            }
            self.sessions_ending(&mut tx, EndingSessions::Session(&session_hash))
                .await?;
            let ended = tx.end_session(&session_hash, now).await?;
            let revoked = tx.revoke_oidc_tokens_of_session(&session_hash, now).await?;
            event.details.insert("ended".into(), ended.to_string());
            event.details.insert("revoked".into(), revoked.to_string());
        }
        event.outcome = Some(Outcome::Success);
        tx.record(event).await?;
        tx.commit().await?;
        Ok(match back {
            Some(back) => match url::Url::parse(&back) {
                Ok(mut url) => {
                    if let Some(state) = state {
                        url.query_pairs_mut().append_pair("state", &state);
                    }
                    LoggedOut::Redirect(url.into())
                }
                Err(_) => LoggedOut::Page,
            },
            None => LoggedOut::Page,
        })
    }
}
