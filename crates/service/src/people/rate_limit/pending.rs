//! Bounds on challenges issued and not yet answered.
//!
//! Each options request stores a challenge row that lives for the whole
//! challenge TTL unless it is answered, so unanswered requests are a way to
//! fill the disk. Two bounds:
//!
//! - per source (address, IPv6 /64), in this node's memory: the challenges
//!   this node issued to it that are neither answered (on any node: the
//!   store is asked which are still there) nor expired;
//! - in total, counted in the store (every node's), at most once a second
//!   per node plus what this node issued since. Over the total, the sources
//!   holding the most are refused, not everyone: a source may hold no more
//!   than its fair share (the total over the number of sources holding
//!   any, at least [`FAIR_FLOOR`]), so a browser with a challenge or two
//!   still gets one while a flooder does not. Only at twice the total
//!   (many sources flooding at once) is everyone refused: the disk bound
//!   wins over availability.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

/// Over the total, a source may always hold this many (a sign-in page asks
/// for one challenge for autofill and one for the button).
pub(super) const FAIR_FLOOR: usize = 4;
/// How often the store is asked for the total, and (while the answer
/// leaves it full) which of a full source's challenges are still
/// outstanding.
const REFRESH_MS: i64 = 1000;

#[derive(Debug)]
struct Slot {
    id: u64,
    /// SHA-256 of the challenge, once issued (None while being issued).
    hash: Option<Vec<u8>>,
    expires_ms: i64,
}

#[derive(Debug, Default)]
struct Held {
    slots: Vec<Slot>,
    /// When the store was last asked which are outstanding, and whether
    /// the source was still full after it (then it is not asked again for
    /// a second).
    refreshed_ms: Option<i64>,
    fruitless: bool,
    /// Refused since it was last admitted (the first refusal is audited).
    refusing: bool,
}

#[derive(Debug, Default)]
struct State {
    by_source: HashMap<String, Held>,
    next_id: u64,
    /// The store's count when last asked, and when.
    counted: u64,
    counted_ms: Option<i64>,
    /// Issued by this node since the count.
    issued_since: u64,
    /// Reservations asked for (when to sweep).
    calls: u64,
    /// Refusing everyone (twice the total) since the last reservation.
    overloaded: bool,
}

/// This node's view of pending challenges.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    state: Mutex<State>,
}

/// The limits the check applies.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bounds {
    pub per_source: usize,
    pub total: usize,
}

/// What the store must be asked before deciding.
#[derive(Debug, Default)]
pub(crate) struct Questions {
    /// Which of these are still outstanding (the source is full).
    pub outstanding: Option<Vec<Vec<u8>>>,
    /// How many are outstanding in total.
    pub total: bool,
}

/// Challenge hashes the store was asked about, and those of them still
/// outstanding.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Checked<'a> {
    pub asked: &'a [Vec<u8>],
    pub live: &'a [Vec<u8>],
}

/// The decision on one options request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Go ahead; finish with [`Pending::issued`] or [`Pending::abandoned`].
    Reserved(u64),
    /// Refused until the source's oldest challenge expires.
    Refused { retry_after_s: u64, first: bool },
}

impl Pending {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Drops expired slots of `source`, and says what to ask the store.
    pub(crate) fn questions(&self, source: &str, bounds: Bounds, now_ms: i64) -> Questions {
        let mut state = self.lock();
        let total = bounds.total > 0
            && state
                .counted_ms
                .is_none_or(|at| now_ms.saturating_sub(at) >= REFRESH_MS);
        let outstanding = state.by_source.get_mut(source).and_then(|held| {
            held.slots.retain(|s| s.expires_ms > now_ms);
            let due = !held.fruitless
                || held
                    .refreshed_ms
                    .is_none_or(|at| now_ms.saturating_sub(at) >= REFRESH_MS);
            (bounds.per_source > 0 && held.slots.len() >= bounds.per_source && due).then(|| {
                held.refreshed_ms = Some(now_ms);
                held.slots.iter().filter_map(|s| s.hash.clone()).collect()
            })
        });
        Questions { outstanding, total }
    }

    /// Records the store's answers: `asked` were checked and only `live`
    /// remain; `total` are outstanding on every node.
    pub(crate) fn answers(
        &self,
        source: &str,
        asked: Option<Checked<'_>>,
        total: Option<u64>,
        bounds: Bounds,
        now_ms: i64,
    ) {
        let per_source = bounds.per_source;
        let mut state = self.lock();
        if let Some(total) = total {
            state.counted = total;
            state.counted_ms = Some(now_ms);
            state.issued_since = 0;
        }
        if let (Some(Checked { asked, live }), Some(held)) =
            (asked, state.by_source.get_mut(source))
        {
            let asked: HashSet<&[u8]> = asked.iter().map(Vec::as_slice).collect();
            let live: HashSet<&[u8]> = live.iter().map(Vec::as_slice).collect();
            held.slots.retain(|s| match &s.hash {
                Some(h) => !asked.contains(h.as_slice()) || live.contains(h.as_slice()),
                None => true,
            });
            // Still full of live ones: asking again soon would not help.
            // (Not "freed nothing": with concurrent requests another
            // answer may have freed them first.)
            held.fruitless = held.slots.len() >= per_source;
        }
    }

    /// Reserves a slot for `source` if the bounds allow.
    pub(crate) fn reserve(
        &self,
        source: &str,
        bounds: Bounds,
        expires_ms: i64,
        now_ms: i64,
    ) -> Verdict {
        let mut state = self.lock();
        state.calls = state.calls.wrapping_add(1);
        // Only addresses holding challenges keep an entry: memory follows
        // the challenges, which the bounds bound.
        if state.calls.is_multiple_of(1024) && state.by_source.len() > 1024 {
            state.by_source.retain(|_, held| {
                held.slots.retain(|s| s.expires_ms > now_ms);
                !held.slots.is_empty()
            });
        }
        let estimate = state.counted.saturating_add(state.issued_since);
        let total = bounds.total as u64;
        let over_total = bounds.total > 0 && estimate >= total;
        if over_total && estimate >= total.saturating_mul(2) {
            // Everyone is refused; audited once for all, not per address.
            let first = !state.overloaded;
            state.overloaded = true;
            return Verdict::Refused {
                retry_after_s: u64::try_from(REFRESH_MS / 1000).unwrap_or(1).max(1),
                first,
            };
        }
        state.overloaded = false;
        // Only counted when needed: it walks every address.
        let fair_share = over_total.then(|| {
            let holders = state
                .by_source
                .values()
                .filter(|h| !h.slots.is_empty())
                .count()
                .max(1);
            (bounds.total / holders).max(FAIR_FLOOR)
        });
        let count = state.by_source.get_mut(source).map_or(0, |held| {
            held.slots.retain(|s| s.expires_ms > now_ms);
            held.slots.len()
        });
        let over_source = bounds.per_source > 0 && count >= bounds.per_source;
        let over_fair_share = fair_share.is_some_and(|fair| count >= fair);
        if over_source || over_fair_share {
            // count >= 1 here (a fair share is at least FAIR_FLOOR), so
            // the address has an entry.
            if let Some(held) = state.by_source.get_mut(source) {
                let first = !held.refusing;
                held.refusing = true;
                let oldest = held.slots.iter().map(|s| s.expires_ms).min();
                let wait_ms = oldest.map_or(REFRESH_MS, |t| t.saturating_sub(now_ms));
                return Verdict::Refused {
                    retry_after_s: u64::try_from(wait_ms.max(0))
                        .map_or(1, |ms| ms.div_ceil(1000))
                        .max(1),
                    first,
                };
            }
        }
        let id = state.next_id;
        state.next_id = state.next_id.wrapping_add(1);
        state.issued_since = state.issued_since.saturating_add(1);
        let held = state.by_source.entry(source.to_owned()).or_default();
        held.refusing = false;
        held.slots.push(Slot {
            id,
            hash: None,
            expires_ms,
        });
        Verdict::Reserved(id)
    }

    /// The reserved slot `id` now holds the challenge hashed `hash`.
    pub(crate) fn issued(&self, source: &str, id: u64, hash: Vec<u8>) {
        let mut state = self.lock();
        if let Some(slot) = state
            .by_source
            .get_mut(source)
            .and_then(|h| h.slots.iter_mut().find(|s| s.id == id))
        {
            slot.hash = Some(hash);
        }
    }

    /// How many addresses have an entry (tests).
    #[cfg(test)]
    pub(crate) fn sources(&self) -> usize {
        self.lock().by_source.len()
    }

    /// The reserved slot `id` issued nothing (the request was refused).
    pub(crate) fn abandoned(&self, source: &str, id: u64) {
        let mut state = self.lock();
        state.issued_since = state.issued_since.saturating_sub(1);
        if let Some(held) = state.by_source.get_mut(source) {
            held.slots.retain(|s| s.id != id);
        }
    }
}
