//! The keybound servers a node talks to, with failover.
//!
//! Servers are tried in the order given. A server that cannot be reached,
//! times out, answers 5xx or 404 (no workload endpoints there), or sends a
//! body that does not parse is skipped for a while (doubling from
//! [`SKIP_BASE`] up to [`SKIP_MAX`]) and the next one is tried at once. No
//! state is per server: they share one database, so the next server knows
//! the node as well as the last did. Any other 4xx is the servers' answer
//! and is not retried elsewhere: another server would say the same.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use keybound_workload_api::wire::ErrorBody;
use serde::de::DeserializeOwned;
use serde::Serialize;
use url::Url;

/// The first pause of a failed server.
pub(crate) const SKIP_BASE: Duration = Duration::from_secs(1);
/// The longest pause of a failed server.
pub(crate) const SKIP_MAX: Duration = Duration::from_secs(60);
/// The largest answer read (a sync of many entries with their chains).
const MAX_BODY: usize = 8 * 1024 * 1024;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// `path` (`/workload/v1/sync`) under `base`, keeping the base's path: a
/// server behind a proxy at `https://example.org/keybound` is reached at
/// `https://example.org/keybound/workload/v1/sync`.
pub(crate) fn endpoint(base: &Url, path: &str) -> Result<Url, url::ParseError> {
    let mut base = base.clone();
    if !base.path().ends_with('/') {
        let with_slash = format!("{}/", base.path());
        base.set_path(&with_slash);
    }
    base.join(path.trim_start_matches('/'))
}

/// Makes the `Authorization` header for a call to a full URL.
pub(crate) type Authorize<'a> = dyn Fn(&str) -> Result<String, String> + Send + Sync + 'a;

/// Why a call gave no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CallError {
    /// No server answered usefully; the last failure, for the log.
    Unreachable(String),
    /// A server refused: its status and `error` word.
    Refused {
        /// The HTTP status.
        status: u16,
        /// [`ErrorBody::error`] (or empty).
        error: String,
    },
}

impl CallError {
    /// Whether the servers no longer know this node: its key is not bound
    /// (unknown, decommissioned) or its attestation is refused.
    pub(crate) fn node_refused(&self) -> bool {
        matches!(
            self,
            CallError::Refused {
                status: 401 | 403,
                ..
            }
        )
    }
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Unreachable(why) => write!(f, "no server answered ({why})"),
            CallError::Refused { status, error } => write!(f, "refused: {status} {error}"),
        }
    }
}

struct Server {
    base: Url,
    failures: u32,
    skip_until: Option<Instant>,
}

/// The servers, in order, and the HTTP client.
pub(crate) struct Servers {
    list: Mutex<Vec<Server>>,
    client: reqwest::Client,
}

/// What a failed attempt means.
enum Attempt {
    /// Try the next server.
    Failover(String),
    /// The answer (a refusal) stands.
    Final(CallError),
}

impl Servers {
    /// A client for `bases` (at least one).
    pub(crate) fn new(bases: Vec<Url>) -> Result<Servers, String> {
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("node agent HTTP client: {e}"))?;
        Ok(Servers {
            list: Mutex::new(
                bases
                    .into_iter()
                    .map(|base| Server {
                        base,
                        failures: 0,
                        skip_until: None,
                    })
                    .collect(),
            ),
            client,
        })
    }

    /// POSTs `body` as JSON to `path` on the first server that answers,
    /// with the `Authorization` header `auth` makes for the full URL (a
    /// node proof, bound to that URL), and parses the answer.
    pub(crate) async fn post<Req, Resp>(
        &self,
        path: &str,
        body: &Req,
        auth: Option<&Authorize<'_>>,
    ) -> Result<Resp, CallError>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
    {
        let body = serde_json::to_vec(body).map_err(|e| CallError::Unreachable(e.to_string()))?;
        let mut last = "no server configured".to_owned();
        for index in self.order() {
            let Some(base) = self.list().get(index).map(|s| s.base.clone()) else {
                continue;
            };
            let url = match endpoint(&base, path) {
                Ok(url) => url,
                Err(e) => {
                    last = e.to_string();
                    continue;
                }
            };
            match self.attempt(url.as_str(), body.clone(), auth).await {
                Ok(answer) => {
                    if let Some(server) = self.list().get_mut(index) {
                        if server.failures > 0 {
                            tracing::info!(server = %server.base, "server answers again");
                        }
                        server.failures = 0;
                        server.skip_until = None;
                    }
                    return Ok(answer);
                }
                Err(Attempt::Final(refused)) => return Err(refused),
                Err(Attempt::Failover(why)) => {
                    if let Some(server) = self.list().get_mut(index) {
                        server.failures = server.failures.saturating_add(1);
                        let pause = SKIP_BASE
                            .saturating_mul(1 << server.failures.min(7).saturating_sub(1))
                            .min(SKIP_MAX);
                        server.skip_until = Instant::now().checked_add(pause);
                        tracing::warn!(
                            server = %server.base,
                            %why,
                            skipped_for_s = pause.as_secs(),
                            "server failed; trying the next"
                        );
                    }
                    last = why;
                }
            }
        }
        Err(CallError::Unreachable(last))
    }

    fn list(&self) -> MutexGuard<'_, Vec<Server>> {
        self.list.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Indices to try: the servers not paused, in order; then the paused
    /// ones, soonest back first (a node with every server paused still
    /// tries them all rather than none).
    fn order(&self) -> Vec<usize> {
        let now = Instant::now();
        let mut ready: Vec<usize> = Vec::new();
        let mut paused: Vec<(Instant, usize)> = Vec::new();
        for (i, s) in self.list().iter().enumerate() {
            match s.skip_until {
                Some(until) if until > now => paused.push((until, i)),
                _ => ready.push(i),
            }
        }
        paused.sort();
        ready.extend(paused.into_iter().map(|(_, i)| i));
        ready
    }

    async fn attempt<Resp: DeserializeOwned>(
        &self,
        url: &str,
        body: Vec<u8>,
        auth: Option<&Authorize<'_>>,
    ) -> Result<Resp, Attempt> {
        let mut request = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        if let Some(auth) = auth {
            let value = auth(url).map_err(|e| Attempt::Final(CallError::Unreachable(e)))?;
            request = request.header(reqwest::header::AUTHORIZATION, value);
        }
        let mut response = request.send().await.map_err(|e| {
            Attempt::Failover(if e.is_timeout() {
                "timed out".to_owned()
            } else if e.is_connect() {
                "could not connect".to_owned()
            } else {
                "request failed".to_owned()
            })
        })?;
        let status = response.status().as_u16();
        let mut bytes = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|_| Attempt::Failover("answer cut off".to_owned()))?
        {
            if bytes.len().saturating_add(chunk.len()) > MAX_BODY {
                return Err(Attempt::Failover("answer too large".to_owned()));
            }
            bytes.extend_from_slice(&chunk);
        }
        match status {
            200..=299 => serde_json::from_slice(&bytes)
                .map_err(|_| Attempt::Failover(format!("{status} with a malformed body"))),
            404 | 500..=599 => Err(Attempt::Failover(format!("answered {status}"))),
            _ => {
                let error = serde_json::from_slice::<ErrorBody>(&bytes)
                    .map(|b| b.error.chars().take(64).collect())
                    .unwrap_or_default();
                Err(Attempt::Final(CallError::Refused { status, error }))
            }
        }
    }
}
