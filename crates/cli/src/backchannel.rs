//! The back-channel logout sender (OpenID Connect Back-Channel Logout
//! 1.0 §2.5): a job that claims due deliveries from the service's outbox,
//! POSTs each `logout_token` form to the client's `backchannel_logout_uri`
//! and reports the result; the service retries with backoff and audits a
//! final failure. Short timeouts (a slow client must not hold up the
//! others), no redirect followed (a logout token goes only to the URI the
//! client registered), the response body never read (only the status
//! counts). Log lines name the client, host and status, never the token.

use std::time::Duration;

use keybound_service::{LogoutRetry, OutgoingLogout, Service};

/// How often the outbox is checked for due deliveries.
pub(crate) const DELIVER_EVERY: Duration = Duration::from_secs(5);

/// Deliveries sent per run (the rest wait for the next).
const BATCH: i64 = 32;

/// Connecting may take this long.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// The whole exchange may take this long.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Sends logout tokens.
pub(crate) struct Sender {
    client: reqwest::Client,
}

impl Sender {
    /// A sender with its own HTTP client (no redirects, short timeouts).
    pub(crate) fn new() -> Result<Sender, String> {
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("back-channel logout client: {e}"))?;
        Ok(Sender { client })
    }

    /// Sends what is due; failures are reported to the service, which
    /// retries them later.
    pub(crate) async fn run_once(&self, service: &Service) -> Result<usize, String> {
        let due = service
            .claim_backchannel_logouts(BATCH)
            .await
            .map_err(|e| e.to_string())?;
        let sent = due.len();
        for delivery in due {
            self.deliver(service, &delivery).await;
        }
        Ok(sent)
    }

    async fn deliver(&self, service: &Service, delivery: &OutgoingLogout) {
        let host = reqwest::Url::parse(&delivery.url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default();
        let outcome = match self.post(delivery).await {
            Ok(()) => service.backchannel_logout_sent(delivery).await.map(|()| {
                tracing::info!(
                    client_id = %delivery.client_id,
                    host = %host,
                    attempt = delivery.attempt,
                    "back-channel logout delivered"
                );
            }),
            Err(why) => service
                .backchannel_logout_failed(delivery, &why)
                .await
                .map(|retry| match retry {
                    LogoutRetry::At(at_ms) => tracing::info!(
                        client_id = %delivery.client_id,
                        host = %host,
                        attempt = delivery.attempt,
                        error = %why,
                        retry_at_ms = at_ms,
                        "back-channel logout failed; will retry"
                    ),
                    LogoutRetry::GivenUp => tracing::warn!(
                        client_id = %delivery.client_id,
                        host = %host,
                        attempt = delivery.attempt,
                        error = %why,
                        "back-channel logout given up"
                    ),
                }),
        };
        if let Err(e) = outcome {
            tracing::warn!(client_id = %delivery.client_id, error = %e, "back-channel logout result not recorded; its claim lapses and it is retried");
        }
    }

    /// One POST; Err says why in words that never include the token.
    async fn post(&self, delivery: &OutgoingLogout) -> Result<(), String> {
        let response = self
            .client
            .post(&delivery.url)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(delivery.body.clone())
            .send()
            .await
            .map_err(|e| {
                // reqwest's error may quote the URL, never the body.
                if e.is_timeout() {
                    "timed out".to_owned()
                } else if e.is_connect() {
                    "could not connect".to_owned()
                } else {
                    "request failed".to_owned()
                }
            })?;
        // The body is dropped unread: only the status counts.
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("status {}", status.as_u16()))
        }
    }
}

/// The job: one [`Sender::run_once`] per tick.
pub(crate) struct DeliverLogouts {
    pub(crate) service: std::sync::Arc<Service>,
    pub(crate) sender: Sender,
}

impl crate::jobs::Job for DeliverLogouts {
    async fn run(&mut self) {
        match self.sender.run_once(&self.service).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(attempted = n, "back-channel logouts attempted"),
            Err(e) => {
                tracing::warn!(error = %e, "back-channel logout outbox unreadable; the next run tries again")
            }
        }
    }
}

#[cfg(test)]
mod tests;
