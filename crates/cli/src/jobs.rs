//! Background work the server runs on a schedule, owned by the app: each
//! job is a task that runs now and then at its interval, until the server
//! stops. No request pays for housekeeping, and a quiet node still does it.
//!
//! - the purge of expired challenges and ended sessions, every minute;
//! - following the audit log for changes other nodes committed, every
//!   200 ms, so forward-auth's session cache forgets what they revoked;
//! - the FIDO metadata fetch, every `--mds-refresh` seconds, when
//!   `--mds-url` is set;
//! - the signing key rotation check, every [`ROTATE_KEYS_EVERY`];
//! - the workload CA's rotation and federated bundle fetches (`workloads`);
//! - the task use events (`task.use`), every [`FLUSH_TASK_USES_EVERY`];
//! - the expiry of agents' tasks, every [`EXPIRE_TASKS_EVERY`];
//! - with several nodes, sharing rate-limit usage and anomaly observations
//!   (`ShareLimits`), every [`keybound_service::SHARE_EVERY`].
//! - the audit log's sealer, every `--audit-seal-interval` (`audit`).

pub(crate) mod audit;
pub(crate) mod workloads;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use keybound_service::Service;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::mds_fetch::Fetcher;

/// How often expired challenges and ended sessions are purged.
pub(crate) const PURGE_EVERY: Duration = Duration::from_secs(60);

/// How often the signing keys' schedule is checked: a step is due at
/// most this late (the schedule is days; the check is a read).
pub(crate) const ROTATE_KEYS_EVERY: Duration = Duration::from_secs(60);

/// How often this node writes the `task.use` events of the requests
/// agents made since the last time (one per task, with the count).
pub(crate) const FLUSH_TASK_USES_EVERY: Duration = Duration::from_secs(60);

/// How often tasks past their approval deadline or lifetime are expired:
/// forward-auth refuses an overdue task at once by itself; the job records
/// the expiry (`task.expire`) within seconds.
pub(crate) const EXPIRE_TASKS_EVERY: Duration = Duration::from_secs(10);

/// How long a stop waits for a run under way (a purge takes
/// milliseconds) before abandoning it: a metadata fetch may take up to a
/// minute, and a stopping server has a grace of seconds. An abandoned run
/// commits nothing (its transaction, if any, rolls back).
pub(crate) const STOP_WAIT: Duration = Duration::from_secs(1);

/// One scheduled piece of work.
pub(crate) trait Job: Send + 'static {
    /// Runs once; failures are logged, and the next run tries again.
    fn run(&mut self) -> impl Future<Output = ()> + Send + '_;
}

/// The running jobs. [`Jobs::stop`] ends them, letting a run under way
/// finish first if it does so within [`STOP_WAIT`].
pub(crate) struct Jobs {
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

impl Jobs {
    /// No jobs yet.
    pub(crate) fn new() -> Self {
        Jobs {
            stop: watch::Sender::new(false),
            tasks: JoinSet::new(),
        }
    }

    /// Runs `job` now and then every `every` until stopped. A run that
    /// overruns its interval delays the next rather than piling up.
    pub(crate) fn every(&mut self, every: Duration, mut job: impl Job) {
        let mut stop = self.stop.subscribe();
        self.tasks.spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = ticks.tick() => job.run().await,
                    _ = stop.changed() => break,
                }
            }
        });
    }

    /// Stops every job: waits up to [`STOP_WAIT`] for runs under way,
    /// then abandons what is still running.
    pub(crate) async fn stop(mut self) {
        let _ = self.stop.send(true);
        let finished = async { while self.tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(STOP_WAIT, finished).await.is_err() {
            tracing::info!("stopping: a job run under way was abandoned");
            self.tasks.abort_all();
            while self.tasks.join_next().await.is_some() {}
        }
    }
}

/// Removes expired challenges and ended sessions.
pub(crate) struct Purge(pub(crate) Arc<Service>);

impl Job for Purge {
    async fn run(&mut self) {
        match self.0.purge_expired().await {
            Ok(0) => {}
            Ok(purged) => tracing::debug!(purged, "purged expired challenges and sessions"),
            Err(e) => tracing::warn!(error = %e, "purge failed; the next one tries again"),
        }
    }
}

/// Takes the signing key rotation steps that are due (each audited).
pub(crate) struct RotateKeys(pub(crate) Arc<Service>);

impl Job for RotateKeys {
    async fn run(&mut self) {
        match self.0.rotate_signing_keys().await {
            Ok(changes) => {
                for c in changes {
                    tracing::info!(change = c.kind.as_str(), purpose = c.purpose.as_str(), alg = c.alg.as_str(), kid = %c.kid, "signing key rotation");
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "signing key rotation failed; the next check tries again")
            }
        }
    }
}

/// Drops cached sessions that changes on other nodes made stale.
pub(crate) struct FollowChanges(pub(crate) Arc<Service>);

impl Job for FollowChanges {
    async fn run(&mut self) {
        if let Err(e) = self.0.follow_changes().await {
            tracing::warn!(error = %e, "following changes failed; the next run tries again");
        }
    }
}

/// Fetches the FIDO metadata BLOB from a URL and imports it if newer.
pub(crate) struct RefreshMetadata {
    pub(crate) service: Arc<Service>,
    pub(crate) url: String,
    pub(crate) fetcher: Fetcher,
}

impl Job for RefreshMetadata {
    async fn run(&mut self) {
        match self.fetcher.fetch(&self.service, &self.url).await {
            Ok(Some(report)) => tracing::info!(
                no = report.no,
                entries = report.entries,
                retiered = report.retiered,
                suspended = report.suspended,
                "imported FIDO metadata"
            ),
            Ok(None) => tracing::debug!("FIDO metadata unchanged"),
            Err(e) => {
                tracing::warn!(error = %e, "FIDO metadata fetch failed; the last good BLOB stays")
            }
        }
    }
}

/// Writes the aggregated task use events (issue 18).
pub(crate) struct FlushTaskUses(pub(crate) Arc<Service>);

impl Job for FlushTaskUses {
    async fn run(&mut self) {
        match self.0.flush_task_uses().await {
            Ok(0) => {}
            Ok(tasks) => tracing::debug!(tasks, "recorded task uses"),
            Err(e) => {
                tracing::warn!(error = %e, "task uses not recorded; the next run tries again")
            }
        }
    }
}

/// Expires agents' tasks whose approval deadline or lifetime passed
/// (each with its `task.expire`).
pub(crate) struct ExpireTasks(pub(crate) Arc<Service>);

impl Job for ExpireTasks {
    async fn run(&mut self) {
        match self.0.expire_tasks().await {
            Ok(0) => {}
            Ok(expired) => tracing::info!(expired, "expired tasks"),
            Err(e) => tracing::warn!(error = %e, "task expiry failed; the next run tries again"),
        }
    }
}

/// Shares this node's rate-limit usage and anomaly observations with the
/// other nodes and takes theirs (issue 19).
pub(crate) struct ShareLimits(pub(crate) Arc<Service>);

impl Job for ShareLimits {
    async fn run(&mut self) {
        match self.0.share_limits().await {
            Ok(shared) if shared.alerts > 0 => {
                tracing::info!(
                    alerts = shared.alerts,
                    "alerts raised by other nodes' observations"
                )
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "sharing limits failed; the next run tries again")
            }
        }
    }
}

#[cfg(test)]
mod tests;
