//! The audit log's sealer (issue 19), run by every server: the holder of
//! the `audit-sealer` lease signs a checkpoint of the events committed
//! since the last one, every `--audit-seal-interval`; the others check
//! the lease and wait, and take over within the lease (3 s) if the holder
//! dies. A graceful stop gives the lease up at once.

use std::sync::Arc;
use std::time::Duration;

use keybound_service::Service;

use super::Job;

/// How often the sealer runs on this node.
pub(crate) fn seal_every(service: &Service) -> Duration {
    Duration::from_millis(
        service
            .config()
            .transparency
            .seal_interval_ms
            .clamp(10, 1000),
    )
}

/// A random id for this node as the sealer's lease holder: a restarted
/// process is a new holder, so it waits out a lease its previous life
/// held rather than signing beside a still-running twin.
pub(crate) fn holder_id(service: &Service) -> String {
    let bytes = service.random_bytes();
    let hex: String = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("node-{hex}")
}

/// One run of the sealer.
pub(crate) struct SealAuditLog {
    pub(crate) service: Arc<Service>,
    pub(crate) holder: String,
}

impl Job for SealAuditLog {
    async fn run(&mut self) {
        match self.service.seal_audit_log(&self.holder).await {
            Ok(Some(cp)) => tracing::debug!(size = cp.size, "audit log sealed"),
            Ok(None) => {}
            Err(e) => tracing::error!(
                target: "keybound::audit",
                error = %e,
                "the audit sealer failed; the next run tries again"
            ),
        }
    }
}
