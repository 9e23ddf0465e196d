//! Token buckets in this node's memory, bounded in number.
//!
//! A bucket that has refilled is indistinguishable from one never used, so
//! full and idle buckets are forgotten. When the map is full of buckets in
//! use (a flood from more addresses than [`MAX_BUCKETS`]), newcomers share
//! one overflow bucket instead of growing the map: memory stays bounded and
//! everyone already known keeps their own budget.

use std::collections::HashMap;
use std::sync::Mutex;

/// At most this many buckets (about 100 bytes each).
pub(super) const MAX_BUCKETS: usize = 100_000;
/// Buckets not touched for this long are forgotten (they are full again).
const IDLE_MS: i64 = 10 * 60 * 1000;
/// Sweep the map for forgettable buckets at most this often (in calls).
const SWEEP_EVERY: usize = 4096;
/// Where newcomers go while the map is full.
const OVERFLOW: &str = "overflow";

#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// May go below zero (debt) after failures or queued requests.
    tokens: f64,
    at_ms: i64,
    per_minute: u32,
    /// Refused (or delayed) since it last admitted freely.
    refusing: bool,
}

impl Bucket {
    fn capacity(&self) -> f64 {
        f64::from(self.per_minute)
    }

    fn per_ms(&self) -> f64 {
        self.capacity() / 60_000.0
    }

    /// Adds what flowed in since `at_ms`.
    fn refill(&mut self, now_ms: i64) {
        let elapsed = (now_ms - self.at_ms).max(0) as f64;
        self.tokens = (self.tokens + elapsed * self.per_ms()).min(self.capacity());
        self.at_ms = self.at_ms.max(now_ms);
    }

    /// Whether forgetting it changes nothing.
    fn forgettable(&self, now_ms: i64) -> bool {
        let mut b = *self;
        b.refill(now_ms);
        b.tokens >= b.capacity() || now_ms - self.at_ms >= IDLE_MS
    }

    /// Milliseconds until one whole token is back.
    fn wait_ms(&self) -> f64 {
        ((1.0 - self.tokens) / self.per_ms()).max(0.0)
    }
}

/// The verdict on one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Go ahead.
    Admitted,
    /// Refused; a token is back after this many seconds. `first` is true
    /// for the first refusal since the bucket last admitted (audited once,
    /// not per request).
    Refused { retry_after_s: u64, first: bool },
}

/// How long a queued request waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Delay {
    pub wait_ms: u64,
    /// The first delay since the bucket last admitted without one.
    pub first: bool,
}

/// The buckets of one node.
#[derive(Debug, Default)]
pub(crate) struct Buckets {
    map: Mutex<Map>,
}

#[derive(Debug, Default)]
struct Map {
    buckets: HashMap<String, Bucket>,
    calls: usize,
    /// Whether tokens taken are kept for the other nodes (`spent`).
    sharing: bool,
    /// Net tokens taken per bucket since the last [`Buckets::take_spent`]:
    /// what this node tells the others (sharing only; bounded by the map's
    /// keys, as only known buckets spend).
    spent: HashMap<String, i64>,
}

impl Map {
    /// Notes that `tokens` were taken from `key` (negative: given back),
    /// for the other nodes. The overflow bucket is this node's alone.
    fn spend(&mut self, key: &str, tokens: i64) {
        if !self.sharing || tokens == 0 || key == OVERFLOW || !self.buckets.contains_key(key) {
            return;
        }
        *self.spent.entry(key.to_owned()).or_default() += tokens;
    }

    /// The bucket `key` refilled to `now_ms`, made if needed (or the
    /// shared overflow bucket when the map is full).
    fn bucket(&mut self, key: &str, per_minute: u32, now_ms: i64) -> &mut Bucket {
        self.calls = self.calls.wrapping_add(1);
        if self.calls.is_multiple_of(SWEEP_EVERY) {
            self.buckets.retain(|_, b| !b.forgettable(now_ms));
        }
        let mut key = key;
        if !self.buckets.contains_key(key) && self.buckets.len() >= MAX_BUCKETS {
            self.buckets.retain(|_, b| !b.forgettable(now_ms));
            if self.buckets.len() >= MAX_BUCKETS {
                key = OVERFLOW;
            }
        }
        let bucket = self.buckets.entry(key.to_owned()).or_insert(Bucket {
            tokens: f64::from(per_minute),
            at_ms: now_ms,
            per_minute,
            refusing: false,
        });
        bucket.per_minute = per_minute;
        bucket.refill(now_ms);
        bucket
    }
}

fn refused(bucket: &mut Bucket) -> Admission {
    let first = !bucket.refusing;
    bucket.refusing = true;
    Admission::Refused {
        retry_after_s: ((bucket.wait_ms() / 1000.0).ceil() as u64).max(1),
        first,
    }
}

impl Buckets {
    fn lock(&self) -> std::sync::MutexGuard<'_, Map> {
        // A poisoned lock only means a panic elsewhere mid-update; the
        // numbers are still numbers.
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes a token from `key`, which holds `per_minute` and refills at
    /// that rate; refuses when none is left. A refusal costs nothing: the
    /// source gets its next token on time. `0` admits everything.
    pub(crate) fn take(&self, key: &str, per_minute: u32, now_ms: i64) -> Admission {
        if per_minute == 0 {
            return Admission::Admitted;
        }
        let mut map = self.lock();
        let bucket = map.bucket(key, per_minute, now_ms);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            bucket.refusing = false;
            map.spend(key, 1);
            return Admission::Admitted;
        }
        refused(bucket)
    }

    /// Like [`Buckets::take`] but leaves the token: for requests charged
    /// only by how they end ([`Buckets::adjust`]).
    pub(crate) fn peek(&self, key: &str, per_minute: u32, now_ms: i64) -> Admission {
        if per_minute == 0 {
            return Admission::Admitted;
        }
        let mut map = self.lock();
        let bucket = map.bucket(key, per_minute, now_ms);
        if bucket.tokens >= 1.0 {
            return Admission::Admitted;
        }
        refused(bucket)
    }

    /// Adds `tokens` (negative: charges them) to `key`, keeping it between
    /// one minute of debt and full.
    pub(crate) fn adjust(&self, key: &str, per_minute: u32, now_ms: i64, tokens: f64) {
        if per_minute == 0 {
            return;
        }
        let mut map = self.lock();
        let bucket = map.bucket(key, per_minute, now_ms);
        let capacity = bucket.capacity();
        bucket.tokens = (bucket.tokens + tokens).clamp(-capacity, capacity);
        map.spend(key, -(tokens.round() as i64));
    }

    /// Queues a request on `key`: it goes at once while tokens last, then
    /// requests are spaced at the bucket's rate, each waiting at most
    /// `max_delay_ms`. Nothing is ever refused; the debt is bounded by the
    /// longest wait, so the bucket recovers soon after a flood ends.
    pub(crate) fn queue(
        &self,
        key: &str,
        per_minute: u32,
        max_delay_ms: u64,
        now_ms: i64,
    ) -> Delay {
        if per_minute == 0 {
            return Delay {
                wait_ms: 0,
                first: false,
            };
        }
        let mut map = self.lock();
        let bucket = map.bucket(key, per_minute, now_ms);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            bucket.refusing = false;
            map.spend(key, 1);
            return Delay {
                wait_ms: 0,
                first: false,
            };
        }
        let max_delay = max_delay_ms as f64;
        let wait = bucket.wait_ms().min(max_delay);
        // The queue is at most max_delay long: beyond it requests stop
        // adding debt (they all wait the longest wait). At least one
        // token of debt, so a client that waits its turn and asks again
        // waits again (rather than every other time).
        let floor = (1.0 - max_delay * bucket.per_ms()).min(-1.0);
        bucket.tokens = (bucket.tokens - 1.0).max(floor);
        let first = !bucket.refusing;
        bucket.refusing = true;
        let delay = Delay {
            wait_ms: wait.ceil() as u64,
            first,
        };
        map.spend(key, 1);
        delay
    }

    /// Starts (or stops) keeping the tokens taken for the other nodes.
    pub(crate) fn share(&self, sharing: bool) {
        let mut map = self.lock();
        map.sharing = sharing;
        map.spent.clear();
    }

    /// The net tokens taken per bucket since the last call, and forgets
    /// them: what this node's next flush writes.
    pub(crate) fn take_spent(&self) -> Vec<(String, i64)> {
        let mut map = self.lock();
        std::mem::take(&mut map.spent)
            .into_iter()
            .filter(|(_, n)| *n != 0)
            .collect()
    }

    /// Puts back what a failed flush did not write.
    pub(crate) fn restore_spent(&self, spent: Vec<(String, i64)>) {
        let mut map = self.lock();
        if !map.sharing {
            return;
        }
        for (key, n) in spent {
            *map.spent.entry(key).or_default() += n;
        }
    }

    /// Charges `key` with `tokens` other nodes took from it (negative:
    /// gave back), within the same bounds as [`Buckets::adjust`]; not kept
    /// for the other nodes (they know). A bucket this node does not hold is
    /// made for it (so a source that moves here finds its budget spent),
    /// unless the map is full: the overflow bucket is not charged.
    pub(crate) fn charge_remote(&self, key: &str, per_minute: u32, now_ms: i64, tokens: i64) {
        if per_minute == 0 || tokens == 0 {
            return;
        }
        let mut map = self.lock();
        if !map.buckets.contains_key(key) && map.buckets.len() >= MAX_BUCKETS {
            return;
        }
        let bucket = map.bucket(key, per_minute, now_ms);
        let capacity = bucket.capacity();
        bucket.tokens = (bucket.tokens - tokens as f64).clamp(-capacity, capacity);
    }

    /// The tokens `key` holds at `now_ms` (tests).
    #[cfg(test)]
    pub(crate) fn tokens(&self, key: &str, per_minute: u32, now_ms: i64) -> f64 {
        self.lock().bucket(key, per_minute, now_ms).tokens
    }

    /// How many buckets exist (tests).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().buckets.len()
    }
}
