//! keybound's use cases. Each public method of [`Service`] is one use case:
//! it runs in one store transaction and appends its audit event in that same
//! transaction. A refused ceremony rolls its transaction back and records
//! only the refusal, with the precise reason, in a transaction of its own.
//!
//! HTTP handlers and CLI commands call these methods and nothing below them.
//! The clock and the RNG are injected so tests can fix both.
#![warn(missing_docs)]
#![cfg_attr(
    test,
    allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

pub mod access;
mod agents;
mod config;
mod dbsc;
mod devices;
pub mod forward;
mod kernel;
pub mod oidc;
mod people;
pub mod policy;
pub mod posture;
mod principal;
mod transparency;
mod trust;
mod workloads;

// The contexts' modules under their short names, so a use case names
// `crate::tiers` or `crate::tokens` without caring which context owns it.
use kernel::{
    backchannel, error, events, keys, observe, record, refusal, single_use, tier, tokens,
};
use people::{
    account, alerts, authentication, bounds, ceremony, console, decoys, directory, invitations,
    invite, offboard, rate_limit, recovery, registration, roles, sessions,
};
use trust::{metadata, tiers};

use std::sync::Arc;

use keybound_store::Store;

pub use access::{
    AccessAction, AccessContext, AccessDecision, AccessPrincipal, AccessRequest, AccessResource,
    PolicyLoad,
};
pub use account::{Account, InvitationState, OpenRecovery, Revoked};
pub use agents::{
    AgentView, NewAgent, TaskFilter, TaskRequest, TaskSettings, TaskStatus, TaskView,
};
pub use agents::{TokenProof, TOKEN_EXCHANGE};
pub use alerts::AlertThresholds;
pub use authentication::{AuthenticationRequest, SignedIn};
pub use backchannel::{LogoutRetry, OutgoingLogout, LOGOUT_BACKOFF_MS, MAX_LOGOUT_ATTEMPTS};
pub use config::{
    Clock, Config, DevicePolicy, DeviceTrust, OidcSettings, Policy, RecoveryPolicy, SystemClock,
};
pub use console::{duration_ms, AuditFilter, AuditPage};
pub use dbsc::{DbscBound, DbscGate, BOUND_COOKIE, DBSC_BIND_WINDOW_MS, MAX_DBSC_SESSION_ID};
pub use devices::{Decommissioned, DeviceView, EnrolledDevice};
pub use directory::{PeoplePage, PeopleQuery, MAX_PEOPLE_PAGE};
pub use error::ServiceError;
pub use events::EventKind;
pub use forward::{ForwardDecision, ForwardedRequest, Grant};
pub use invitations::{InvitedRole, OpenInvitation};
pub use invite::Invitation;
pub use keybound_audit::{AuditEvent, Outcome};
/// The naming rule (`keybound-names`), for callers that show or check names.
pub use keybound_names as names;
/// The access policies (`keybound-policy`), for callers that load a set.
pub use keybound_policy as policies;
pub use keybound_store::IdentityKind;
pub use keybound_store::OidcClient;
pub use keybound_store::{Credential, CredentialStatus, Identity, IdentityStatus};
pub use keys::{KeyChange, KeyPurpose, KeyRotation, SigningKey};
pub use metadata::MetadataImport;
pub use observe::{
    ALERTS_METRIC, AUDIT_EVENTS_METRIC, CEREMONIES_METRIC, CREDENTIAL_PREFIX, FLAGGED_METRIC,
    REFUSALS_METRIC,
};
pub use offboard::Offboarded;
pub use oidc::{
    Authorized, ClientCredentials, ClientRegistration, LoggedOut, OAuthError, OidcError,
    OidcParams, RegisteredClient,
};
pub use people::sharing::{Shared, SHARE_EVERY, SHARE_METRIC};
pub use policy::{ADMIN_MIN_TIER, STEP_UP_WINDOW_MS};
pub use principal::{Actor, Admin, Operator};
pub use rate_limit::{IssuedChallenge, RateLimits};
pub use recovery::{Approval, PendingRecovery};
pub use refusal::Refusal;
pub use registration::{Enrolled, RegistrationRequest, RegistrationStart};
pub use roles::{PendingRole, RoleGrant};
pub use sessions::LiveSession;
pub use single_use::TokenKind;
pub use tier::Tier;
pub use tiers::{limited, session_tier, standing, Limits, ModelEvidence, Standing};
pub use tokens::{hash_token, Token};
// Issue 19: state reconciled against the audit log.
pub use kernel::reconcile::{Difference, Reconciliation};
pub use transparency::{
    GivenCheckpoint, InclusionProof, KeySource, LogProblem, LogReport, ProblemKind, TagSummary,
    TransparencySettings, AUDIT_SEALER_LEASE, MAX_SEAL_BATCH, WITNESS_FAILURES_METRIC,
};
pub use workloads::{
    EntryView, FederationView, JoinToken, NewEntry, NodeCall, NodeView, UpstreamCa,
    WorkloadSettings, LOCAL_ATTESTATION, LOCAL_NODE,
};

/// Where a request came from, for the audit record.
#[derive(Debug, Clone, Default)]
pub struct ClientContext {
    /// Client address.
    pub ip: Option<String>,
    /// User agent.
    pub user_agent: Option<String>,
    /// User-Agent Client Hints the browser sent (claims, recorded as
    /// posture at a device proof, never trusted over attestation).
    pub hints: posture::ClientHints,
}

/// A cryptographic RNG the service may share across requests.
pub type SharedRng = std::sync::Mutex<Box<dyn rand_core::CryptoRng + Send>>;

/// The use cases over one store, configuration, clock and RNG.
pub struct Service {
    config: Config,
    /// Clock, RNG, keys: what every context shares.
    kernel: kernel::Kernel,
    /// People: ceremonies, accounts, recovery, the console.
    people: people::People,
    /// Trust: attestation roots and metadata.
    trust: trust::Trust,
    /// The authorization seam: policies and the denial limiter.
    access: access::Access,
    /// Forward-auth: the node's session cache.
    forward: forward::Forward,
    /// The OpenID Connect provider's state on this node.
    oidc: oidc::Oidc,
    /// Workload identity: the CA authorities this node has loaded.
    workloads: workloads::Workloads,
    /// Agents: task uses counted on this node since the last flush.
    agents: agents::Agents,
    /// DPoP: the nonce key, once loaded (issue 18).
    dpop: agents::nonce::NonceKey,
    /// The audit log's sealer on this node: its key, what it last signed.
    transparency: transparency::Transparency,
}

impl Service {
    /// A service over `store`.
    pub fn new(
        store: Store,
        config: Config,
        clock: Arc<dyn Clock>,
        rng: Box<dyn rand_core::CryptoRng + Send>,
    ) -> Self {
        let kernel = kernel::Kernel::new(store, clock, rng);
        let forward = forward::Forward::default();
        // One observer per store: the audit log's, then the cache's drops.
        kernel.store.observe(Arc::new(forward::Observers {
            first: Arc::new(observe::AuditObserver),
            cache: forward.cache.clone(),
        }));
        let transparency = transparency::Transparency::new(&config);
        if let Some(key) = &transparency.event_mac {
            kernel.store.tag_audit_events(key.clone());
        }
        let node: [u8; 8] = kernel.random();
        Service {
            trust: trust::Trust::new(&config),
            people: people::People::new(&config, keybound_webauthn::b64::encode(&node)),
            access: access::Access::new(),
            kernel,
            forward,
            oidc: oidc::Oidc::default(),
            workloads: workloads::Workloads::default(),
            agents: agents::Agents::default(),
            dpop: agents::nonce::NonceKey::default(),
            transparency,
            config,
        }
    }

    /// The store, for read-only views (audit export and verify).
    pub fn store(&self) -> &Store {
        &self.kernel.store
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// 32 random bytes from the service's RNG (cookie values).
    pub fn random_bytes(&self) -> [u8; 32] {
        self.random()
    }

    fn now_ms(&self) -> i64 {
        self.kernel.now_ms()
    }

    fn random<const N: usize>(&self) -> [u8; N] {
        self.kernel.random()
    }
}
