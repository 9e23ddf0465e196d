//! The one authorization seam for requests to apps: forward-auth asks it for
//! every proxied request, the OIDC provider for every authorization. Its
//! input is what Cedar decides on (principal, action, resource, context);
//! its answer is allow, deny, sign in, or step up to a named tier, with the
//! policies that decided, so a denial can be explained and audited.
//!
//! A step-up is found, not configured: when a signed-in request is denied,
//! the same request is asked again as if its session had proved a higher
//! tier just now; if that would be allowed, the answer is a step-up to the
//! lowest such tier, never a silent denial and never less than asked for.

mod denials;
mod lookup;
mod policies;

pub(crate) use denials::Denials;
pub use policies::PolicyLoad;
pub(crate) use policies::{age_s, decide_with, Policies};

use crate::{IdentityKind, Tier};

/// Who is asking: a signed-in identity as policy sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessPrincipal {
    /// The identity's opaque id (Cedar's entity id).
    pub id: String,
    /// Person, device, workload or agent.
    pub kind: IdentityKind,
    /// The account name.
    pub name: String,
    /// Its groups (`admin` or `user` today).
    pub groups: Vec<String>,
    /// Whether the identity is active (only active ones have sessions).
    pub active: bool,
}

/// What is being done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessAction {
    /// An HTTP request with this method (upper case, as sent), through
    /// forward-auth.
    Http(String),
    /// An OpenID Connect authorization for a client.
    OidcAuthorize,
    /// Using the admin console (decided by the default admin rule).
    AdminConsole,
    /// An agent asks for a task on an API (`task:request`, issue 18). The
    /// task actions are decided over `AccessContext::task_request` and
    /// never answered with a step-up.
    TaskRequest,
    /// The task may start without a person's approval (`task:unattended`).
    TaskUnattended,
    /// A person approves an agent's task (`task:approve`).
    TaskApprove,
}

/// What it is done to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessResource {
    /// A route of an app behind forward-auth: host (lower case, no port
    /// unless a non-default one was asked for) and path (no query).
    Route {
        /// The host the client asked for.
        host: String,
        /// The path, without the query.
        path: String,
    },
    /// An OpenID Connect client.
    OidcClient {
        /// Its `client_id`.
        client_id: String,
    },
    /// The admin console.
    Console,
    /// An API an agent's task may touch, by its resource URI (RFC 8707).
    Api {
        /// The URI, as the task records it.
        uri: String,
    },
}

/// The facts of the request that are neither who nor what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessContext {
    /// The tier the session proved (0 without a session).
    pub tier: i64,
    /// Whether the sign-in verified the user.
    pub user_verified: bool,
    /// Seconds since that proof.
    pub auth_age_s: i64,
    /// The client's address, when known.
    pub client_ip: Option<String>,
    /// Now, seconds since the epoch.
    pub now_s: i64,
    /// Whether the person has as many passkeys as the backup rule wants.
    pub backup_met: bool,
    /// Whether the session is bound to a browser key (DBSC) and this
    /// request carried its live bound cookie (`context.session_bound`).
    pub session_bound: bool,
    /// The device the session was proven on (`context.device`): set when
    /// the session's credential binds a trusted or untrusted device.
    pub device: Option<keybound_policy::DeviceContext>,
    /// The task of an agent's DPoP-bound task token on a forward-auth
    /// request (`context.task`); `None` for every other request.
    pub task: Option<keybound_policy::TaskGrant>,
    /// The task asked for, for the task actions (which see it, with
    /// `tier`, `user_verified`, `now_s` and `client_ip`, as Cedar's
    /// `TaskContext`); `None` for every other action.
    pub task_request: Option<keybound_policy::TaskFacts>,
}

/// One question for the seam.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRequest {
    /// Who; `None` for a request without a live session.
    pub principal: Option<AccessPrincipal>,
    /// What.
    pub action: AccessAction,
    /// To what.
    pub resource: AccessResource,
    /// In which circumstances.
    pub context: AccessContext,
}

/// The seam's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessDecision {
    /// Allowed; the policies that permitted it.
    Allow {
        /// Ids of the deciding policies.
        policies: Vec<String>,
    },
    /// No live session: sign in first.
    SignIn,
    /// Allowed only after a sign-in proving at least `tier` now.
    StepUp {
        /// The lowest tier that would be allowed.
        tier: Tier,
    },
    /// Denied, and no step-up would change that; the policies that
    /// forbade it (empty: nothing permitted it, the default deny).
    Deny {
        /// Ids of the deciding policies.
        policies: Vec<String>,
    },
}

impl crate::Service {
    /// Decides `request` from memory, over the loaded policy set (no store
    /// access: forward-auth asks on every proxied request). With no set
    /// loaded (the defaults failed to load, which a test rules out) every
    /// request is denied.
    pub fn decide(&self, request: &AccessRequest) -> AccessDecision {
        let set = self.access.policies.current();
        decide_with(set.as_deref(), request, self.config.step_up_window_ms)
    }

    /// The decision `set` gives (a set not in use: `keybound policy
    /// check` asks the one the server would load), with the policies that
    /// failed to evaluate and a sentence explaining it
    /// ([`keybound_policy::Decision::explain`]).
    pub fn explain(
        &self,
        set: &keybound_policy::PolicySet,
        request: &AccessRequest,
    ) -> keybound_policy::Decision {
        set.decide(&policies::to_policy(request, self.config.step_up_window_ms))
    }
}

/// The seam's state: the loaded policies and the denial limiter.
pub(crate) struct Access {
    pub(crate) policies: Policies,
    pub(crate) denials: Denials,
}

impl Access {
    pub(crate) fn new() -> Access {
        Access {
            policies: Policies::with_defaults(),
            denials: Denials::default(),
        }
    }
}
