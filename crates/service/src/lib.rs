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

mod account;
mod admin;
mod alerts;
mod authentication;
mod bounds;
mod ceremony;
mod config;
mod console;
mod decoys;
mod error;
mod housekeeping;
mod invite;
mod metadata;
mod offboard;
mod rate_limit;
mod recovery;
mod registration;
mod roles;
mod tiers;
mod tokens;

use std::sync::{Arc, Mutex};

use keybound_audit::NewEvent;
use keybound_store::Store;

pub use account::{Account, InvitationState, OpenRecovery, Revoked, STEP_UP_WINDOW_MS};
pub use alerts::AlertThresholds;
pub use authentication::{AuthenticationRequest, SignedIn};
pub use config::{Clock, Config, Policy, RecoveryPolicy, SystemClock};
pub use console::{duration_ms, AuditFilter, AuditPage, ADMIN_MIN_TIER};
pub use error::ServiceError;
pub use invite::Invitation;
pub use keybound_audit::{AuditEvent, Outcome};
/// The naming rule (`keybound-names`), for callers that show or check names.
pub use keybound_names as names;
pub use keybound_store::{Credential, CredentialStatus, Identity, IdentityStatus};
pub use metadata::MetadataImport;
pub use offboard::Offboarded;
pub use rate_limit::{IssuedChallenge, RateLimits};
pub use recovery::{Approval, PendingRecovery};
pub use registration::{Enrolled, RegistrationRequest, RegistrationStart};
pub use roles::{PendingRole, RoleGrant};
pub use tiers::{limited, session_tier, standing, Limits, ModelEvidence, Standing};
pub use tokens::{hash_token, Token};

/// Where a request came from, for the audit record.
#[derive(Debug, Clone, Default)]
pub struct ClientContext {
    /// Client address.
    pub ip: Option<String>,
    /// User agent.
    pub user_agent: Option<String>,
}

/// A cryptographic RNG the service may share across requests.
pub type SharedRng = Mutex<Box<dyn rand_core::CryptoRng + Send>>;

/// The use cases over one store, configuration, clock and RNG.
pub struct Service {
    store: Store,
    config: Config,
    clock: Arc<dyn Clock>,
    rng: SharedRng,
    /// The current metadata BLOB, parsed, with its serial.
    metadata: Mutex<Option<(u64, Arc<keybound_metadata::MetadataBlob>)>>,
    /// This node's ceremony rate limits.
    limiter: rate_limit::Limiter,
    /// This node's anomaly detectors.
    detectors: alerts::Detectors,
    /// The shapes decoy sign-in options are drawn from.
    decoys: decoys::Decoys,
}

impl Service {
    /// A service over `store`.
    pub fn new(
        store: Store,
        config: Config,
        clock: Arc<dyn Clock>,
        rng: Box<dyn rand_core::CryptoRng + Send>,
    ) -> Self {
        Service {
            store,
            config,
            clock,
            rng: Mutex::new(rng),
            metadata: Mutex::new(None),
            limiter: rate_limit::Limiter::default(),
            detectors: alerts::Detectors::default(),
            decoys: decoys::Decoys::new(),
        }
    }

    /// The store, for read-only views (audit export and verify).
    pub fn store(&self) -> &Store {
        &self.store
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
        self.clock.now_ms()
    }

    fn random<const N: usize>(&self) -> [u8; N] {
        let mut out = [0u8; N];
        // A poisoned lock only means another request panicked mid-fill; the
        // RNG state is still an RNG.
        let mut rng = self.rng.lock().unwrap_or_else(|p| p.into_inner());
        rng.fill_bytes(&mut out);
        out
    }

    /// Records a refused administrative action (its own transaction: the
    /// action's was dropped) and returns [`ServiceError::Rejected`].
    async fn record_refusal(
        &self,
        mut event: NewEvent,
        reason: &'static str,
        detail: Option<String>,
    ) -> ServiceError {
        event.outcome = Some(keybound_audit::Outcome::Failure);
        event.reason = Some(match detail {
            Some(detail) => format!("{reason}: {detail}"),
            None => reason.to_owned(),
        });
        let recorded = async {
            let mut tx = self.store.begin().await?;
            tx.append_audit(event).await?;
            tx.commit().await
        };
        match recorded.await {
            Ok(()) => ServiceError::Rejected(reason),
            Err(e) => e.into(),
        }
    }

    fn event(&self, kind: &str, ctx: &ClientContext) -> NewEvent {
        let (ip, user_agent) = bounds::context(ctx);
        NewEvent {
            time_ms: self.now_ms(),
            kind: kind.to_owned(),
            ip,
            user_agent,
            ..NewEvent::default()
        }
    }
}
