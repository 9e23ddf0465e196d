//! The kernel: what every context shares and none owns. The clock and the
//! RNG (injected, so tests fix both), key custody, the tables of names the
//! audit log records (event kinds, refusal reasons), tokens and the
//! single-use rule, and the one error type. Contexts (`people`, `trust`,
//! later `devices`, `workloads`, `oidc`, `agents`) build on it and never
//! on each other's state.

pub(crate) mod error;
pub(crate) mod events;
pub(crate) mod keys;
pub(crate) mod record;
pub(crate) mod refusal;
pub(crate) mod single_use;
pub(crate) mod tier;
pub(crate) mod tokens;

use std::sync::{Arc, Mutex};

use crate::{Clock, SharedRng};

/// Clock, RNG and keys.
pub(crate) struct Kernel {
    clock: Arc<dyn Clock>,
    rng: SharedRng,
    /// The signing keys this deployment holds.
    pub(crate) keys: keys::KeyCustody,
}

impl Kernel {
    pub(crate) fn new(clock: Arc<dyn Clock>, rng: Box<dyn rand_core::CryptoRng + Send>) -> Self {
        Kernel {
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
