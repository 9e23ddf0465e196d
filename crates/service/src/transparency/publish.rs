//! What the log publishes to monitors besides its checkpoints: the
//! consistency proof between two tree sizes, so a monitor holding an older
//! checkpoint can check the newer one extends it (RFC 9162 §2.1.4) without
//! trusting the server.

use keybound_audit::merkle::{self, Hash};

use super::proofs::proof_error;
use crate::{Service, ServiceError};

impl Service {
    /// The consistency proof from the tree of `old` leaves to the signed
    /// checkpoint of `new` leaves, or `None` when the sizes do not name
    /// one (`old` is 0 or above `new`, or no checkpoint of exactly `new`
    /// leaves was signed: a proof to an unsigned size proves nothing a
    /// monitor can check). The nodes come from the stored tree, which
    /// covers every signed size.
    pub async fn audit_consistency(
        &self,
        old: u64,
        new: u64,
    ) -> Result<Option<Vec<Hash>>, ServiceError> {
        if old == 0 || old > new {
            return Ok(None);
        }
        let mut tx = self.kernel.store.read().await?;
        if tx.audit_checkpoint(new).await?.is_none() {
            return Ok(None);
        }
        let ids = merkle::consistency_nodes(old, new).map_err(proof_error)?;
        let nodes = tx.audit_nodes(&ids).await?;
        merkle::consistency_proof(old, new, &nodes)
            .map(Some)
            .map_err(proof_error)
    }
}
