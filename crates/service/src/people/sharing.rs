//! Rate limits and anomaly windows shared by the nodes on one database
//! (issue 19 item 6).
//!
//! Each node still decides every request from its own memory: no request
//! pays a database round trip for a limit. A background job
//! ([`Service::share_limits`], every [`SHARE_EVERY`]) writes what this node
//! did since its last run, one multi-row statement per table, and reads
//! back what the other nodes wrote:
//!
//! - **Buckets** (per source, per name): the net tokens this node took from
//!   each bucket, as a count per (bucket, minute, node) in `limit_usage`.
//!   What the other nodes took since the last read (the growth of their
//!   counts) is charged to the local bucket as spent tokens, so each node's
//!   bucket follows the one bucket a single node would hold.
//! - **Anomaly windows**: every observation (detector, source, keyed hash of
//!   the target, time) in `limit_observations`; the other nodes' are merged
//!   into the local windows, and a window that reaches its threshold fires.
//!   Every alert, from a request or from the job, is first claimed in
//!   `limit_alerts` (one conditional upsert in the recording transaction),
//!   so an attack spread across nodes fires once, not once per node.
//!
//! **The error bound.** A node learns what the others did after at most
//! `L` = its own interval + theirs + the time a commit takes (about
//! 2 × [`SHARE_EVERY`] = 500 ms). Over any period `T`, a source spread over
//! `N` nodes is admitted at most `budget + rate × T` plus what the other
//! `N − 1` nodes admitted it in the last `L`: at most `(N − 1) × r × L`
//! extra when it sends `r` requests a second to each node, and never more
//! than `N` budgets (the bound without sharing). What got through in the
//! lag is charged afterwards (as debt, up to one minute's worth), so over
//! a minute the source is back at its budget. Remote spend is charged when
//! it is learnt, not when it happened: it refills from then (at most `L`
//! late), erring towards the strict side. An alert fires at most `L` after
//! the observation that completes its threshold on any node.
//!
//! Rows are per minute (usage) or per event (observations) and purged by
//! the jobs runner's purge once their window has passed
//! ([`Service::purge_expired`]). Keys are bounded: a source is an address or
//! an IPv6 /64, a name's bucket a hash; a longer key (none is made) is not
//! shared. On SQLite (one node) sharing is off by default: there is no
//! other node to tell, and the behaviour is exactly that of before.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use keybound_store::{LimitObservationRow, WriteTx};

use crate::alerts::{Raised, Rule};
use crate::record::Record;
use crate::{Service, ServiceError};

/// How often a node writes its usage and reads the others'.
pub const SHARE_EVERY: Duration = Duration::from_millis(250);

/// Seconds a `share_limits` run took (a histogram), for monitoring.
pub const SHARE_METRIC: &str = "keybound_shared_limits_flush_seconds";

/// Usage is counted per window of this length: a bucket's refill period.
pub(crate) const USAGE_WINDOW_MS: i64 = 60_000;

/// Rows are read back from this long before the last read: a row is stamped
/// with its writer's clock before its commit, which may land later.
const USAGE_SLACK_MS: i64 = 2_000;

/// The same for observations, which are written once and never again.
const OBSERVATION_SLACK_MS: i64 = 5_000;

/// Bucket keys longer than this are not shared (none is: see the module
/// documentation).
const MAX_KEY_BYTES: usize = 64;

/// What a run did, for the log and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Shared {
    /// Bucket rows written.
    pub usage_written: usize,
    /// Observations written.
    pub observations_written: usize,
    /// Other nodes' usage rows read.
    pub usage_read: usize,
    /// Other nodes' observations read.
    pub observations_read: usize,
    /// Alerts recorded by this run.
    pub alerts: usize,
}

/// This node's side of the sharing.
#[derive(Debug)]
pub(crate) struct Sharing {
    /// This node's name in the shared tables (random, per process).
    pub(crate) node: String,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Other nodes' counts already charged, by (key, window, node).
    charged: HashMap<(String, i64, String), i64>,
    /// When usage and observations were last read, by this node's clock.
    usage_read_ms: Option<i64>,
    observations_read_ms: Option<i64>,
}

impl Sharing {
    pub(crate) fn new(node: String) -> Self {
        Sharing {
            node,
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The tokens to charge for `count`, the total `node` has written for
    /// (`key`, `window_ms`): its growth since the last time this node saw
    /// it, which makes reading a row twice harmless. Forgets windows that
    /// ended before the previous one.
    pub(crate) fn growth(
        &self,
        key: &str,
        window_ms: i64,
        node: &str,
        count: i64,
        now_ms: i64,
    ) -> i64 {
        let mut state = self.lock();
        let oldest = window_of(now_ms).saturating_sub(USAGE_WINDOW_MS);
        if window_ms < oldest {
            return 0;
        }
        let seen = state
            .charged
            .entry((key.to_owned(), window_ms, node.to_owned()))
            .or_insert(0);
        let growth = count.saturating_sub(*seen);
        *seen = count;
        growth
    }

    /// Forgets what was charged for windows before the previous one.
    fn forget_old(&self, now_ms: i64) {
        let oldest = window_of(now_ms).saturating_sub(USAGE_WINDOW_MS);
        self.lock().charged.retain(|(_, w, _), _| *w >= oldest);
    }

    /// From when to read usage (or observations) now; records `now_ms` as
    /// the time of this read. The first read looks back one slack (usage:
    /// older spend has refilled) or one window (observations: the windows
    /// count them still).
    fn since(&self, observations: bool, first_back_ms: i64, now_ms: i64) -> i64 {
        let mut state = self.lock();
        let (last, slack) = match observations {
            false => (&mut state.usage_read_ms, USAGE_SLACK_MS),
            true => (&mut state.observations_read_ms, OBSERVATION_SLACK_MS),
        };
        let since = match *last {
            Some(t) => t.saturating_sub(slack),
            None => now_ms.saturating_sub(first_back_ms),
        };
        *last = Some(now_ms);
        since
    }
}

/// The start of the usage window `now_ms` is in.
pub(crate) fn window_of(now_ms: i64) -> i64 {
    now_ms - now_ms.rem_euclid(USAGE_WINDOW_MS)
}

impl Service {
    /// Whether this node shares its limits with others.
    pub(crate) fn sharing_limits(&self) -> bool {
        self.config.shared_limits
    }

    /// The detectors' rule for a detector named in a shared row; `None` for
    /// a name this version does not know.
    fn detector_rule(&self, name: &str) -> Option<(&'static str, Rule)> {
        let t = self.config.alerts;
        let (name, distinct, threshold): (&'static str, bool, usize) = match name {
            "failures_across_accounts" => ("failures_across_accounts", true, t.failure_accounts),
            "registrations" => ("registrations", false, t.registrations),
            "recovery_requests" => ("recovery_requests", false, t.recovery_requests),
            "recovery_account" => ("recovery_account", false, t.recovery_account_requests),
            _ => return None,
        };
        Some((
            name,
            Rule {
                distinct,
                threshold,
                window_ms: t.window_ms,
            },
        ))
    }

    /// Keeps `alert` (raised by `detector` for `source`) if no node has
    /// fired that alert within the window: claimed in `tx`, the
    /// transaction that records it, so of two nodes exactly one records
    /// it. Without sharing, `alert` as it is (no statement).
    pub(crate) async fn claimed_alert(
        &self,
        tx: &mut WriteTx,
        detector: &str,
        source: &str,
        alert: Option<keybound_audit::NewEvent>,
    ) -> Result<Option<keybound_audit::NewEvent>, ServiceError> {
        let Some(alert) = alert else {
            return Ok(None);
        };
        if !self.sharing_limits() {
            return Ok(Some(alert));
        }
        let won = tx
            .claim_limit_alert(
                detector,
                source,
                &self.people.sharing.node,
                alert.time_ms,
                self.config.alerts.window_ms,
            )
            .await?;
        Ok(won.then_some(alert))
    }

    /// One round of sharing (see the module documentation): writes this
    /// node's bucket usage and observations since the last run, reads the
    /// other nodes', charges and merges them, and records the alerts that
    /// merging raised and this node won. Does nothing without sharing.
    ///
    /// Errors: [`ServiceError::Internal`] when the store fails; what was
    /// not written is kept for the next run.
    pub async fn share_limits(&self) -> Result<Shared, ServiceError> {
        if !self.sharing_limits() {
            return Ok(Shared::default());
        }
        let started = std::time::Instant::now();
        let shared = self.share_limits_at(self.now_ms()).await;
        metrics::histogram!(SHARE_METRIC).record(started.elapsed().as_secs_f64());
        shared
    }

    async fn share_limits_at(&self, now: i64) -> Result<Shared, ServiceError> {
        let mut report = Shared::default();
        let node = self.people.sharing.node.clone();
        let buckets = &self.people.limiter.buckets;
        let spent = buckets.take_spent();
        let observations = self.people.detectors.take_outbox();
        if !spent.is_empty() || !observations.is_empty() {
            let window = window_of(now);
            let usage: Vec<(String, i64, i64)> = spent
                .iter()
                .filter(|(key, _)| key.len() <= MAX_KEY_BYTES)
                .map(|(key, n)| (key.clone(), window, *n))
                .collect();
            let rows: Vec<LimitObservationRow> = observations
                .iter()
                .map(|o| LimitObservationRow {
                    node: node.clone(),
                    seq: o.seq,
                    detector: o.detector.to_owned(),
                    source: o.source.clone(),
                    target: o.target,
                    time_ms: o.time_ms,
                })
                .collect();
            let written = async {
                let mut tx = self.kernel.store.begin().await?;
                tx.add_limit_usage(&node, now, &usage).await?;
                tx.add_limit_observations(&rows).await?;
                tx.commit().await
            }
            .await;
            if let Err(e) = written {
                buckets.restore_spent(spent);
                self.people.detectors.restore_outbox(observations);
                return Err(e.into());
            }
            report.usage_written = usage.len();
            report.observations_written = rows.len();
        }

        let sharing = &self.people.sharing;
        let usage_since = sharing.since(false, USAGE_SLACK_MS, now);
        let observations_since = sharing.since(true, self.config.alerts.window_ms, now);
        let (usage, remote) = {
            let mut tx = self.kernel.store.read().await?;
            let usage = tx.limit_usage_since(&node, usage_since).await?;
            let remote = tx
                .limit_observations_since(&node, observations_since)
                .await?;
            (usage, remote)
        };
        report.usage_read = usage.len();
        report.observations_read = remote.len();
        let limits = self.config.rate_limits;
        for row in &usage {
            let per_minute = if row.key.starts_with("src ") {
                limits.per_source
            } else if row.key.starts_with("id ") {
                limits.per_identity
            } else {
                continue;
            };
            let growth = sharing.growth(&row.key, row.window_ms, &row.node, row.count, now);
            buckets.charge_remote(&row.key, per_minute, now, growth);
        }
        sharing.forget_old(now);

        let mut raised: Vec<Raised> = Vec::new();
        for o in &remote {
            let Some((detector, rule)) = self.detector_rule(&o.detector) else {
                continue;
            };
            if let Some(alert) = self.people.detectors.merge(
                &o.node, o.seq, detector, &o.source, o.target, o.time_ms, rule, now,
            ) {
                raised.push(alert);
            }
        }
        if !raised.is_empty() {
            report.alerts = self.record_raised(raised).await?;
        }
        Ok(report)
    }

    /// Records the alerts merging raised that this node wins; how many.
    async fn record_raised(&self, raised: Vec<Raised>) -> Result<usize, ServiceError> {
        let t = self.config.alerts;
        let mut tx = self.kernel.store.begin().await?;
        let mut recorded = 0;
        for Raised {
            detector,
            source,
            mut event,
        } in raised
        {
            match detector {
                // Counted for an account, not an address (see recovery.rs).
                "recovery_account" => {
                    event.ip = None;
                    event.subject = Some(source.clone());
                    event.severity = Some(keybound_audit::Severity::Warning);
                    event.reason = Some(format!(
                        "{} or more recovery requests for this account within {} minutes",
                        t.recovery_account_requests,
                        t.window_ms / 60_000
                    ));
                }
                "recovery_requests" => {
                    event.severity = Some(keybound_audit::Severity::Warning);
                    event.reason = Some(format!(
                        "{} or more recovery requests from one address within {} minutes",
                        t.recovery_requests,
                        t.window_ms / 60_000
                    ));
                }
                _ => {}
            }
            if let Some(event) = self
                .claimed_alert(&mut tx, detector, &source, Some(event))
                .await?
            {
                tx.record(event).await?;
                recorded += 1;
            }
        }
        tx.commit().await?;
        Ok(recorded)
    }
}

#[cfg(test)]
mod tests;
