//! Workload identity (issue 17): registration entries, attested nodes and
//! their join tokens, node proofs, the sync that hands a node its
//! entries, SVIDs and bundles, JWT-SVIDs, and revocation (node
//! decommission, entry removal, an owner's offboarding).
//!
//! Management is for the operator or an administrator ([`crate::Actor`],
//! re-checked in each transaction); nodes are authenticated by their node
//! key (`proof`), bound at attestation. Every change commits with its
//! `workload.*` event; every refusal is recorded alone with its reason.
//!
//! - `spiffe`: the shapes of SPIFFE IDs, selectors, names (one place).
//! - `entries`: add, list, show, remove; offboarding's hook.
//! - `nodes`: join tokens, join-token attestation, list, show, decommission.
//! - `proof`: the node proof (`kb-node+jwt`) every node call carries.
//! - `sync`: a node's entries, SVIDs, bundles and CRLs; JWT-SVIDs.
//! - `ca`: the bundle, X.509-SVID issuance, CRLs.
//! - `authority`, `rotation`, `seal`: the CA's authorities, their phases,
//!   their keys at rest.
//! - `federation`: federated trust domains and their bundles.

pub(crate) mod authority;
pub(crate) mod ca;
pub(crate) mod entries;
pub(crate) mod federation;
pub(crate) mod local;
pub(crate) mod nodes;
pub(crate) mod proof;
pub(crate) mod rotation;
pub(crate) mod seal;
pub(crate) mod spiffe;
pub(crate) mod sync;
pub(crate) mod tpm;

pub use entries::{EntryView, NewEntry};
pub use federation::FederationView;
pub use local::{LOCAL_ATTESTATION, LOCAL_NODE};
pub use nodes::{JoinToken, NodeView};
pub use proof::NodeCall;

use keybound_audit::{NewEvent, Outcome, Severity};

use crate::{ClientContext, EventKind, Refusal, Service, ServiceError};

/// Workload identity settings (`--trust-domain`, `--svid-ttl`,
/// `--jwt-svid-ttl`, `--ca-ttl`, the CA's keys).
#[derive(Clone)]
pub struct WorkloadSettings {
    /// The trust domain; `None`: the RP ID.
    pub trust_domain: Option<String>,
    /// Default X.509-SVID lifetime, seconds (SPIRE's 1 h).
    pub svid_ttl_s: u32,
    /// Default JWT-SVID lifetime, seconds (SPIRE's 5 min).
    pub jwt_svid_ttl_s: u32,
    /// X.509 authority lifetime, seconds (SPIRE's 24 h).
    pub ca_ttl_s: u32,
    /// How far a node proof's `iat` may be from now, ms.
    pub proof_window_ms: i64,
    /// The longest a join token may live, ms.
    pub max_join_token_ttl_ms: i64,
    /// The operator's key that seals the CA's private keys (AES-256-GCM).
    pub ca_key_encryption_key: Option<[u8; 32]>,
    /// The organisation's CA to sign keybound's authorities under
    /// (`--ca-cert/--ca-key`); `None`: a self-signed root per trust domain.
    pub upstream: Option<UpstreamCa>,
    /// TPM manufacturer roots (`--tpm-ek-roots`); empty: TPM attestation
    /// is refused.
    pub tpm_ek_roots: std::sync::Arc<keybound_tpm::EkRoots>,
}

/// The organisation's CA (`--ca-cert/--ca-key`).
#[derive(Clone)]
pub struct UpstreamCa {
    /// Its certificate, DER.
    pub cert_der: Vec<u8>,
    /// Its private key, PKCS#8 DER.
    pub key_pkcs8: Vec<u8>,
}

impl std::fmt::Debug for WorkloadSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        f.debug_struct("WorkloadSettings")
            .field("trust_domain", &self.trust_domain)
            .field("svid_ttl_s", &self.svid_ttl_s)
            .field("jwt_svid_ttl_s", &self.jwt_svid_ttl_s)
            .field("ca_ttl_s", &self.ca_ttl_s)
            .field("proof_window_ms", &self.proof_window_ms)
            .field("max_join_token_ttl_ms", &self.max_join_token_ttl_ms)
            .field(
                "ca_key_encryption_key",
                &self.ca_key_encryption_key.is_some(),
            )
            .field("tpm_ek_roots", &!self.tpm_ek_roots.is_empty())
            .field("upstream", &self.upstream.is_some())
            .finish()
    }
}

impl Default for WorkloadSettings {
    fn default() -> Self {
        WorkloadSettings {
            trust_domain: None,
            svid_ttl_s: 3600,
            jwt_svid_ttl_s: 300,
            ca_ttl_s: 86_400,
            proof_window_ms: 60_000,
            max_join_token_ttl_ms: 7 * 24 * 3600 * 1000,
            ca_key_encryption_key: None,
            upstream: None,
            tpm_ek_roots: std::sync::Arc::default(),
        }
    }
}

/// A server's workload state: the CA authorities it has loaded.
#[derive(Default)]
pub(crate) struct Workloads {
    /// Authorities by id, their keys opened once.
    pub(crate) authorities: authority::Authorities,
}

/// Node statuses, as stored.
pub(crate) mod status {
    /// Attested and in service.
    pub const ACTIVE: &str = "active";
    /// Retired for good.
    #[allow(dead_code)]
    pub const DECOMMISSIONED: &str = "decommissioned";
}

impl Service {
    /// This deployment's trust domain.
    pub fn trust_domain(&self) -> &str {
        self.config
            .workloads
            .trust_domain
            .as_deref()
            .unwrap_or(&self.config.rp_id)
    }

    /// A node's SPIFFE ID.
    pub(crate) fn node_spiffe_id(&self, name: &str) -> String {
        format!(
            "spiffe://{}{}{name}",
            self.trust_domain(),
            spiffe::NODE_PATH
        )
    }

    /// A workload event by `actor` about `subject`.
    pub(crate) fn workload_event(
        &self,
        kind: EventKind,
        ctx: &ClientContext,
        actor: &str,
        subject: &str,
    ) -> NewEvent {
        let mut event = self.event(kind, ctx);
        event.actor = Some(actor.to_owned());
        event.subject = Some(subject.to_owned());
        event.subject_kind = Some(keybound_store::IdentityKind::Workload.as_str().to_owned());
        event.outcome = Some(Outcome::Success);
        event
    }

    /// Records a refused node call (`workload.node.refused`, warning) and
    /// returns the rejection. Call it with no transaction open.
    pub(crate) async fn refuse_node(
        &self,
        ctx: &ClientContext,
        node: Option<&str>,
        refusal: Refusal,
        detail: Option<String>,
    ) -> ServiceError {
        let mut event = self.event(EventKind::WorkloadNodeRefused, ctx);
        event.actor = node.map(str::to_owned);
        event.subject = node.map(str::to_owned);
        event.subject_kind = Some(keybound_store::IdentityKind::Workload.as_str().to_owned());
        event.severity = Some(Severity::Warning);
        self.record_refusal(event, refusal, detail).await
    }
}
