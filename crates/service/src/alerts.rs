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

/// Recent events per (detector, source), and when each last fired.
#[derive(Debug, Default)]
pub(crate) struct Detectors {
    seen: Mutex<HashMap<(&'static str, String), Window>>,
}

#[derive(Debug, Default)]
struct Window {
    events: VecDeque<(i64, String)>,
    fired_ms: Option<i64>,
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
        if seen.len() > 100_000 {
            seen.retain(|_, w| w.events.back().is_some_and(|(t, _)| now_ms - t < window_ms));
        }
        let window = seen.entry((detector, source.to_owned())).or_default();
        window.events.push_back((now_ms, subject.to_owned()));
        while window
            .events
            .front()
            .is_some_and(|(t, _)| now_ms - t >= window_ms)
        {
            window.events.pop_front();
        }
        let count = if distinct {
            let mut subjects: Vec<&str> = window.events.iter().map(|(_, s)| s.as_str()).collect();
            subjects.sort_unstable();
            subjects.dedup();
            subjects.len()
        } else {
            window.events.len()
        };
        let recently_fired = window.fired_ms.is_some_and(|t| now_ms - t < window_ms);
        if count < threshold || recently_fired {
            return None;
        }
        window.fired_ms = Some(now_ms);
        Some(NewEvent {
            time_ms: now_ms,
            kind: format!("alert.{detector}"),
            ip: Some(source.to_owned()),
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
}
