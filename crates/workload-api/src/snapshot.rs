//! What the node agent holds for its workloads, and how the Workload API
//! server reads it.
//!
//! The agent publishes a whole new [`Snapshot`] on every change (a
//! `tokio::sync::watch` channel in the server); each Workload API stream
//! re-matches its caller against it and sends the complete current set, so
//! an entry removed upstream disappears from the next message.

use crate::wire::{BundleView, EntryView};

/// One workload identity ready to hand out.
#[derive(Clone)]
pub struct Identity {
    /// The entry it was issued for.
    pub entry: EntryView,
    /// Leaf first, DER.
    pub chain: Vec<Vec<u8>>,
    /// The leaf's private key, PKCS#8 DER. Never logged.
    pub key_pkcs8: Vec<u8>,
    /// The leaf's notAfter, ms since the epoch.
    pub expires_at_ms: i64,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("entry", &self.entry.id)
            .field("spiffe_id", &self.entry.spiffe_id)
            .field("expires_at_ms", &self.expires_at_ms)
            .finish_non_exhaustive()
    }
}

/// Everything the node's workloads may receive, as of one sync.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// This trust domain (`example.org`); empty before the first sync.
    pub trust_domain: String,
    /// Identities with a current SVID.
    pub identities: Vec<Identity>,
    /// This trust domain's bundle.
    pub bundle: Option<BundleView>,
    /// Federated trust domains' bundles.
    pub federated: Vec<BundleView>,
    /// CRLs of this trust domain's authorities, DER.
    pub crls: Vec<Vec<u8>>,
}

impl Snapshot {
    /// The identities whose every selector the caller has, in entry order.
    pub fn matching<'a>(&'a self, caller: &'a [String]) -> impl Iterator<Item = &'a Identity> + 'a {
        self.identities
            .iter()
            .filter(move |i| i.entry.selectors.iter().all(|s| caller.contains(s)))
    }
}
