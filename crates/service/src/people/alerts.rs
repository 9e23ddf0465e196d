//! Anomaly detectors that write alert events into the audit chain: one
//! source failing against many accounts (password-spraying's passkey
//! cousin: probing which accounts exist or are weak), one source
//! registering many credentials, and recovery requests in bulk from one
//! source or repeated for one account (`request_recovery`). Counter regressions, attempts with revoked
//! or quarantined credentials, rate-limit bursts and compromised models
//! carry a severity on their own events; `keybound audit alerts` lists all
//! of them.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, RandomState};
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

/// Recent events per (detector, source), and when each last fired. Bounded
/// in sources and events; windows are forgotten when their events leave
/// the time window, and the least recently active first when the bounds
/// are reached. Targets are kept as keyed 64-bit hashes, never as the
/// text a client sent.
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
    hasher: RandomState,
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

impl Seen {
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
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.calls = seen.calls.wrapping_add(1);
        if seen.calls.is_multiple_of(SWEEP_EVERY)
            || seen.windows.len() >= MAX_SOURCES
            || seen.events >= MAX_EVENTS
        {
            seen.sweep(now_ms, window_ms);
        }
        let target = seen.hasher.hash_one(subject);
        let source = bounded(source);
        let Seen {
            windows, events, ..
        } = &mut *seen;
        let window = windows.entry((detector, source.clone())).or_default();
        let before = window.events.len();
        window.last_ms = now_ms;
        while window
            .events
            .front()
            .is_some_and(|(t, _)| now_ms - t >= window_ms)
        {
            window.events.pop_front();
        }
        if distinct {
            window.events.retain(|(_, h)| *h != target);
        }
        window.events.push_back((now_ms, target));
        while window.events.len() > threshold.min(MAX_EVENTS_PER_SOURCE) {
            window.events.pop_front();
        }
        *events = events
            .saturating_sub(before)
            .saturating_add(window.events.len());
        let count = window.events.len();
        let recently_fired = window.fired_ms.is_some_and(|t| now_ms - t < window_ms);
        if count < threshold || recently_fired {
            return None;
        }
        window.fired_ms = Some(now_ms);
        Some(NewEvent {
            time_ms: now_ms,
            kind: format!("alert.{detector}"),
            ip: Some(source),
            outcome: Some(Outcome::Alert),
            severity: Some(Severity::High),
            reason: Some(format!(
                "{count} {} from one address within {} minutes",
                if distinct { "accounts" } else { "events" },
                window_ms / 60_000
            )),
            ..NewEvent::default()
        })
    }

    /// (sources, events) held: what bounds this node's memory for the
    /// detectors.
    pub(crate) fn usage(&self) -> (usize, usize) {
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
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
