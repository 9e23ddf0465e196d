//! Federated trust domains: their SPIFFE bundles, fetched over `https_web`
//! by the jobs runner (`--bundle-url`) or set once from a file, kept in the
//! store, and handed to the workloads of entries that federate with them.

use keybound_store::{ReadTx, WorkloadEntryRow, WorkloadFederationRow};
use keybound_workload_api::wire::BundleView;

use crate::record::Record;
use crate::{Actor, ClientContext, EventKind, Refusal, Service, ServiceError};

use super::spiffe;

/// The largest bundle accepted, in bytes.
pub(crate) const MAX_BUNDLE: usize = 256 * 1024;
/// The longest bundle URL.
pub(crate) const MAX_BUNDLE_URL: usize = 2048;

/// A federated trust domain as the CLI shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FederationView {
    /// The trust domain.
    pub trust_domain: String,
    /// Where its bundle is fetched from; `None`: static.
    pub bundle_url: Option<String>,
    /// Its bundle's sequence, once known.
    pub sequence: Option<i64>,
    /// Last fetched or set, ms.
    pub fetched_ms: Option<i64>,
    /// X.509 authorities in the bundle held.
    pub x509_authorities: usize,
    /// JWT authorities in the bundle held.
    pub jwt_authorities: usize,
}

/// A federated trust domain's SPIFFE bundle document, checked by
/// `keybound_ca::Bundle::from_json` (SPIFFE Trust Domain and Bundle §4:
/// bounded, no private keys, each `x509-svid` key's certificate matching
/// its members, unique `kid`s), as the wire carries it; otherwise
/// `workload_invalid_bundle`.
pub(crate) fn parse_bundle(trust_domain: &str, json: &str) -> Result<BundleView, Refusal> {
    let bad = Refusal::WorkloadInvalidBundle;
    if json.len() > MAX_BUNDLE {
        return Err(bad);
    }
    let td = keybound_ca::TrustDomain::parse(trust_domain).map_err(|_| bad)?;
    let bundle = keybound_ca::Bundle::from_json(td, json.as_bytes()).map_err(|_| bad)?;
    Ok(BundleView {
        trust_domain: trust_domain.to_owned(),
        x509_authorities: bundle
            .x509_authorities
            .iter()
            .map(|c| keybound_webauthn::b64::encode(c))
            .collect(),
        jwt_authorities: bundle.jwt_authorities.iter().map(|k| k.to_json()).collect(),
        sequence: bundle.sequence,
        refresh_hint_s: bundle.refresh_hint_s,
    })
}

impl FederationView {
    fn of(row: &WorkloadFederationRow) -> FederationView {
        let parsed = row
            .bundle_json
            .as_deref()
            .and_then(|j| parse_bundle(&row.trust_domain, j).ok());
        FederationView {
            trust_domain: row.trust_domain.clone(),
            bundle_url: row.bundle_url.clone(),
            sequence: row.sequence,
            fetched_ms: row.fetched_ms,
            x509_authorities: parsed.as_ref().map_or(0, |b| b.x509_authorities.len()),
            jwt_authorities: parsed.as_ref().map_or(0, |b| b.jwt_authorities.len()),
        }
    }
}

impl Service {
    /// Federates with `trust_domain` (`keybound workload federation add`):
    /// its bundle fetched from `bundle_url` (https only) by the jobs
    /// runner, or `bundle_json` kept as given.
    pub async fn add_federation(
        &self,
        actor: Actor<'_>,
        trust_domain: &str,
        bundle_url: Option<&str>,
        bundle_json: Option<&str>,
        ctx: &ClientContext,
    ) -> Result<FederationView, ServiceError> {
        let attempt = self.workload_event(
            EventKind::WorkloadFederationAdd,
            ctx,
            actor.name(),
            &super::entries::clip(trust_domain),
        );
        let td = match spiffe::trust_domain(trust_domain) {
            Ok(td) if td != self.trust_domain() => td,
            _ => {
                return Err(self
                    .record_refusal(attempt, Refusal::WorkloadInvalidTrustDomain, None)
                    .await)
            }
        };
        let url_ok = bundle_url.is_none_or(|u| {
            u.len() <= MAX_BUNDLE_URL && url::Url::parse(u).is_ok_and(|u| u.scheme() == "https")
        });
        let parsed = bundle_json.map(|j| parse_bundle(&td, j));
        let sequence = match (
            &parsed,
            url_ok,
            bundle_url.is_some() || bundle_json.is_some(),
        ) {
            (Some(Err(_)), _, _) | (_, false, _) | (_, _, false) => {
                return Err(self
                    .record_refusal(attempt, Refusal::WorkloadInvalidBundle, None)
                    .await)
            }
            (Some(Ok(b)), _, _) => Some(i64::try_from(b.sequence).unwrap_or(i64::MAX)),
            (None, _, _) => None,
        };
        let mut tx = self.kernel.store.begin().await?;
        if let Actor::Admin(admin) = actor {
            self.still_admin(&mut tx, admin.identity()).await?;
        }
        let now = self.now_ms();
        let row = WorkloadFederationRow {
            trust_domain: td.clone(),
            bundle_url: bundle_url.map(str::to_owned),
            bundle_json: bundle_json.map(str::to_owned),
            sequence,
            fetched_ms: bundle_json.map(|_| now),
            created_ms: now,
        };
        match tx.insert_workload_federation(&row).await {
            Ok(()) => {}
            Err(keybound_store::StoreError::Conflict) => {
                drop(tx);
                return Err(self
                    .record_refusal(attempt, Refusal::WorkloadFederationExists, None)
                    .await);
            }
            Err(e) => return Err(e.into()),
        }
        let mut event = attempt;
        event.reason = Some(match bundle_url {
            Some(url) => format!("bundle fetched from {url}"),
            None => "static bundle".to_owned(),
        });
        tx.record(event).await?;
        tx.commit().await?;
        Ok(FederationView::of(&row))
    }

    /// Every federated trust domain.
    pub async fn federations(&self, actor: Actor<'_>) -> Result<Vec<FederationView>, ServiceError> {
        let mut tx = self.kernel.store.read().await?;
        if let Actor::Admin(admin) = actor {
            self.still_admin(&mut tx, admin.identity()).await?;
        }
        Ok(tx
            .workload_federations()
            .await?
            .iter()
            .map(FederationView::of)
            .collect())
    }

    /// Stops federating with `trust_domain`; unknown: [`ServiceError::NotFound`].
    pub async fn remove_federation(
        &self,
        actor: Actor<'_>,
        trust_domain: &str,
        ctx: &ClientContext,
    ) -> Result<(), ServiceError> {
        let mut tx = self.kernel.store.begin().await?;
        if let Actor::Admin(admin) = actor {
            self.still_admin(&mut tx, admin.identity()).await?;
        }
        if !tx.delete_workload_federation(trust_domain).await? {
            return Err(ServiceError::NotFound);
        }
        let event = self.workload_event(
            EventKind::WorkloadFederationRemove,
            ctx,
            actor.name(),
            trust_domain,
        );
        tx.record(event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Stores a bundle the jobs runner fetched for `trust_domain`; a
    /// bundle that does not parse is refused (the one held stays).
    pub async fn store_fetched_bundle(
        &self,
        trust_domain: &str,
        bundle_json: &str,
    ) -> Result<(), ServiceError> {
        let bundle = parse_bundle(trust_domain, bundle_json).map_err(ServiceError::Rejected)?;
        let mut tx = self.kernel.store.begin().await?;
        let sequence = i64::try_from(bundle.sequence).unwrap_or(i64::MAX);
        tx.set_workload_federation_bundle(trust_domain, bundle_json, Some(sequence), self.now_ms())
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The federated trust domains whose bundles are fetched: (domain, URL).
    pub async fn federation_urls(&self) -> Result<Vec<(String, String)>, ServiceError> {
        let mut tx = self.kernel.store.read().await?;
        Ok(tx
            .workload_federations()
            .await?
            .into_iter()
            .filter_map(|f| Some((f.trust_domain, f.bundle_url?)))
            .collect())
    }

    /// The bundles of the trust domains `entries` federate with, as held.
    pub(crate) async fn federated_bundles_for(
        &self,
        tx: &mut ReadTx,
        entries: &[WorkloadEntryRow],
    ) -> Result<Vec<BundleView>, ServiceError> {
        let mut wanted: Vec<String> = entries
            .iter()
            .flat_map(|e| spiffe::from_json(&e.federates_with))
            .collect();
        wanted.sort();
        wanted.dedup();
        let mut out = Vec::new();
        for td in wanted {
            let Some(row) = tx.workload_federation(&td).await? else {
                continue;
            };
            if let Some(bundle) = row
                .bundle_json
                .as_deref()
                .and_then(|j| parse_bundle(&td, j).ok())
            {
                out.push(bundle);
            }
        }
        Ok(out)
    }
}
