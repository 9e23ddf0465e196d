//! Trust: what keybound believes about authenticators. The attestation
//! roots, the FIDO metadata BLOB and the tiers judged from both; the same
//! judgements will serve device and workload attestation.

pub(crate) mod metadata;
pub(crate) mod tiers;

use std::sync::{Arc, Mutex};

use keybound_webauthn::TrustAnchors;

use crate::Config;

/// The trust context's state on this node.
pub(crate) struct Trust {
    /// The current metadata BLOB, parsed, with its serial.
    pub(crate) metadata: Mutex<Option<(u64, Arc<keybound_metadata::MetadataBlob>)>>,
    /// The attestation roots, parsed once at start (an unparsable root is
    /// reported by every registration that would need it).
    pub(crate) anchors: Result<TrustAnchors, String>,
}

impl Trust {
    /// The attestation roots, judged at `now_ms`.
    pub(crate) fn anchors_at(&self, now_ms: i64) -> Result<TrustAnchors, crate::ServiceError> {
        match &self.anchors {
            Ok(anchors) => Ok(anchors.at(u64::try_from(now_ms / 1000).unwrap_or_default())),
            Err(e) => Err(crate::ServiceError::Internal(e.clone())),
        }
    }

    pub(crate) fn new(config: &Config) -> Self {
        Trust {
            metadata: Mutex::new(None),
            anchors: TrustAnchors::new(config.attestation_roots.iter().cloned(), 0)
                .map_err(|e| e.to_string()),
        }
    }
}
