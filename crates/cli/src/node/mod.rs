//! `keybound node`, the node agent (SPIRE's agent): attests the host to the
//! keybound servers once, then keeps its workloads' X.509-SVIDs, bundles
//! and CRLs current and publishes them as a [`Snapshot`] to the SPIFFE
//! Workload API it serves on a Unix socket.
//!
//! - [`key`]: the node key and the attested state in the data directory.
//! - [`servers`]: the servers in order, with failover.
//! - [`link`]: calls with a node proof.
//! - [`holdings`]: what is held and what is due (no IO, no clock).
//! - [`attest`]: TPM attestation's two calls around [`tpm`] (tpm2-tools).
//!
//! The loop: sync at the start, then at the server's `next_sync_ms` or the
//! sync interval, whichever is sooner, and whenever an SVID reaches
//! half-life or expires. A sync asks for every SVID that is due, with a
//! fresh key each. When no server answers, the last SVIDs are served until
//! they expire, then dropped. When the servers refuse the node
//! (decommissioned, or unknown to them) it serves nothing and says why; a
//! TPM node attests again on its own.

pub(crate) mod attest;
pub(crate) mod holdings;
pub(crate) mod key;
pub(crate) mod link;
pub(crate) mod servers;
pub(crate) mod tpm;
pub(crate) mod upstream;

use std::collections::BTreeSet;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use keybound_workload_api::snapshot::Snapshot;
use keybound_workload_api::wire::{AttestResponse, EntryView, SyncRequest};
use keybound_workload_api::{JwtIssueError, JwtIssuer, MintFuture};
use tokio::sync::watch;

use crate::settings::Attestation;
use holdings::{Fresh, Holdings};
use key::{Attested, NodeKey};
use link::Link;
use servers::{CallError, Servers, SKIP_MAX};
use upstream::Upstream;

/// Syncs in a row at most when each reveals new entries to ask SVIDs for.
const MAX_ROUNDS: usize = 3;
/// The shortest wait after a sync the server asked to repeat at once.
const MIN_SYNC_WAIT: Duration = Duration::from_secs(1);
/// The shortest wait between two loop turns.
const MIN_WAIT: Duration = Duration::from_millis(50);

/// Milliseconds since the epoch, now.
pub(crate) fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// What the agent starts from.
#[derive(Debug)]
pub(crate) struct AgentConfig {
    /// The servers' base URLs, in order.
    pub(crate) servers: Vec<url::Url>,
    /// The data directory.
    pub(crate) data_dir: PathBuf,
    /// How to attest the first time.
    pub(crate) attestation: Attestation,
    /// The longest wait between syncs.
    pub(crate) sync_interval: Duration,
}

/// The running agent.
pub(crate) struct Agent {
    upstream: Upstream,
    attested: Attested,
    data_dir: PathBuf,
    holdings: Holdings,
    published: watch::Sender<Arc<Snapshot>>,
    interval: Duration,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent")
            .field("node", &self.attested.response.node)
            .finish_non_exhaustive()
    }
}

impl Agent {
    /// Loads (or makes) the node key and attests if this node never did.
    /// Waits for a server while none answers; a refused attestation (a
    /// spent or unknown token, a TPM not trusted) is an error.
    pub(crate) async fn start(config: AgentConfig) -> Result<Agent, String> {
        let key = NodeKey::load_or_create(&config.data_dir)?;
        let servers = Servers::new(config.servers)?;
        let attested = Attested::load(&config.data_dir)?;
        let link = Arc::new(Link::new(
            servers,
            key,
            attested.as_ref().map_or("", |a| a.response.node.as_str()),
        ));
        let attested = match attested {
            Some(attested) => {
                if matches!(config.attestation, Attestation::JoinToken(_)) {
                    tracing::info!(
                        node = %attested.response.node,
                        "already attested; the join token is not used"
                    );
                }
                attested
            }
            None => {
                let (response, method) = loop {
                    let outcome = match &config.attestation {
                        Attestation::JoinToken(token) => {
                            link.attest_join(token).await.map(|r| (r, "join"))
                        }
                        Attestation::Tpm => attest::tpm(&link, &config.data_dir)
                            .await
                            .map(|r| (r, "tpm")),
                        Attestation::None => {
                            return Err(format!(
                                "this node is not attested yet ({} has no {}): start it once \
                                 with --join-token TOKEN or --tpm",
                                config.data_dir.display(),
                                key::STATE_FILE
                            ))
                        }
                    };
                    match outcome {
                        Ok(done) => break done,
                        Err(CallError::Unreachable(why)) => {
                            tracing::warn!(%why, "cannot attest yet; retrying");
                            tokio::time::sleep(config.sync_interval).await;
                        }
                        Err(refused) => {
                            return Err(format!("attestation {refused} (a join token works once)"))
                        }
                    }
                };
                let attested = Attested {
                    response,
                    method: method.to_owned(),
                };
                attested.store(&config.data_dir)?;
                attested_log(&attested.response);
                attested
            }
        };
        link.set_node(&attested.response.node);
        let (published, _) = watch::channel(Arc::new(Snapshot::default()));
        Ok(Agent {
            holdings: Holdings::new(&attested.response.trust_domain),
            upstream: Upstream::Servers(link),
            attested,
            data_dir: config.data_dir,
            published,
            interval: config.sync_interval,
        })
    }

    /// The snapshots, for the Workload API server.
    pub(crate) fn snapshots(&self) -> watch::Receiver<Arc<Snapshot>> {
        self.published.subscribe()
    }

    /// The in-process agent of `keybound serve --workload-socket`: the
    /// node `local`, made (and audited) by the service if it is new.
    pub(crate) async fn start_local(
        service: Arc<keybound_service::Service>,
        sync_interval: Duration,
    ) -> Result<Agent, String> {
        let response = service
            .workload_local_node(&keybound_service::ClientContext::default())
            .await
            .map_err(|e| format!("cannot make the local node: {e}"))?;
        attested_log(&response);
        let (published, _) = watch::channel(Arc::new(Snapshot::default()));
        Ok(Agent {
            holdings: Holdings::new(&response.trust_domain),
            upstream: Upstream::Local(service),
            attested: Attested {
                response,
                method: keybound_service::LOCAL_ATTESTATION.to_owned(),
            },
            data_dir: PathBuf::new(),
            published,
            interval: sync_interval,
        })
    }

    /// The link to the servers (none for the local node).
    #[cfg(test)]
    pub(crate) fn link(&self) -> Option<&Arc<Link>> {
        match &self.upstream {
            Upstream::Servers(link) => Some(link),
            Upstream::Local(_) => None,
        }
    }

    /// The node's name.
    pub(crate) fn node(&self) -> &str {
        &self.attested.response.node
    }

    /// Syncs until no new entry needs an SVID (at most [`MAX_ROUNDS`]);
    /// returns the server's next sync time.
    pub(crate) async fn sync(&mut self) -> Result<i64, CallError> {
        let mut next_sync_ms = 0;
        for _ in 0..MAX_ROUNDS {
            let due = self.holdings.due(unix_ms());
            let fresh: Vec<Fresh> = due
                .iter()
                .filter_map(|id| match Fresh::generate(id) {
                    Ok(fresh) => Some(fresh),
                    Err(why) => {
                        tracing::error!(%why, "no key for an SVID");
                        None
                    }
                })
                .collect();
            let request = SyncRequest {
                csrs: fresh.iter().map(Fresh::request).collect(),
            };
            let response = self.upstream.sync(&request).await?;
            next_sync_ms = response.next_sync_ms;
            let issued = response.svids.len();
            let dropped = self.holdings.absorb(response, fresh, unix_ms());
            for (entry, why) in &dropped {
                tracing::warn!(%entry, ?why, "an SVID from the server was not kept");
            }
            let kept = issued.saturating_sub(dropped.len());
            if kept > 0 {
                tracing::info!(asked = due.len(), issued = kept, "synced");
            } else if !due.is_empty() {
                // The servers left them out (their audit log says why);
                // asked again at every sync, so not news every time.
                tracing::debug!(asked = due.len(), "synced; no SVID issued");
            }
            let asked: BTreeSet<String> = due.into_iter().collect();
            let now_due = self.holdings.due(unix_ms());
            if now_due.iter().all(|id| asked.contains(id)) {
                break;
            }
        }
        Ok(next_sync_ms)
    }

    /// Publishes what workloads may receive now, if it changed.
    pub(crate) fn publish(&self) {
        let next = self.holdings.snapshot(unix_ms());
        let changed = !holdings::same(&self.published.borrow(), &next);
        if changed {
            self.published.send_replace(Arc::new(next));
        }
    }

    /// One turn: sync, publish; returns how long to wait before the next.
    pub(crate) async fn turn(&mut self) -> Duration {
        let wait = match self.sync().await {
            Ok(next_sync_ms) => {
                // A `next_sync_ms` in the past (a server's clock behind
                // this host's) must not make the agent call in a loop.
                let until = next_sync_ms.saturating_sub(unix_ms());
                let until = Duration::from_millis(u64::try_from(until).unwrap_or(0));
                let floor = self.interval.min(MIN_SYNC_WAIT);
                if next_sync_ms > 0 {
                    until.clamp(floor, self.interval)
                } else {
                    self.interval
                }
            }
            Err(e) if e.node_refused() => {
                self.holdings.forget();
                tracing::error!(
                    node = %self.node(),
                    refusal = %e,
                    "the servers refuse this node (decommissioned, or unknown to them): \
                     serving no identities"
                );
                if self.attested.method == "tpm" {
                    self.reattest_tpm().await;
                }
                SKIP_MAX.min(self.interval.saturating_mul(4))
            }
            Err(e) => {
                tracing::warn!(
                    error = %e,
                    "cannot sync; serving the last SVIDs until they expire"
                );
                self.interval
            }
        };
        self.publish();
        let now = unix_ms();
        let wait = match self.holdings.next_change_ms(now) {
            Some(at) => {
                let until = u64::try_from(at.saturating_sub(now)).unwrap_or(0);
                wait.min(Duration::from_millis(until))
            }
            None => wait,
        };
        wait.max(MIN_WAIT)
    }

    async fn reattest_tpm(&mut self) {
        let Upstream::Servers(link) = &self.upstream else {
            return;
        };
        let link = Arc::clone(link);
        match attest::tpm(&link, &self.data_dir).await {
            Ok(response) => {
                let attested = Attested {
                    response,
                    method: "tpm".into(),
                };
                if let Err(why) = attested.store(&self.data_dir) {
                    tracing::error!(%why, "cannot keep the attested state");
                }
                link.set_node(&attested.response.node);
                attested_log(&attested.response);
                self.attested = attested;
            }
            Err(e) => tracing::error!(error = %e, "TPM attestation again failed"),
        }
    }

    /// Runs until `shutdown` resolves.
    pub(crate) async fn run(mut self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let wait = self.turn().await;
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = &mut shutdown => return,
            }
        }
    }
}

fn attested_log(response: &AttestResponse) {
    tracing::info!(
        node = %response.node,
        spiffe_id = %response.spiffe_id,
        trust_domain = %response.trust_domain,
        "node attested"
    );
}

#[cfg(test)]
mod tests;

/// The Workload API server task; dropping it stops serving.
pub(crate) struct ApiTask {
    _stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ApiTask {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves the Workload API on `socket` from the agent's snapshots, its
/// JWT-SVIDs minted by the servers through the agent's link. A stale
/// socket file is replaced; the socket is open to every local user (0666):
/// callers are told apart by their kernel credentials, and one with no
/// entry gets `PermissionDenied`.
pub(crate) fn workload_api(agent: &Agent, socket: &std::path::Path) -> Result<ApiTask, String> {
    use std::os::unix::fs::{FileTypeExt as _, PermissionsExt as _};
    if let Ok(meta) = std::fs::symlink_metadata(socket) {
        if !meta.file_type().is_socket() {
            return Err(format!("{} exists and is not a socket", socket.display()));
        }
        std::fs::remove_file(socket).map_err(|e| format!("{}: {e}", socket.display()))?;
    }
    if let Some(parent) = socket.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    }
    let listener = tokio::net::UnixListener::bind(socket)
        .map_err(|e| format!("cannot listen on {}: {e}", socket.display()))?;
    std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o666))
        .map_err(|e| format!("{}: {e}", socket.display()))?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let jwt: Arc<dyn JwtIssuer> = Arc::new(ServerJwts(agent.upstream.clone()));
    let snapshots = agent.snapshots();
    let task = tokio::spawn(async move {
        let shutdown = async move {
            let _ = stopped.await;
        };
        if let Err(e) = keybound_workload_api::serve(listener, snapshots, jwt, shutdown).await {
            tracing::error!(error = %e, "the Workload API stopped");
        }
    });
    Ok(ApiTask { _stop: stop, task })
}

/// JWT-SVIDs from the keybound servers ([`wire::paths::JWT_SVID`]), or
/// from this process's service for the local node.
///
/// [`wire::paths::JWT_SVID`]: keybound_workload_api::wire::paths::JWT_SVID
struct ServerJwts(Upstream);

impl JwtIssuer for ServerJwts {
    fn mint<'a>(&'a self, entry: &'a EntryView, audience: &'a [String]) -> MintFuture<'a> {
        Box::pin(async move {
            self.0
                .jwt_svid(&entry.id, audience.to_vec())
                .await
                .map_err(|e| JwtIssueError(e.to_string()))
        })
    }
}

/// How often the in-process agent syncs at most: a sync is one local
/// transaction, so an entry removed is dropped from the streams within
/// this (the server's `next_sync_ms` may ask sooner).
pub(crate) const LOCAL_SYNC_INTERVAL: Duration = Duration::from_secs(2);

/// The single-host node `keybound serve --workload-socket` runs: the
/// agent's loop and its Workload API.
pub(crate) struct LocalNode {
    api: ApiTask,
    stop: tokio::sync::oneshot::Sender<()>,
    agent: tokio::task::JoinHandle<()>,
    socket: PathBuf,
}

/// Starts the in-process agent for the node `local` and serves its
/// Workload API on `socket`.
pub(crate) async fn serve_local(
    service: Arc<keybound_service::Service>,
    socket: &std::path::Path,
) -> Result<LocalNode, String> {
    let agent = Agent::start_local(service, LOCAL_SYNC_INTERVAL).await?;
    let api = workload_api(&agent, socket)?;
    tracing::info!(node = %agent.node(), socket = %socket.display(), "serving the Workload API");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let agent = tokio::spawn(agent.run(async move {
        let _ = stopped.await;
    }));
    Ok(LocalNode {
        api,
        stop,
        agent,
        socket: socket.to_owned(),
    })
}

impl LocalNode {
    /// Stops the loop (before the store closes) and the Workload API, and
    /// removes the socket.
    pub(crate) async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.agent.await;
        drop(self.api);
        let _ = std::fs::remove_file(&self.socket);
    }
}
