//! The workload CA's jobs (issue 17), run by every server: the rotation
//! steps that are due (the store lets one server make each), and the
//! fetch of federated trust domains' bundles (`https_web`).

use std::sync::Arc;
use std::time::Duration;

use keybound_service::Service;

use super::Job;

/// The largest federated bundle fetched, in bytes.
const MAX_BUNDLE: usize = 256 * 1024;

/// How often the CA's phases are checked: a twelfth of the CA lifetime,
/// between 1 s (test-sized lifetimes) and a minute.
pub(crate) fn rotate_ca_every(service: &Service) -> Duration {
    let ttl = u64::from(service.config().workloads.ca_ttl_s);
    Duration::from_secs((ttl / 12).clamp(1, 60))
}

/// How often federated bundles are fetched.
pub(crate) const FETCH_BUNDLES_EVERY: Duration = Duration::from_secs(60);

/// Takes the CA rotation steps that are due (each audited).
pub(crate) struct RotateCa(pub(crate) Arc<Service>);

impl Job for RotateCa {
    async fn run(&mut self) {
        // No key-encryption key: the CA is not in use on this deployment.
        if self.0.config().workloads.ca_key_encryption_key.is_none() {
            return;
        }
        match self.0.rotate_workload_ca(None, false).await {
            Ok(done) => {
                for step in done {
                    tracing::info!(step = %step, "workload CA rotation");
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "workload CA rotation failed; the next check tries again")
            }
        }
    }
}

/// Fetches the bundles of federated trust domains that have a URL.
pub(crate) struct FetchBundles {
    pub(crate) service: Arc<Service>,
    pub(crate) client: reqwest::Client,
}

/// The client federated bundles are fetched with: https only (the
/// `https_web` profile) and no redirects, so a peer's bundle URL cannot
/// send the fetch to plain http or elsewhere.
pub(crate) fn bundle_client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .https_only(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| format!("the federated bundle client: {e}"))
}

impl FetchBundles {
    async fn fetch(&self, url: &str) -> Result<String, String> {
        let response = self
            .client
            .get(url)
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("GET {url}: {}", response.status()));
        }
        if response
            .content_length()
            .is_some_and(|n| n > MAX_BUNDLE as u64)
        {
            return Err(format!("GET {url}: larger than {MAX_BUNDLE} bytes"));
        }
        // Read in chunks and stop at the cap: a chunked answer has no
        // Content-Length to refuse up front.
        let mut response = response;
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?
        {
            if body.len() + chunk.len() > MAX_BUNDLE {
                return Err(format!("GET {url}: larger than {MAX_BUNDLE} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        String::from_utf8(body).map_err(|_| format!("GET {url}: not UTF-8"))
    }
}

impl Job for FetchBundles {
    async fn run(&mut self) {
        let Ok(urls) = self.service.federation_urls().await else {
            return;
        };
        for (trust_domain, url) in urls {
            let fetched = match self.fetch(&url).await {
                Ok(json) => self
                    .service
                    .store_fetched_bundle(&trust_domain, &json)
                    .await
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e),
            };
            if let Err(e) = fetched {
                tracing::warn!(trust_domain = %trust_domain, error = %e, "federated bundle fetch failed; the bundle held stays");
            }
        }
    }
}
