//! Proofs an auditor checks offline with nothing but the log's public key:
//! that an event is in a signed checkpoint (inclusion, RFC 9162 §2.1.3),
//! and that a later checkpoint extends an earlier one (consistency,
//! §2.1.4). Both are built from the complete subtrees the sealer stored
//! (`audit_tree`), read by the two-phase API of `keybound_audit::merkle`:
//! name the nodes, read them, build the proof.

use keybound_audit::checkpoint::VerifierKey;
use keybound_audit::merkle::{self, Hash, ProofError};
use keybound_audit::AuditEvent;
use keybound_store::AuditCheckpointRow;

use crate::{Service, ServiceError};

/// An inclusion proof of one event in a signed checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InclusionProof {
    /// The event's sequence number.
    pub seq: u64,
    /// Its leaf index (`seq - 1`).
    pub index: u64,
    /// The tree size the proof is against (the checkpoint's).
    pub size: u64,
    /// The event as stored (its canonical bytes make the leaf).
    pub event: AuditEvent,
    /// `SHA-256(0x00 || canonical bytes)`.
    pub leaf_hash: Hash,
    /// The audit path, leaf upward.
    pub proof: Vec<Hash>,
    /// The signed checkpoint of `size` leaves the path leads to.
    pub checkpoint: AuditCheckpointRow,
    /// The verifier key the database holds for the checkpoint's key id
    /// (an auditor should check against a key obtained elsewhere).
    pub key: Option<VerifierKey>,
}

pub(super) fn proof_error(e: ProofError) -> ServiceError {
    match e {
        ProofError::LeafOutOfRange | ProofError::BadSizes => ServiceError::NotFound,
        ProofError::Missing(m) => ServiceError::Internal(format!("audit tree: {m}")),
    }
}

impl Service {
    /// The inclusion proof of event `seq` against the checkpoint of `size`
    /// leaves, or (without `size`) the smallest checkpoint covering it.
    /// [`ServiceError::NotFound`] when there is no such event or no such
    /// checkpoint (not sealed yet). The proof is checked before it is
    /// returned: a stored tree that no longer leads to the signed root is
    /// an [`ServiceError::Internal`] naming it, never a proof that fails
    /// later in an auditor's hands.
    pub async fn audit_inclusion_proof(
        &self,
        seq: u64,
        size: Option<u64>,
    ) -> Result<InclusionProof, ServiceError> {
        let index = seq.checked_sub(1).ok_or(ServiceError::NotFound)?;
        let store = self.store();
        let mut tx = store.read().await?;
        let checkpoint = match size {
            Some(size) if size > index => tx.audit_checkpoint(size).await?,
            Some(_) => None,
            None => tx.audit_checkpoint_covering(seq).await?,
        }
        .ok_or(ServiceError::NotFound)?;
        let ids = merkle::inclusion_nodes(index, checkpoint.size).map_err(proof_error)?;
        let nodes = tx.audit_nodes(&ids).await?;
        let key = tx
            .audit_keys()
            .await?
            .into_iter()
            .filter(|k| k.key_id == checkpoint.key_id)
            .find_map(|k| {
                let public = <[u8; 32]>::try_from(k.public_key.as_slice()).ok()?;
                VerifierKey::new(&k.origin, public).ok()
            });
        drop(tx);
        let proof = merkle::inclusion_proof(index, checkpoint.size, &nodes).map_err(proof_error)?;
        let event = store
            .audit_after(index, 1)
            .await?
            .into_iter()
            .next()
            .filter(|e| e.seq == seq)
            .ok_or(ServiceError::NotFound)?;
        let leaf_hash = keybound_audit::leaf_hash(&event);
        if !merkle::verify_inclusion(index, checkpoint.size, &leaf_hash, &proof, &checkpoint.root) {
            return Err(ServiceError::Internal(format!(
                "event {seq} and the stored tree no longer lead to the root signed at size {}: \
                 run `keybound audit verify`",
                checkpoint.size
            )));
        }
        Ok(InclusionProof {
            seq,
            index,
            size: checkpoint.size,
            event,
            leaf_hash,
            proof,
            checkpoint,
            key,
        })
    }
}
