//! The kernel: what every context shares and none owns. The store, the clock and the
//! RNG (injected, so tests fix both), key custody, the tables of names the
//! audit log records (event kinds, refusal reasons), tokens and the
//! single-use rule, and the one error type. Contexts (`people`, `trust`,
//! later `devices`, `workloads`, `oidc`, `agents`) build on it and never
//! on each other's state.

pub(crate) mod backchannel;
pub(crate) mod error;
pub(crate) mod events;
pub(crate) mod keys;
pub(crate) mod observe;
pub(crate) mod record;
pub(crate) mod refusal;
pub(crate) mod single_use;
pub(crate) mod tier;
pub(crate) mod tokens;
// Issue 19: the log replayed against the state (`audit reconcile`).
pub(crate) mod reconcile;

use std::sync::{Arc, Mutex};

use keybound_store::Store;

use keybound_audit::NewEvent;

use crate::record::Record;
use crate::{bounds, ClientContext, Clock, EventKind, Refusal, ServiceError, SharedRng};

/// Store, clock, RNG and keys.
pub(crate) struct Kernel {
    /// The one store every context's use cases run their transactions on.
    pub(crate) store: Store,
    clock: Arc<dyn Clock>,
    rng: SharedRng,
    /// The signing keys this deployment holds.
    pub(crate) keys: keys::KeyCustody,
}

impl Kernel {
    pub(crate) fn new(
        store: Store,
        clock: Arc<dyn Clock>,
        rng: Box<dyn rand_core::CryptoRng + Send>,
    ) -> Self {
        store.observe(Arc::new(observe::AuditObserver));
        Kernel {
            store,
            clock,
            rng: Mutex::new(rng),
            keys: keys::KeyCustody::default(),
        }
    }

    /// Now, ms since the epoch, from the injected clock.
    pub(crate) fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// The injected RNG, for code that draws from it directly (WebAuthn
    /// options). A poisoned lock only means another request panicked
    /// mid-fill; the RNG state is still an RNG.
    pub(crate) fn rng(&self) -> std::sync::MutexGuard<'_, Box<dyn rand_core::CryptoRng + Send>> {
        self.rng.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `N` bytes from the injected RNG.
    pub(crate) fn random<const N: usize>(&self) -> [u8; N] {
        let mut out = [0u8; N];
        self.rng().fill_bytes(&mut out);
        out
    }
}

/// Building audit events and settling refusals: every context's events
/// start here, so time, kind and client context are filled the same way.
impl crate::Service {
    /// Records a refused administrative action (its own transaction: the
    /// action's was dropped) and returns [`ServiceError::Rejected`].
    pub(crate) async fn record_refusal(
        &self,
        mut event: NewEvent,
        reason: Refusal,
        detail: Option<String>,
    ) -> ServiceError {
        event.outcome = Some(keybound_audit::Outcome::Failure);
        event.reason = Some(match detail {
            Some(detail) => format!("{}: {detail}", reason.reason()),
            None => reason.reason().to_owned(),
        });
        let recorded = async {
            let mut tx = self.kernel.store.begin().await?;
            tx.record(event).await?;
            tx.commit().await
        };
        match recorded.await {
            Ok(()) => ServiceError::Rejected(reason),
            Err(e) => e.into(),
        }
    }

    pub(crate) fn event(&self, kind: EventKind, ctx: &ClientContext) -> NewEvent {
        let (ip, user_agent) = bounds::context(ctx);
        NewEvent {
            time_ms: self.now_ms(),
            kind: kind.as_str().to_owned(),
            ip,
            user_agent,
            ..NewEvent::default()
        }
    }
}
