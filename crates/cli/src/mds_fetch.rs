//! Fetching the FIDO metadata BLOB from a URL, once (`keybound mds fetch`)
//! or on a schedule while serving (`--mds-url`, off by default; see
//! [`crate::jobs`]). The last good BLOB lives in the database, so a failed
//! or refused fetch changes nothing; the ETag avoids downloading an
//! unchanged BLOB again.

use std::time::Duration;

use keybound_service::{MetadataImport, Service};

/// BLOBs are a few megabytes; refuse anything absurd.
const MAX_BLOB: usize = 64 * 1024 * 1024;

/// Remembers the last response's ETag between fetches.
#[derive(Default)]
pub(crate) struct Fetcher {
    client: reqwest::Client,
    etag: Option<String>,
}

impl Fetcher {
    /// Downloads `url` and imports it. `Ok(None)`: nothing new.
    pub(crate) async fn fetch(
        &mut self,
        service: &Service,
        url: &str,
    ) -> Result<Option<MetadataImport>, String> {
        let mut request = self.client.get(url).timeout(Duration::from_secs(60));
        if let Some(etag) = &self.etag {
            request = request.header(reqwest::header::IF_NONE_MATCH, etag);
        }
        let response = request
            .send()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?;
        if response.status() == reqwest::StatusCode::NOT_MODIFIED {
            return Ok(None);
        }
        if !response.status().is_success() {
            return Err(format!("GET {url}: {}", response.status()));
        }
        let etag = response
            .headers()
            .get(reqwest::header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        if response
            .content_length()
            .is_some_and(|n| n > MAX_BLOB as u64)
        {
            return Err(format!("GET {url}: BLOB larger than {MAX_BLOB} bytes"));
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?;
        if body.len() > MAX_BLOB {
            return Err(format!("GET {url}: BLOB larger than {MAX_BLOB} bytes"));
        }
        let imported = service
            .refresh_metadata(&body, "mds-fetch")
            .await
            .map_err(|e| e.to_string())?;
        self.etag = etag;
        Ok(imported)
    }
}
