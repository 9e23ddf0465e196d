//! Who is asking. Every use case takes the principal the authorization
//! seam ([`crate::Service::authorize_admin`], the session look-up inside
//! each self-service use case) produced, never a name or a bare
//! [`Identity`]: an [`Admin`] cannot be built outside this crate, so a
//! handler that forgot the admin rule does not compile.
//!
//! ```compile_fail,E0451
//! // An Admin is only made by the admin rule: no constructor, no literal.
//! let identity: keybound_service::Identity = todo!();
//! let admin = keybound_service::Admin { identity, tier: 3, proved_ms: 0 };
//! ```
//!
//! ```compile_fail,E0308
//! // Admin use cases want an Admin, and an Identity is not one.
//! async fn approve(service: &keybound_service::Service, who: &keybound_service::Identity) {
//!     let _ = service.approve_role(who, "id", &Default::default()).await;
//! }
//! ```

use std::ops::Deref;

use keybound_store::Identity;

/// An active administrator whose session met the admin rule
/// ([`crate::policy::admin_rule`]) when the request arrived. Each admin
/// use case checks again, inside its own transaction, that they are still
/// an administrator ([`crate::Service`]'s `still_admin`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admin {
    identity: Identity,
    tier: i64,
    proved_ms: i64,
}

impl Admin {
    /// Only the admin rule makes one.
    pub(crate) fn admitted(identity: Identity, tier: i64, proved_ms: i64) -> Admin {
        Admin {
            identity,
            tier,
            proved_ms,
        }
    }

    /// An `Admin` for `identity` without the admin rule, as a handle that
    /// went stale would be (admitted, then demoted or offboarded): only for
    /// this crate's tests of the re-checks inside each admin use case.
    #[cfg(feature = "test-support")]
    #[doc(hidden)]
    pub fn stale_for_tests(identity: Identity) -> Admin {
        Admin {
            identity,
            tier: 2,
            proved_ms: 0,
        }
    }

    /// The administrator's identity.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// The tier the session proved.
    pub fn tier(&self) -> i64 {
        self.tier
    }

    /// When that proof was made, ms.
    pub fn proved_ms(&self) -> i64 {
        self.proved_ms
    }
}

/// An `Admin` reads as the identity it is, so views can show its name.
impl Deref for Admin {
    type Target = Identity;

    fn deref(&self) -> &Identity {
        &self.identity
    }
}

/// The local operator: whoever runs `keybound admin …` against the
/// database. Holding the database already means holding everything, so the
/// operator is trusted as such; what they do is still audited under the
/// name they give (`cli` by default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    name: String,
}

impl Operator {
    /// The operator at this machine, recorded in the audit log as `name`.
    pub fn local(name: &str) -> Operator {
        Operator {
            name: name.to_owned(),
        }
    }

    /// The name the audit log records.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// Who an action that both may take is done by.
#[derive(Debug, Clone, Copy)]
pub enum Actor<'a> {
    /// The local operator.
    Operator(&'a Operator),
    /// An administrator at the console.
    Admin(&'a Admin),
}

impl Actor<'_> {
    /// The name the audit log records as the actor.
    pub fn name(&self) -> &str {
        match self {
            Actor::Operator(operator) => operator.name(),
            Actor::Admin(admin) => &admin.identity.name,
        }
    }
}

impl<'a> From<&'a Operator> for Actor<'a> {
    fn from(operator: &'a Operator) -> Self {
        Actor::Operator(operator)
    }
}

impl<'a> From<&'a Admin> for Actor<'a> {
    fn from(admin: &'a Admin) -> Self {
        Actor::Admin(admin)
    }
}
