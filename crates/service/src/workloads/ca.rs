//! The workload CA as the service drives it: this trust domain's bundle
//! (the SPIFFE bundle document via `keybound_ca::Bundle`), X.509-SVID
//! issuance for a node's entries (rate-limited), and CRLs.

use keybound_ca::{Bundle, SpiffeId, SvidRequest, TrustDomain};
use keybound_store::{
    ReadTx, WorkloadAuthorityRow, WorkloadEntryRow, WorkloadNodeRow, WorkloadSvidRow, WriteTx,
};
use keybound_webauthn::b64;
use keybound_workload_api::wire::{BundleView, IssuedSvid};

use crate::{KeyPurpose, Refusal, Service, ServiceError};

use super::rotation::state;
use super::sync::MAX_ISSUES_PER_HALF_LIFE;

/// The longest SubjectPublicKeyInfo accepted, base64url.
const MAX_SPKI_B64: usize = 4096;
/// How far an SVID's notBefore is set back, seconds (clock skew between
/// hosts, as SPIRE does).
const BACKDATE_S: i64 = 10;

/// The certificates a bundle trusts for `row`: its own if it is a root,
/// else the organisation's root above it.
fn anchor(row: &WorkloadAuthorityRow) -> Option<Vec<u8>> {
    let upstream = super::spiffe::from_json(&row.upstream);
    match upstream.last() {
        None => Some(row.cert_der.clone()),
        Some(root) => b64::decode(root).ok(),
    }
}

fn in_bundle(row: &WorkloadAuthorityRow) -> bool {
    row.state != state::RETIRED
}

impl Service {
    /// This trust domain's bundle: the prepared, active and superseded
    /// X.509 authorities (or the organisation's root above them), the
    /// workload JWT keys (key custody, [`KeyPurpose::WorkloadCa`]: made on
    /// first use, rotated and published like the OIDC keys), the sequence
    /// and refresh hint.
    pub async fn workload_bundle(&self) -> Result<BundleView, ServiceError> {
        let jwks = self.published_jwks(KeyPurpose::WorkloadCa).await?;
        let mut tx = self.kernel.store.read().await?;
        let td = self.trust_domain().to_owned();
        let mut x509: Vec<String> = Vec::new();
        for row in tx
            .workload_authorities(&td)
            .await?
            .iter()
            .filter(|a| in_bundle(a))
        {
            if let Some(cert) = anchor(row) {
                let cert = b64::encode(&cert);
                if !x509.contains(&cert) {
                    x509.push(cert);
                }
            }
        }
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
        let view = self.workload_bundle().await?;
        let td = TrustDomain::parse(&view.trust_domain)
            .map_err(|e| ServiceError::Internal(format!("trust domain: {}", e.reason())))?;
        let bundle = Bundle {
            trust_domain: td,
            x509_authorities: view
                .x509_authorities
                .iter()
                .filter_map(|c| b64::decode(c).ok())
                .collect(),
            jwt_authorities: view
                .jwt_authorities
                .iter()
                .filter_map(|k| keybound_jose::Jwk::parse(k).ok())
                .collect(),
            sequence: view.sequence,
            refresh_hint_s: view.refresh_hint_s,
        };
        bundle
            .to_json()
            .map_err(|e| ServiceError::Internal(format!("bundle: {}", e.reason())))
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
        let Ok(spki) = b64::decode(public_key) else {
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
        let Ok(spiffe_id) = SpiffeId::parse(&entry.spiffe_id) else {
            return Ok(Err(Refusal::WorkloadInvalidSpiffeId));
        };
        let (row, authority) = self.active_authority_in(tx).await?;
        let serial = keybound_ca::random_serial(&mut **self.kernel.rng());
        let now_s = now / 1000;
        let dns_names = super::spiffe::from_json(&entry.dns_names);
        let issued = keybound_ca::issue_x509_svid(
            &authority,
            &SvidRequest {
                spki_der: &spki,
                spiffe_id: &spiffe_id,
                dns_names: &dns_names,
                not_before_s: now_s.saturating_sub(BACKDATE_S),
                not_after_s: now_s.saturating_add(entry.x509_ttl_s),
                serial,
            },
        );
        let svid = match issued {
            Ok(svid) => svid,
            Err(keybound_ca::Error::UnsupportedKey) => {
                return Ok(Err(Refusal::WorkloadInvalidSvidKey))
            }
            Err(e) => {
                return Err(ServiceError::Internal(format!(
                    "X.509-SVID: {}",
                    e.reason()
                )))
            }
        };
        let not_after_ms = svid.not_after_s.saturating_mul(1000);
        tx.insert_workload_svid(&WorkloadSvidRow {
            serial: crate::tokens::hex_id(serial),
            entry_id: entry.id.clone(),
            node: node.name.clone(),
            authority_id: row.id.clone(),
            issued_ms: now,
            not_after_ms,
            revoked_ms: None,
        })
        .await?;
        let mut chain = vec![b64::encode(&svid.cert_der)];
        let upstream = super::spiffe::from_json(&row.upstream);
        if !upstream.is_empty() {
            // An intermediate: it travels with the leaf, then whatever
            // sits between it and the organisation's root.
            chain.push(b64::encode(&row.cert_der));
            chain.extend(
                upstream
                    .iter()
                    .take(upstream.len().saturating_sub(1))
                    .cloned(),
            );
        }
        Ok(Ok(IssuedSvid {
            entry_id: entry.id.clone(),
            chain,
            expires_at_ms: not_after_ms,
        }))
    }

    /// The CRL of the authority `row`: its revoked SVIDs still unexpired.
    async fn crl_of(
        &self,
        tx: &mut ReadTx,
        row: &WorkloadAuthorityRow,
    ) -> Result<Vec<u8>, ServiceError> {
        let now = self.now_ms();
        let mut revoked = Vec::new();
        for svid in tx.workload_revoked_svids(&row.id, now).await? {
            let mut serial = [0u8; 16];
            let bytes: Vec<u8> = (0..svid.serial.len() / 2)
                .filter_map(|i| svid.serial.get(i * 2..i * 2 + 2))
                .filter_map(|h| u8::from_str_radix(h, 16).ok())
                .collect();
            if bytes.len() != 16 {
                continue;
            }
            serial.copy_from_slice(&bytes);
            revoked.push((serial, svid.revoked_ms.unwrap_or(now) / 1000));
        }
        let authority = self.load_authority(row)?;
        let now_s = now / 1000;
        let next_s =
            now_s.saturating_add(i64::try_from(self.refresh_hint_s()).unwrap_or(300).max(60));
        authority
            .crl(&revoked, now_s, next_s, u64::try_from(now).unwrap_or(0))
            .map_err(|e| ServiceError::Internal(format!("CRL: {}", e.reason())))
    }

    /// The DER CRL of every authority in the bundle, base64url.
    pub(crate) async fn crls_in(&self, tx: &mut ReadTx) -> Result<Vec<String>, ServiceError> {
        let rows = tx.workload_authorities(self.trust_domain()).await?;
        let mut out = Vec::new();
        for row in rows.iter().filter(|a| in_bundle(a)) {
            out.push(b64::encode(&self.crl_of(tx, row).await?));
        }
        Ok(out)
    }

    /// The DER CRL of the authority `id` while it is in the bundle;
    /// otherwise [`ServiceError::NotFound`].
    pub async fn workload_crl(&self, id: &str) -> Result<Vec<u8>, ServiceError> {
        let mut tx = self.kernel.store.read().await?;
        let row = tx
            .workload_authority(id)
            .await?
            .filter(|a| in_bundle(a) && a.trust_domain == self.trust_domain())
            .ok_or(ServiceError::NotFound)?;
        self.crl_of(&mut tx, &row).await
    }
}
