//! People: binding persons to passkeys. Enrolment (invitation, signed-in,
//! open, recovery), sign-in and step-up, self-service, M-of-N recovery,
//! roles, offboarding and the console's views; and this node's in-memory
//! state for them (rate limits, anomaly detectors, decoy shapes).

pub(crate) mod account;
pub(crate) mod admin;
pub(crate) mod alerts;
pub(crate) mod authentication;
pub(crate) mod bounds;
pub(crate) mod ceremony;
pub(crate) mod console;
pub(crate) mod decoys;
pub(crate) mod directory;
pub(crate) mod housekeeping;
pub(crate) mod invitations;
pub(crate) mod invite;
pub(crate) mod offboard;
pub(crate) mod rate_limit;
pub(crate) mod recovery;
pub(crate) mod registration;
pub(crate) mod roles;
pub(crate) mod sessions;
pub(crate) mod standing;
// Issue 19: limits and anomaly windows shared across nodes.
pub(crate) mod sharing;

/// The people context's state on this node.
pub(crate) struct People {
    /// Ceremony rate limits.
    pub(crate) limiter: rate_limit::Limiter,
    /// Anomaly detectors.
    pub(crate) detectors: alerts::Detectors,
    /// The shapes decoy sign-in options are drawn from.
    pub(crate) decoys: decoys::Decoys,
    /// This node's side of the limits shared across nodes.
    pub(crate) sharing: sharing::Sharing,
}

impl People {
    /// `node` names this node in the shared tables; `config` says whether
    /// it shares, and keys the detectors' target hashes.
    pub(crate) fn new(config: &crate::Config, node: String) -> Self {
        let limiter = rate_limit::Limiter::default();
        limiter.buckets.share(config.shared_limits);
        People {
            limiter,
            detectors: alerts::Detectors::new(
                crate::tokens::sha256(
                    &[b"detectors".as_slice(), &config.enumeration_secret].concat(),
                )
                .try_into()
                .unwrap_or([0; 32]),
                config.shared_limits,
            ),
            decoys: decoys::Decoys::new(),
            sharing: sharing::Sharing::new(node),
        }
    }
}

/// Looking a person up by the name someone typed: [`ReadTx::identity_by_name`]
/// restricted to persons, so no people-facing use case (offboarding,
/// sessions, credentials, recovery, sign-in options…) ever acts on a
/// device's identity (issue 16: devices are identities too, found by
/// `device_by_name`).
pub(crate) trait PersonByName {
    /// The person `name` means, if any.
    async fn person_by_name(
        &mut self,
        name: &str,
    ) -> Result<Option<keybound_store::Identity>, keybound_store::StoreError>;
}

impl PersonByName for keybound_store::ReadTx {
    async fn person_by_name(
        &mut self,
        name: &str,
    ) -> Result<Option<keybound_store::Identity>, keybound_store::StoreError> {
        Ok(self
            .identity_by_name(name)
            .await?
            .filter(|i| i.kind == keybound_store::IdentityKind::Person))
    }
}
