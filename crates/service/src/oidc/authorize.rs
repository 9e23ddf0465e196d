//! The authorization endpoint's decision (OIDC Core §3.1.2, RFC 6749
//! §4.1.1, RFC 7636). In order: the client and its exact redirect URI
//! (until both are known good nothing is redirected anywhere: an error
//! page instead); then `response_type=code`, `openid` in the scope, PKCE
//! S256, `prompt`, `max_age`, `acr_values` (errors from here on go back
//! to the verified redirect URI, RFC 6749 §4.1.2.1); then the session:
//! none → sign in first, too weak or too old → step up, `prompt=none` →
//! `login_required`/`interaction_required`; then the access seam; then a
//! code, taken once through the single-use table, with its bound state.

use keybound_audit::{NewEvent, Outcome};
use keybound_store::{CredentialStatus, OidcClient, OidcCode};

use crate::oidc::claims::{acr, amr, granted_scope, tier_for_acr_values};
use crate::oidc::params::OidcParams;
use crate::oidc::{pkce_syntax, OAuthError, OidcError};
use crate::record::Record;
use crate::single_use::TokenKind;
use crate::tokens::hash_token;
use crate::{
    AccessAction, AccessContext, AccessDecision, AccessPrincipal, AccessRequest, AccessResource,
    ClientContext, EventKind, Refusal, Service,
};

/// How long a code may be exchanged, ms.
pub(crate) const CODE_TTL_MS: i64 = 60_000;

/// Where the browser goes next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authorized {
    /// Back to the client's verified redirect URI, with a code (or an
    /// RFC 6749 §4.1.2.1 error): the full URL.
    Redirect(String),
    /// No session: the sign-in page, then back (a relative URL).
    SignIn(String),
    /// The session is too weak or too old: a step-up proving at least the
    /// tier in the URL, then back (a relative URL).
    StepUp(String),
    /// The client or redirect URI is unknown or wrong: never redirect,
    /// show this (generic) message.
    ErrorPage(&'static str),
}

/// A parameter `prompt=login` is replaced by in the return URL: the time
/// (s) the person must have signed in after, so coming back does not ask
/// again while a session older than the request is still refused.
const AUTH_AFTER: &str = "kb_auth_after";

fn relative(params: &[(&str, &str)]) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        query.append_pair(k, v);
    }
    format!("/oauth2/authorize?{}", query.finish())
}

fn encoded(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// A redirect to `redirect_uri` with `pairs` added to its query.
fn back_to(redirect_uri: &str, pairs: &[(&str, &str)]) -> Authorized {
    match url::Url::parse(redirect_uri) {
        Ok(mut url) => {
            {
                let mut query = url.query_pairs_mut();
                for (k, v) in pairs {
                    query.append_pair(k, v);
                }
            }
            Authorized::Redirect(url.into())
        }
        Err(_) => Authorized::ErrorPage("The application's address is not valid."),
    }
}

/// The verified redirect URI's error reply, with `state` when it was
/// readable and `iss` (RFC 9207).
struct ErrorReply<'a> {
    redirect_uri: &'a str,
    state: Option<&'a str>,
    issuer: &'a str,
}

impl ErrorReply<'_> {
    fn error(&self, error: OAuthError) -> Authorized {
        let mut pairs = vec![("error", error.code())];
        if let Some(state) = self.state {
            pairs.push(("state", state));
        }
        pairs.push(("iss", self.issuer));
        back_to(self.redirect_uri, &pairs)
    }
}

impl Service {
    /// Decides an authorization request from the browser holding
    /// `session_token` (its session cookie, if any). Every refusal is
    /// audited (`oidc.authorize`, failure, with its reason); a code issued
    /// is too. Sign-in and step-up redirects are not refusals and are not
    /// recorded.
    pub async fn oidc_authorize(
        &self,
        session_token: Option<&str>,
        params: &OidcParams,
        ctx: &ClientContext,
    ) -> Result<Authorized, OidcError> {
        let mut event = self.event(EventKind::OidcAuthorize, ctx);
        self.oidc_ready().await?;
        // The client and its redirect URI, before anything is redirected.
        let page = "The application asked for something keybound cannot do.";
        let (Ok(Some(client_id)), Ok(Some(redirect_uri))) =
            (params.get("client_id"), params.get("redirect_uri"))
        else {
            let reason = match (params.get("client_id"), params.get("redirect_uri")) {
                (Err(r), _) | (_, Err(r)) => r,
                _ => Refusal::OidcMalformedRequest,
            };
            self.refuse_oidc(event, reason, OAuthError::InvalidRequest)
                .await;
            return Ok(Authorized::ErrorPage(page));
        };
        event
            .details
            .insert("client_id".into(), client_id.chars().take(128).collect());
        let mut tx = self.kernel.store.read().await?;
        let Some(client) = tx.oidc_client(client_id).await? else {
            drop(tx);
            self.refuse_oidc(
                event,
                Refusal::OidcUnknownClient,
                OAuthError::InvalidRequest,
            )
            .await;
            return Ok(Authorized::ErrorPage(page));
        };
        if !client.redirect_uris.iter().any(|u| u == redirect_uri) {
            drop(tx);
            self.refuse_oidc(
                event,
                Refusal::OidcRedirectUriMismatch,
                OAuthError::InvalidRequest,
            )
            .await;
            return Ok(Authorized::ErrorPage(page));
        }
        drop(tx);
        let reply = ErrorReply {
            redirect_uri,
            state: params.get("state").ok().flatten(),
            issuer: &self.config.oidc.issuer,
        };
        match self
            .authorize_for(&client, redirect_uri, session_token, params, &mut event)
            .await
        {
            Ok(next) => Ok(next),
            Err((reason, OidcError::OAuth(told))) => {
                match self.refuse_oidc(event, reason, told).await {
                    OidcError::OAuth(told) => Ok(reply.error(told)),
                    internal => Err(internal),
                }
            }
            Err((_, internal)) => Err(internal),
        }
    }

    /// Everything after the redirect URI is verified: an error here goes
    /// back to it.
    async fn authorize_for(
        &self,
        client: &OidcClient,
        redirect_uri: &str,
        session_token: Option<&str>,
        params: &OidcParams,
        event: &mut NewEvent,
    ) -> Result<Authorized, (Refusal, OidcError)> {
        let invalid = |r: Refusal| (r, OidcError::OAuth(OAuthError::InvalidRequest));
        if params.any_oversized() {
            return Err(invalid(Refusal::OidcOversizedParameter));
        }
        let get = |name| params.get(name).map_err(invalid);
        match get("response_type")? {
            Some("code") => {}
            None => return Err(invalid(Refusal::OidcMalformedRequest)),
            Some(_) => {
                return Err((
                    Refusal::OidcUnsupportedResponseType,
                    OidcError::OAuth(OAuthError::UnsupportedResponseType),
                ))
            }
        }
        let scope = granted_scope(get("scope")?.unwrap_or(""));
        if !scope.split(' ').any(|s| s == "openid") {
            return Err((
                Refusal::OidcScopeWithoutOpenid,
                OidcError::OAuth(OAuthError::InvalidScope),
            ));
        }
        let challenge = get("code_challenge")?;
        let (Some(challenge), Some("S256")) = (challenge, get("code_challenge_method")?) else {
            return Err(invalid(Refusal::OidcPkceRequired));
        };
        if challenge.len() != 43 || !pkce_syntax(challenge, 43) {
            return Err(invalid(Refusal::OidcPkceRequired));
        }
        let prompt: Vec<&str> = get("prompt")?.unwrap_or("").split(' ').collect();
        let none = prompt.contains(&"none");
        if none && prompt.len() > 1 {
            return Err(invalid(Refusal::OidcMalformedRequest));
        }
        let number = |name| -> Result<Option<i64>, (Refusal, OidcError)> {
            match get(name)? {
                None => Ok(None),
                Some(v) => v
                    .parse::<u32>()
                    .map(|n| Some(i64::from(n)))
                    .map_err(|_| invalid(Refusal::OidcMalformedRequest)),
            }
        };
        let max_age = number("max_age")?;
        let auth_after = number(AUTH_AFTER)?;
        let wanted_tier = get("acr_values")?.and_then(tier_for_acr_values);
        let nonce = get("nonce")?;
        get("state")?;

        // The session.
        let now = self.now_ms();
        let mut tx = self.kernel.store.read().await.map_err(internal)?;
        let signed_in = match session_token {
            Some(token) => self.signed_in(&mut tx, token).await.ok(),
            None => None,
        };
        let Some((session, identity)) = signed_in else {
            if none {
                return Err(login_required(Refusal::SessionEnded));
            }
            return Ok(Authorized::SignIn(format!(
                "/?rd={}",
                encoded(&relative(&params.without(&[])))
            )));
        };
        event.subject = Some(identity.name.clone());
        event.credential_id = Some(keybound_webauthn::b64::encode(&session.credential_id));
        let age_s = (now - session.created_ms).max(0) / 1000;
        // Back without `prompt` and with the time the new proof must
        // follow, so the return is not sent round again.
        let step_up = |tier: i64| {
            let after = (now / 1000).to_string();
            let mut back = params.without(&["prompt", AUTH_AFTER]);
            back.push((AUTH_AFTER, &after));
            format!(
                "/step-up?rd={}&tier={}",
                encoded(&relative(&back)),
                tier.max(1)
            )
        };
        let needed = wanted_tier.unwrap_or(1);
        let proved_s = session.created_ms / 1000;
        // A time in the future is not one we wrote: ignored.
        let after = auth_after.filter(|after| *after <= now / 1000);
        let must_reauth = (prompt.contains(&"login") && after.is_none())
            || after.is_some_and(|after| proved_s < after)
            || max_age.is_some_and(|max| age_s > max);
        if must_reauth {
            if none {
                return Err(login_required(Refusal::SessionNotFresh));
            }
            return Ok(Authorized::StepUp(step_up(needed.max(session.tier))));
        }
        if session.tier < needed {
            if none {
                return Err((
                    Refusal::SessionTierTooLow,
                    OidcError::OAuth(OAuthError::InteractionRequired),
                ));
            }
            return Ok(Authorized::StepUp(step_up(needed)));
        }

        // The access seam.
        let credentials = tx
            .credentials_of(&identity.id)
            .await
            .map_err(internal)?
            .into_iter()
            .filter(|c| c.status == CredentialStatus::Active)
            .count();
        let (device, _) = crate::posture::session_device(
            &mut tx,
            &session.credential_id,
            now,
            self.config.posture_max_age_ms,
        )
        .await
        .map_err(internal)?;
        // Bound and live: the server's gate took the session cookie away
        // from a bound session without its live bound cookie, so a bound
        // session that got this far proved its key.
        let session_bound = tx
            .dbsc_session_of(&session.id_hash)
            .await
            .map_err(internal)?
            .is_some_and(|b| b.ended_ms.is_none());
        drop(tx);
        let request = AccessRequest {
            principal: Some(AccessPrincipal {
                id: identity.id.clone(),
                kind: identity.kind,
                name: identity.name.clone(),
                groups: vec![if identity.is_admin { "admin" } else { "user" }.to_owned()],
                active: true,
            }),
            action: AccessAction::OidcAuthorize,
            resource: AccessResource::OidcClient {
                client_id: client.client_id.clone(),
            },
            context: AccessContext {
                tier: session.tier,
                user_verified: session.user_verified,
                auth_age_s: age_s,
                client_ip: event.ip.clone(),
                now_s: now / 1000,
                backup_met: credentials >= self.config.policy.min_credentials,
                session_bound,
                device,
                task: None,
                task_request: None,
            },
        };
        match self.decide(&request) {
            AccessDecision::Allow { policies } => {
                if !policies.is_empty() {
                    event.details.insert("policies".into(), policies.join(" "));
                }
            }
            AccessDecision::SignIn | AccessDecision::StepUp { .. } if none => {
                return Err((
                    Refusal::SessionTierTooLow,
                    OidcError::OAuth(OAuthError::InteractionRequired),
                ))
            }
            AccessDecision::SignIn => return Ok(Authorized::StepUp(step_up(1))),
            AccessDecision::StepUp { tier } => {
                return Ok(Authorized::StepUp(step_up(tier.number())))
            }
            AccessDecision::Deny { policies } => {
                event.details.insert("policies".into(), policies.join(" "));
                let ctx = ClientContext {
                    ip: event.ip.clone(),
                    user_agent: event.user_agent.clone(),
                    hints: Default::default(),
                };
                let denied = AccessDecision::Deny { policies };
                self.record_denial(&request, &denied, &ctx)
                    .await
                    .map_err(internal)?;
                return Err((
                    Refusal::OidcAccessDenied,
                    OidcError::OAuth(OAuthError::AccessDenied),
                ));
            }
        }

        // A code, once.
        let sid = self
            .oidc_sid(&client.client_id, &session.id_hash)
            .await
            .map_err(internal)?;
        let mut tx = self.kernel.store.begin().await.map_err(internal)?;
        let code = self
            .issue_single_use(&mut tx, TokenKind::OidcCode, CODE_TTL_MS)
            .await
            .map_err(internal)?;
        let state = OidcCode {
            code_hash: hash_token(&code.value),
            client_id: client.client_id.clone(),
            redirect_uri: redirect_uri.to_owned(),
            code_challenge: challenge.to_owned(),
            nonce: nonce.map(str::to_owned),
            scope,
            session_hash: session.id_hash.clone(),
            sid,
            identity_id: identity.id.clone(),
            auth_time_ms: session.created_ms,
            acr: acr(session.tier).to_owned(),
            amr: amr(session.tier, session.user_verified).join(" "),
            created_ms: now,
            expires_ms: now + CODE_TTL_MS,
        };
        tx.insert_oidc_code(&state).await.map_err(internal)?;
        let mut done = event.clone();
        done.outcome = Some(Outcome::Success);
        done.details.insert("acr".into(), state.acr.clone());
        tx.record(done).await.map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        let mut pairs = vec![("code", code.value.as_str())];
        if let Some(state) = get("state")? {
            pairs.push(("state", state));
        }
        pairs.push(("iss", &self.config.oidc.issuer));
        Ok(back_to(redirect_uri, &pairs))
    }
}

/// Our own failure (the refusal is never recorded for it).
fn internal(e: impl Into<OidcError>) -> (Refusal, OidcError) {
    (Refusal::OidcMalformedRequest, e.into())
}

fn login_required(reason: Refusal) -> (Refusal, OidcError) {
    (reason, OidcError::OAuth(OAuthError::LoginRequired))
}
