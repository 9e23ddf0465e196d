//! Anomaly detectors that write alert events into the audit chain: one
//! source failing against many accounts (password-spraying's passkey
//! cousin: probing which accounts exist or are weak), one source
//! registering many credentials, and recovery requests in bulk from one
//! source or repeated for one account (`request_recovery`). Counter regressions, attempts with revoked
//! or quarantined credentials, rate-limit bursts and compromised models
//! carry a severity on their own events; `keybound audit alerts` lists all
//! of them.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use keybound_audit::{NewEvent, Outcome, Severity};

/// When a detector fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertThresholds {
    /// Distinct accounts with failed ceremonies from one source...
    pub failure_accounts: usize,
    /// ...and successful registrations from one source...
    pub registrations: usize,
    /// ...and recovery requests from one source, whatever the names...
    pub recovery_requests: usize,
    /// ...and recovery requests naming one real account, from anywhere...
    pub recovery_account_requests: usize,
    /// ...within this window, ms.
    pub window_ms: i64,
}

impl Default for AlertThresholds {
    /// Ten accounts failing, twenty registrations or five recovery
    /// requests from one address, or three recovery requests for one
    /// account, in ten minutes: far beyond a person (who asks for recovery
    /// once, perhaps again after a typo), easily reached by a script.
    fn default() -> Self {
        AlertThresholds {
            failure_accounts: 10,
            registrations: 20,
            recovery_requests: 5,
            recovery_account_requests: 3,
            window_ms: 10 * 60 * 1000,
        }
    }
}

/// Sources (addresses) tracked at most, per node, across detectors.
const MAX_SOURCES: usize = 10_000;
/// Events remembered at most, per node, across sources: with
/// [`MAX_SOURCES`] this bounds the detectors' memory (an event is a time
/// and a 64-bit hash, whatever the client sent as the target).
const MAX_EVENTS: usize = 100_000;
/// Events remembered per source: a detector fires when a window reaches its
/// threshold, so more than that (capped here) is never needed.
const MAX_EVENTS_PER_SOURCE: usize = 1_024;
/// Source text kept, bytes (an IPv6 address is at most 45).
const MAX_SOURCE_BYTES: usize = 64;
/// Idle windows are swept at least this often (calls).
const SWEEP_EVERY: usize = 256;
/// Observations waiting for the next flush to the other nodes, at most:
/// past it (the database unreachable for long) the newest are dropped.
const MAX_OUTBOX: usize = 10_000;

/// Recent events per (detector, source), and when each last fired. Bounded
/// in sources and events; windows are forgotten when their events leave
/// the time window, and the least recently active first when the bounds
/// are reached. Targets are kept as keyed 64-bit hashes, never as the
/// text a client sent.
///
/// With sharing on (several nodes, [`crate::people::sharing`]), each
/// observation is also queued for the other nodes, and theirs are merged
/// into the same windows; targets are then hashed with a key every node
/// holds (the enumeration secret), so the same account counts once.
#[derive(Debug, Default)]
pub(crate) struct Detectors {
    seen: Mutex<Seen>,
}

#[derive(Debug, Default)]
struct Seen {
    windows: HashMap<(&'static str, String), Window>,
    /// Events held across every window.
    events: usize,
    calls: usize,
    /// The key of target hashes.
    key: [u8; 32],
    /// Whether observations are queued for the other nodes.
    sharing: bool,
    /// Observations not yet written for the other nodes.
    outbox: Vec<Observation>,
    /// The number of this node's next observation.
    next_seq: i64,
    /// Other nodes' observations already merged, (node, seq) -> time.
    merged: HashMap<(String, i64), i64>,
}

/// One observation, as the nodes share it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Observation {
    /// This node's number for it (unique with the node's name).
    pub(crate) seq: i64,
    pub(crate) detector: &'static str,
    pub(crate) source: String,
    /// Keyed hash of the target.
    pub(crate) target: i64,
    pub(crate) time_ms: i64,
}

/// How a detector counts: distinct targets or events, and how many fire it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rule {
    pub(crate) distinct: bool,
    pub(crate) threshold: usize,
    pub(crate) window_ms: i64,
}

/// An alert a detector raised, with what it is counted for (the claim key
/// across nodes).
#[derive(Debug, Clone)]
pub(crate) struct Raised {
    pub(crate) detector: &'static str,
    pub(crate) source: String,
    pub(crate) event: NewEvent,
}

#[derive(Debug, Default)]
struct Window {
    /// (time, target hash), oldest first; distinct targets only for
    /// detectors that count distinct targets.
    events: VecDeque<(i64, u64)>,
    fired_ms: Option<i64>,
    /// The last event or alert, ms.
    last_ms: i64,
}

impl Window {
    /// Adds an event at `time_ms` (which may be older than the newest, for
    /// another node's) and keeps what the rule needs: events inside the
    /// window as of `now_ms`, one per target when counting distinct
    /// targets (the newest), at most the threshold (the newest).
    fn add(&mut self, time_ms: i64, target: u64, rule: Rule, now_ms: i64) {
        while self
            .events
            .front()
            .is_some_and(|(t, _)| now_ms - t >= rule.window_ms)
        {
            self.events.pop_front();
        }
        if now_ms - time_ms >= rule.window_ms {
            return;
        }
        if rule.distinct {
            if self
                .events
                .iter()
                .any(|(t, h)| *h == target && *t >= time_ms)
            {
                return;
            }
            self.events.retain(|(_, h)| *h != target);
        }
        let at = self.events.partition_point(|(t, _)| *t <= time_ms);
        self.events.insert(at, (time_ms, target));
        while self.events.len() > rule.threshold.min(MAX_EVENTS_PER_SOURCE) {
            self.events.pop_front();
        }
    }

    /// Whether the window fires now: at its threshold and not fired within
    /// the window. Marks it fired if so.
    fn fires(&mut self, rule: Rule, now_ms: i64) -> bool {
        let recently_fired = self.fired_ms.is_some_and(|t| now_ms - t < rule.window_ms);
        if self.events.len() < rule.threshold || recently_fired {
            return false;
        }
        self.fired_ms = Some(now_ms);
        true
    }
}

/// The alert of `detector` for `source` with `count` in its window.
fn alert(detector: &str, source: &str, count: usize, rule: Rule, now_ms: i64) -> NewEvent {
    NewEvent {
        time_ms: now_ms,
        kind: format!("alert.{detector}"),
        ip: Some(source.to_owned()),
        outcome: Some(Outcome::Alert),
        severity: Some(Severity::High),
        reason: Some(format!(
            "{count} {} from one address within {} minutes",
            if rule.distinct { "accounts" } else { "events" },
            rule.window_ms / 60_000
        )),
        ..NewEvent::default()
    }
}

impl Seen {
    /// The keyed hash of a target.
    fn target(&self, subject: &str) -> u64 {
        let digest = crate::tokens::sha256(&[&self.key[..], subject.as_bytes()].concat());
        let mut bytes = [0u8; 8];
        for (b, d) in bytes.iter_mut().zip(digest) {
            *b = d;
        }
        u64::from_be_bytes(bytes)
    }

    /// Sweeps when due or over a bound.
    fn maybe_sweep(&mut self, now_ms: i64, window_ms: i64) {
        self.calls = self.calls.wrapping_add(1);
        if self.calls.is_multiple_of(SWEEP_EVERY)
            || self.windows.len() >= MAX_SOURCES
            || self.events >= MAX_EVENTS
        {
            self.sweep(now_ms, window_ms);
        }
    }

    /// Adds an event to the window of (`detector`, `source`), keeping the
    /// event count current; the window.
    fn add(
        &mut self,
        detector: &'static str,
        source: String,
        time_ms: i64,
        target: u64,
        rule: Rule,
        now_ms: i64,
    ) -> &mut Window {
        let Seen {
            windows, events, ..
        } = self;
        let window = windows.entry((detector, source)).or_default();
        let before = window.events.len();
        window.last_ms = window.last_ms.max(now_ms);
        window.add(time_ms, target, rule, now_ms);
        *events = events
            .saturating_sub(before)
            .saturating_add(window.events.len());
        window
    }

    /// Forgets windows with nothing inside `window_ms`; then, while over a
    /// bound, the least recently active eighth.
    fn sweep(&mut self, now_ms: i64, window_ms: i64) {
        self.windows
            .retain(|_, w| now_ms.saturating_sub(w.last_ms) < window_ms);
        while self.windows.len() >= MAX_SOURCES || self.events >= MAX_EVENTS {
            let mut times: Vec<i64> = self.windows.values().map(|w| w.last_ms).collect();
            let nth = times.len() / 8;
            let Some((_, cutoff, _)) = (!times.is_empty()).then(|| times.select_nth_unstable(nth))
            else {
                break;
            };
            let cutoff = *cutoff;
            self.windows.retain(|_, w| w.last_ms > cutoff);
            self.events = self.windows.values().map(|w| w.events.len()).sum();
        }
        self.events = self.windows.values().map(|w| w.events.len()).sum();
    }
}

impl Detectors {
    /// Records that `source` did something about `subject`; returns an
    /// alert event when the distinct subjects (or, with `distinct` false,
    /// the events) in the window reach `threshold`. Fires at most once per
    /// window per source.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn observe(
        &self,
        detector: &'static str,
        source: &str,
        subject: &str,
        distinct: bool,
        threshold: usize,
        window_ms: i64,
        now_ms: i64,
    ) -> Option<NewEvent> {
        if threshold == 0 {
            return None;
        }
        let rule = Rule {
            distinct,
            threshold,
            window_ms,
        };
        let mut seen = self.lock();
        seen.maybe_sweep(now_ms, window_ms);
        let target = seen.target(subject);
        let source = bounded(source);
        if seen.sharing && seen.outbox.len() < MAX_OUTBOX {
            let seq = seen.next_seq;
            seen.next_seq = seq.wrapping_add(1);
            seen.outbox.push(Observation {
                seq,
                detector,
                source: source.clone(),
                target: i64::from_be_bytes(target.to_be_bytes()),
                time_ms: now_ms,
            });
        }
        let window = seen.add(detector, source.clone(), now_ms, target, rule, now_ms);
        let count = window.events.len();
        window
            .fires(rule, now_ms)
            .then(|| alert(detector, &source, count, rule, now_ms))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Detectors whose target hashes are keyed with `key`, queueing
    /// observations for the other nodes if `sharing`.
    pub(crate) fn new(key: [u8; 32], sharing: bool) -> Self {
        let seen = Seen {
            key,
            sharing,
            ..Seen::default()
        };
        Detectors {
            seen: Mutex::new(seen),
        }
    }

    /// The observations made since the last call, for the other nodes.
    pub(crate) fn take_outbox(&self) -> Vec<Observation> {
        std::mem::take(&mut self.lock().outbox)
    }

    /// Puts back observations a failed flush did not write.
    pub(crate) fn restore_outbox(&self, mut observations: Vec<Observation>) {
        let mut seen = self.lock();
        observations.append(&mut seen.outbox);
        observations.truncate(MAX_OUTBOX);
        seen.outbox = observations;
    }

    /// Merges another node's observation (`node`, `seq`) into the windows
    /// under `rule` (once: a repeat is ignored). Returns the alert when the
    /// merged window reaches its threshold and has not fired within the
    /// window: the caller claims it across nodes before recording it.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn merge(
        &self,
        node: &str,
        seq: i64,
        detector: &'static str,
        source: &str,
        target: i64,
        time_ms: i64,
        rule: Rule,
        now_ms: i64,
    ) -> Option<Raised> {
        if rule.threshold == 0 {
            return None;
        }
        let mut seen = self.lock();
        seen.maybe_sweep(now_ms, rule.window_ms);
        if now_ms - time_ms >= rule.window_ms {
            return None;
        }
        // Forget what left every window; then at most one of each.
        if seen.merged.len() >= MAX_EVENTS {
            seen.merged.retain(|_, t| now_ms - *t < rule.window_ms);
            if seen.merged.len() >= MAX_EVENTS {
                seen.merged.clear();
            }
        }
        if seen
            .merged
            .insert((node.to_owned(), seq), time_ms)
            .is_some()
        {
            return None;
        }
        let source = bounded(source);
        let target = u64::from_be_bytes(target.to_be_bytes());
        let window = seen.add(detector, source.clone(), time_ms, target, rule, now_ms);
        let count = window.events.len();
        window.fires(rule, now_ms).then(|| Raised {
            detector,
            event: alert(detector, &source, count, rule, now_ms),
            source,
        })
    }

    /// (sources, events) held: what bounds this node's memory for the
    /// detectors.
    pub(crate) fn usage(&self) -> (usize, usize) {
        let seen = self.lock();
        (seen.windows.len(), seen.events)
    }
}

impl crate::Service {
    /// What this node's anomaly detectors hold: (sources, events). Both are
    /// bounded (10,000 and 100,000) whatever clients send; for monitoring
    /// and tests.
    pub fn anomaly_detector_usage(&self) -> (usize, usize) {
        self.people.detectors.usage()
    }
}

/// At most [`MAX_SOURCE_BYTES`] of `source`, cut at a character.
fn bounded(source: &str) -> String {
    let mut end = source.len().min(MAX_SOURCE_BYTES);
    while !source.is_char_boundary(end) {
        end -= 1;
    }
    source.get(..end).unwrap_or_default().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires_once_per_window_on_distinct_subjects() {
        let d = Detectors::default();
        let fire = |subject: &str, at| d.observe("burst", "1.2.3.4", subject, true, 3, 1000, at);
        assert!(fire("a", 0).is_none());
        assert!(fire("a", 1).is_none(), "the same account again");
        assert!(fire("b", 2).is_none());
        let alert = fire("c", 3).unwrap();
        assert_eq!(alert.kind, "alert.burst");
        assert_eq!(alert.outcome, Some(Outcome::Alert));
        assert!(fire("d", 4).is_none(), "once per window");
        assert!(fire("e", 1500).is_none(), "the old events left the window");
        assert!(fire("f", 1600).is_none());
        assert!(fire("g", 1700).is_some(), "a new window, a new alert");
        assert!(
            d.observe("burst", "5.6.7.8", "a", true, 3, 1000, 0)
                .is_none(),
            "per source"
        );
    }

    /// Issue 12 item 10: the detectors kept every target string for ten
    /// minutes and every source forever. Now: hashes, bounded counts,
    /// eviction by time and by age.
    #[test]
    fn state_is_bounded_in_sources_and_events_and_expires() {
        let d = Detectors::default();
        let huge = "x".repeat(4_000);
        for i in 0..(MAX_SOURCES + 5_000) {
            let source = format!("10.0.{}.{}", i / 256, i % 256);
            let _ = d.observe("burst", &source, &huge, true, 10, 1000, 0);
        }
        let (sources, events) = d.usage();
        assert!(sources <= MAX_SOURCES, "{sources}");
        assert!(events <= MAX_EVENTS, "{events}");
        // One source, many targets: at most the threshold is kept.
        for i in 0..5_000 {
            let _ = d.observe("burst", "1.2.3.4", &format!("t{i}"), true, 10, 1000, 1);
        }
        let window = |d: &Detectors| {
            let seen = d.seen.lock().unwrap();
            seen.windows[&("burst", "1.2.3.4".to_owned())].events.len()
        };
        assert_eq!(window(&d), 10);
        // After the window, the next sweep forgets everything idle.
        for i in 0..SWEEP_EVERY {
            let _ = d.observe("burst", "5.6.7.8", &format!("{i}"), true, 10, 1000, 10_000);
        }
        assert_eq!(d.usage().0, 1);
        assert!(bounded(&"é".repeat(100)).len() <= MAX_SOURCE_BYTES);
    }
}
