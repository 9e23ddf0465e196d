//! Forward-auth: the decision real proxies (nginx `auth_request`, Traefik
//! ForwardAuth, Caddy `forward_auth`, Envoy `ext_authz`) ask for on every
//! request to an app. The session is found in memory (`cache`), the
//! question goes to the one authorization seam ([`crate::Service::decide`]),
//! and the answer says who the app may trust the request is from.
//!
//! Served from memory so it is fast; kept fresh by the audit log, which is
//! already the feed of every change a session's access depends on
//! (`changes.rs`).

mod cache;
mod changes;
mod request;

use std::sync::Arc;

use crate::access::{AccessAction, AccessContext, AccessPrincipal, AccessRequest, AccessResource};
use crate::tokens::hash_token;
use crate::{AccessDecision, ClientContext, Service, ServiceError, Tier};
use cache::{CachedSession, SessionCache};
use keybound_store::{CredentialStatus, IdentityStatus};

pub(crate) use changes::Observers;
pub use changes::FOLLOW_EVERY;
pub use request::{ForwardedRequest, Malformed, MAX_HOST, MAX_METHOD, MAX_URI};

/// Longest session cookie looked up: a minted one is 43 characters, and
/// hashing a megabyte of cookie for nothing is not a favour to anyone.
const MAX_COOKIE: usize = 128;

/// The group every identity is in; administrators are in `admin` instead.
pub const USER_GROUP: &str = "user";
/// The group of administrators.
pub const ADMIN_GROUP: &str = "admin";

/// The node's forward-auth state: its session cache and how far it has
/// followed the audit log.
#[derive(Debug, Default)]
pub(crate) struct Forward {
    pub(crate) cache: SessionCache,
    seen: changes::Watermark,
}

/// Who a granted request is from, for the app (the `Remote-*` headers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The account name (`Remote-User`).
    pub user: String,
    /// The display name (`Remote-Name`); the account name until identities
    /// carry one.
    pub name: String,
    /// Its groups (`Remote-Groups`).
    pub groups: Vec<String>,
    /// The tier the session proved (`Remote-Tier`); for an agent's task
    /// token, the tier of the task's approval (0 when unattended).
    pub tier: i64,
    /// The agent making the request with a task token (`Remote-Agent`).
    pub agent: Option<String>,
    /// The task it acts under (`Remote-Task`).
    pub task: Option<String>,
}

/// What forward-auth answers a proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForwardDecision {
    /// Let the request through, as this person.
    Allow(Grant),
    /// No live session: sign in, then come back.
    SignIn,
    /// Signed in, but the route wants a sign-in proving at least this tier
    /// now.
    StepUp(Tier),
    /// Signed in and not allowed; the policies that decided.
    Deny {
        /// Who asked.
        user: String,
        /// Ids of the deciding policies.
        policies: Vec<String>,
    },
    /// A DPoP-bound task token (or its proof) that does not hold: 401
    /// with `WWW-Authenticate: DPoP error="<error>"` (RFC 9449 §7.1).
    Unauthorized {
        /// `invalid_token`, `invalid_dpop_proof` or `use_dpop_nonce`.
        error: &'static str,
        /// A fresh nonce for the `DPoP-Nonce` header.
        nonce: Option<String>,
    },
}

impl Service {
    /// Decides whether the proxied `request` may reach the app, for the
    /// browser holding `session_cookie` (and `bound_cookie`, the DBSC
    /// bound cookie, which a device-bound session needs too: without a
    /// live one the session is as none). The session comes from this
    /// node's cache (filled from the store on a miss); the decision from
    /// [`Service::decide`]. A cookie that names no live session is as no
    /// cookie: sign in. A denial of a signed-in request is recorded
    /// (`access.denied`, at most once a minute per person, route and
    /// method: [`Service::record_denial`]).
    ///
    /// Errors: [`ServiceError::Internal`] when the store fails on a miss.
    pub async fn forward_auth(
        &self,
        session_cookie: Option<&str>,
        bound_cookie: Option<&str>,
        request: &ForwardedRequest,
        ctx: &ClientContext,
    ) -> Result<ForwardDecision, ServiceError> {
        let now = self.now_ms();
        let session = match session_cookie {
            Some(cookie) if !cookie.is_empty() && cookie.len() <= MAX_COOKIE => {
                self.cached_session(cookie, now).await?
            }
            _ => None,
        };
        // A device-bound session admits only with its live bound cookie: a
        // session cookie copied without the key is as no cookie.
        let session = session.filter(|s| match &s.bound {
            None => true,
            Some(id) => self.bound_cookie_admits(id, &s.session_hash, bound_cookie),
        });
        let access = AccessRequest {
            principal: session.as_deref().map(|s| AccessPrincipal {
                id: s.identity_id.clone(),
                kind: s.kind,
                name: s.name.clone(),
                groups: s.groups.clone(),
                active: true,
            }),
            action: AccessAction::Http(request.method().to_owned()),
            resource: AccessResource::Route {
                host: request.host().to_owned(),
                path: request.path().to_owned(),
            },
            context: AccessContext {
                tier: session.as_deref().map_or(0, |s| s.tier),
                user_verified: session.as_deref().is_some_and(|s| s.user_verified),
                auth_age_s: session
                    .as_deref()
                    .map_or(0, |s| now.saturating_sub(s.proved_ms).max(0) / 1000),
                client_ip: ctx.ip.clone(),
                now_s: now / 1000,
                backup_met: session.as_deref().is_some_and(|s| s.backup_met),
                // Bound and admitted: the filter above let a bound session
                // through only with its live bound cookie.
                session_bound: session.as_deref().is_some_and(|s| s.bound.is_some()),
                device: session.as_deref().and_then(|s| s.device.clone()),
                task: None,
                task_request: None,
            },
        };
        let decision = self.decide(&access);
        if let (AccessDecision::Deny { .. }, Some(_)) = (&decision, &session) {
            // Best effort, as the limiter already is: the answer is a
            // denial whether or not it could be written down, and a proxy
            // told "try again" would only ask again.
            if let Err(e) = self.record_denial(&access, &decision, ctx).await {
                tracing::warn!(error = %e, "a forward-auth denial could not be recorded");
            }
        }
        Ok(match (decision, session) {
            (AccessDecision::Allow { .. }, Some(s)) => ForwardDecision::Allow(Grant {
                user: s.name.clone(),
                name: s.name.clone(),
                groups: s.groups.clone(),
                tier: s.tier,
                agent: None,
                task: None,
            }),
            // Allowed without a session: still nobody the app could be
            // told about, so sign in.
            (AccessDecision::Allow { .. } | AccessDecision::SignIn, _) => ForwardDecision::SignIn,
            (AccessDecision::StepUp { tier }, Some(_)) => ForwardDecision::StepUp(tier),
            (AccessDecision::StepUp { .. }, None) => ForwardDecision::SignIn,
            (AccessDecision::Deny { policies }, Some(s)) => ForwardDecision::Deny {
                user: s.name.clone(),
                policies,
            },
            (AccessDecision::Deny { .. }, None) => ForwardDecision::SignIn,
        })
    }

    /// The live session behind `cookie`, from the cache or (on a miss)
    /// from the store, then cached.
    async fn cached_session(
        &self,
        cookie: &str,
        now: i64,
    ) -> Result<Option<Arc<CachedSession>>, ServiceError> {
        let hash = hash_token(cookie);
        let cache = &self.forward.cache;
        if let Some(hit) = cache.get(&hash, now) {
            return Ok(Some(hit));
        }
        let generation = cache.generation();
        let mut tx = self.kernel.store.read().await?;
        let Some(session) = tx.live_session(&hash, now).await? else {
            return Ok(None);
        };
        let Some(identity) = tx
            .identity_by_id(&session.identity_id)
            .await?
            .filter(|i| i.status == IdentityStatus::Active)
        else {
            return Ok(None);
        };
        let active = tx
            .credentials_of(&identity.id)
            .await?
            .iter()
            .filter(|c| c.status == CredentialStatus::Active)
            .count();
        let (device, fresh_until_ms) = crate::posture::session_device(
            &mut tx,
            &session.credential_id,
            now,
            self.config.posture_max_age_ms,
        )
        .await?;
        let bound = tx.dbsc_session_of(&hash).await?.map(|b| b.id);
        drop(tx);
        let group = if identity.is_admin {
            ADMIN_GROUP
        } else {
            USER_GROUP
        };
        let entry = Arc::new(CachedSession {
            identity_id: identity.id,
            kind: identity.kind,
            name: identity.name,
            groups: vec![group.to_owned()],
            tier: session.tier,
            user_verified: session.user_verified,
            proved_ms: session.created_ms,
            expires_ms: session.expires_ms,
            backup_met: !crate::policy::lacks_backup(&self.config.policy, active),
            device,
            fresh_until_ms,
            bound,
            session_hash: hash.clone(),
        });
        cache.insert(hash, entry.clone(), generation, now);
        Ok(Some(entry))
    }
}
