//! Token buckets for the ceremony endpoints: one per source address, and
//! one per (identity, source) pair. A flood slows its source down; the same
//! person from anywhere else is untouched, so the limit can never be used
//! to lock someone out of their own account.
//!
//! The buckets live in this node's memory: several nodes each enforce their
//! own share, which is what a per-node flood limit needs.

use std::collections::HashMap;
use std::sync::Mutex;

use keybound_audit::{Outcome, Severity};

use crate::{ClientContext, Service, ServiceError};

/// Buckets not touched for this long are forgotten (they are full again).
const IDLE_MS: i64 = 10 * 60 * 1000;
/// Sweep the map for idle buckets at most this often.
const SWEEP_EVERY: usize = 4096;

/// Limits, in requests per minute; a `per_source` of 0 turns limiting off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// Ceremony requests per minute from one source address. Sized for an
    /// organisation behind one NAT: 600 allow 300 sign-ins a minute.
    pub per_source: u32,
    /// Ceremony requests per minute naming one identity from one source.
    pub per_identity: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            per_source: 600,
            per_identity: 30,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at_ms: i64,
    /// Refused since it last admitted anything.
    refusing: bool,
}

/// The buckets.
#[derive(Debug, Default)]
pub(crate) struct Limiter {
    buckets: Mutex<(HashMap<String, Bucket>, usize)>,
}

/// The verdict on one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Go ahead.
    Admitted,
    /// Refused; a token is back after this many seconds. `first` is true
    /// for the first refusal since the bucket last had tokens (audited
    /// once, not per request).
    Refused { retry_after_s: u64, first: bool },
}

impl Limiter {
    /// Takes a token from the bucket `key`, which holds `per_minute` and
    /// refills at that rate.
    pub(crate) fn take(&self, key: &str, per_minute: u32, now_ms: i64) -> Admission {
        if per_minute == 0 {
            return Admission::Admitted;
        }
        let capacity = f64::from(per_minute);
        let per_ms = capacity / 60_000.0;
        let mut guard = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let (buckets, calls) = &mut *guard;
        *calls += 1;
        if *calls % SWEEP_EVERY == 0 {
            buckets.retain(|_, b| now_ms - b.at_ms < IDLE_MS);
        }
        let bucket = buckets.entry(key.to_owned()).or_insert(Bucket {
            tokens: capacity,
            at_ms: now_ms,
            refusing: false,
        });
        let elapsed = (now_ms - bucket.at_ms).max(0) as f64;
        let before = (bucket.tokens + elapsed * per_ms).min(capacity);
        bucket.at_ms = now_ms;
        if before >= 1.0 {
            bucket.tokens = before - 1.0;
            bucket.refusing = false;
            return Admission::Admitted;
        }
        // Refusals cost nothing: the source gets its next token on time.
        bucket.tokens = before;
        let first = !bucket.refusing;
        bucket.refusing = true;
        let wait_ms = ((1.0 - before) / per_ms).ceil();
        Admission::Refused {
            retry_after_s: ((wait_ms / 1000.0).ceil() as u64).max(1),
            first,
        }
    }
}

impl Service {
    /// Admits one ceremony request from `ctx`'s address, naming `identity`
    /// if it does. Refused requests get [`ServiceError::RateLimited`]; the
    /// first refusal of a burst is audited (not every one: a flood must not
    /// flood the audit chain too).
    pub async fn admit(
        &self,
        ctx: &ClientContext,
        identity: Option<&str>,
    ) -> Result<(), ServiceError> {
        let limits = self.config.rate_limits;
        if limits.per_source == 0 {
            return Ok(());
        }
        // The bucket (memory) and the audit record hold the name in its
        // canonical form, or a bounded label: never whatever was sent.
        let identity = identity
            .filter(|n| !n.is_empty())
            .map(keybound_names::for_audit);
        let identity = identity.as_deref();
        let now = self.now_ms();
        let source = ctx.ip.as_deref().unwrap_or("unknown");
        let mut verdict = self
            .limiter
            .take(&format!("src {source}"), limits.per_source, now);
        if verdict == Admission::Admitted {
            if let Some(name) = identity.filter(|n| !n.is_empty()) {
                let key = format!("id {name}\u{0} {source}");
                verdict = self.limiter.take(&key, limits.per_identity, now);
            }
        }
        match verdict {
            Admission::Admitted => Ok(()),
            Admission::Refused {
                retry_after_s,
                first,
            } => {
                if first {
                    let mut event = self.event("rate_limited", ctx);
                    event.subject = identity.map(str::to_owned);
                    event.outcome = Some(Outcome::Failure);
                    event.reason = Some(format!("retry after {retry_after_s} s"));
                    event.severity = Some(Severity::Warning);
                    let mut tx = self.store.begin().await?;
                    tx.append_audit(event).await?;
                    tx.commit().await?;
                }
                Err(ServiceError::RateLimited { retry_after_s })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_empties_and_refills_at_its_rate() {
        let l = Limiter::default();
        for _ in 0..6 {
            assert_eq!(l.take("a", 6, 0), Admission::Admitted);
        }
        assert_eq!(
            l.take("a", 6, 0),
            Admission::Refused {
                retry_after_s: 10,
                first: true
            }
        );
        assert!(matches!(
            l.take("a", 6, 0),
            Admission::Refused { first: false, .. }
        ));
        assert_eq!(
            l.take("b", 6, 0),
            Admission::Admitted,
            "buckets are separate"
        );
        assert_eq!(
            l.take("a", 6, 10_000),
            Admission::Admitted,
            "one token per 10 s"
        );
        assert!(matches!(
            l.take("a", 6, 10_001),
            Admission::Refused { first: true, .. }
        ));
        assert_eq!(l.take("a", 0, 0), Admission::Admitted, "0 is off");
    }
}
