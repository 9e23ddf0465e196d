//! The per-node session cache forward-auth answers from: session-cookie
//! hash → who it is and what the sign-in proved. Filled from the store on a
//! miss, bounded, and emptied of a subject's entries as soon as a change
//! about that subject is seen (see `changes.rs`). An entry never outlives
//! its session: a lookup past the session's expiry is a miss.
//!
//! A fill races a change: the store may be read just before a revocation
//! commits and the entry inserted just after the revocation dropped that
//! subject's (then absent) entries. Every drop bumps a generation, and a
//! fill inserts only if the generation it started at is still current, so
//! a stale read is served once (to the request that made it) and never
//! cached.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// How many sessions one node remembers. A full cache first forgets what
/// has expired, then an arbitrary entry: a forgotten session costs one
/// store read at its next request, nothing more.
pub(crate) const CAPACITY: usize = 50_000;

/// What the cache remembers of one live session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CachedSession {
    /// The identity's opaque id.
    pub(crate) identity_id: String,
    /// Its kind.
    pub(crate) kind: keybound_store::IdentityKind,
    /// Its account name: also what changes are keyed by (audit subjects).
    pub(crate) name: String,
    /// `admin` or `user`.
    pub(crate) groups: Vec<String>,
    /// The tier the session proved.
    pub(crate) tier: i64,
    /// Whether that sign-in verified the user.
    pub(crate) user_verified: bool,
    /// When it was proved, ms.
    pub(crate) proved_ms: i64,
    /// When the session expires, ms.
    pub(crate) expires_ms: i64,
    /// Whether the backup rule was met when the entry was filled.
    pub(crate) backup_met: bool,
    /// The device the session was proven on, as filled: dropped with the
    /// entry when a change names the device (`changes.rs`).
    pub(crate) device: Option<keybound_policy::DeviceContext>,
    /// When a posture fact `device` was built from turns stale, ms: the
    /// entry is a miss from then on, so a stale fact is never decided on.
    pub(crate) fresh_until_ms: i64,
    /// The DBSC binding of the session, when the browser bound it: then
    /// the request must also carry that binding's live bound cookie. A
    /// registration drops the entry (its `dbsc.register` names the
    /// person), so a session bound after it was cached is seen bound.
    pub(crate) bound: Option<String>,
    /// SHA-256 of the session cookie, what the bound cookie is made over.
    pub(crate) session_hash: Vec<u8>,
}

/// The cache (cheap to clone: clones share it).
#[derive(Debug, Clone)]
pub(crate) struct SessionCache {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    entries: RwLock<HashMap<Vec<u8>, Arc<CachedSession>>>,
    generation: AtomicU64,
    capacity: usize,
}

impl Default for SessionCache {
    fn default() -> Self {
        SessionCache::with_capacity(CAPACITY)
    }
}

impl SessionCache {
    /// An empty cache holding at most `capacity` sessions (at least one).
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        SessionCache {
            inner: Arc::new(Inner {
                entries: RwLock::new(HashMap::new()),
                generation: AtomicU64::new(0),
                capacity: capacity.max(1),
            }),
        }
    }

    /// The live session with cookie hash `hash` at `now_ms`, if cached.
    pub(crate) fn get(&self, hash: &[u8], now_ms: i64) -> Option<Arc<CachedSession>> {
        let entries = self.inner.entries.read().unwrap_or_else(|p| p.into_inner());
        entries
            .get(hash)
            .filter(|s| s.expires_ms > now_ms && s.fresh_until_ms > now_ms)
            .cloned()
    }

    /// The generation a fill starts at; pass it to [`SessionCache::insert`].
    pub(crate) fn generation(&self) -> u64 {
        self.inner.generation.load(Ordering::SeqCst)
    }

    /// Remembers `session` under `hash`, unless a drop happened since
    /// `generation` was read (then the read may be stale: not cached).
    pub(crate) fn insert(
        &self,
        hash: Vec<u8>,
        session: Arc<CachedSession>,
        generation: u64,
        now_ms: i64,
    ) {
        let mut entries = self
            .inner
            .entries
            .write()
            .unwrap_or_else(|p| p.into_inner());
        // Checked under the write lock: a drop takes it too, so it is
        // either wholly before this check or wholly after the insert.
        if self.generation() != generation {
            return;
        }
        if entries.len() >= self.inner.capacity && !entries.contains_key(&hash) {
            entries.retain(|_, s| s.expires_ms > now_ms);
            if entries.len() >= self.inner.capacity {
                if let Some(victim) = entries.keys().next().cloned() {
                    entries.remove(&victim);
                }
            }
        }
        entries.insert(hash, session);
    }

    /// Forgets every session of the identity named `name`, and every
    /// session proven on the device named `name`.
    pub(crate) fn drop_subject(&self, name: &str) {
        let mut entries = self
            .inner
            .entries
            .write()
            .unwrap_or_else(|p| p.into_inner());
        self.inner.generation.fetch_add(1, Ordering::SeqCst);
        entries.retain(|_, s| s.name != name && s.device.as_ref().is_none_or(|d| d.id != name));
    }

    /// Forgets everything (a change whose reach is not one identity).
    pub(crate) fn clear(&self) {
        let mut entries = self
            .inner
            .entries
            .write()
            .unwrap_or_else(|p| p.into_inner());
        self.inner.generation.fetch_add(1, Ordering::SeqCst);
        entries.clear();
    }

    /// How many sessions are cached.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.inner.entries.read().map(|e| e.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(name: &str, expires_ms: i64) -> Arc<CachedSession> {
        Arc::new(CachedSession {
            identity_id: format!("id-{name}"),
            kind: keybound_store::IdentityKind::Person,
            name: name.to_owned(),
            groups: vec!["user".to_owned()],
            tier: 1,
            user_verified: true,
            proved_ms: 0,
            expires_ms,
            backup_met: true,
            device: None,
            fresh_until_ms: i64::MAX,
            bound: None,
            session_hash: Vec::new(),
        })
    }

    #[test]
    fn an_entry_never_outlives_its_session() {
        let cache = SessionCache::default();
        cache.insert(b"a".to_vec(), session("ada", 100), cache.generation(), 0);
        assert!(cache.get(b"a", 99).is_some());
        assert!(cache.get(b"a", 100).is_none());
        assert!(cache.get(b"b", 0).is_none());
        // Nor its device's posture.
        let mut posture = (*session("ada", 100)).clone();
        posture.fresh_until_ms = 50;
        cache.insert(b"p".to_vec(), Arc::new(posture), cache.generation(), 0);
        assert!(cache.get(b"p", 49).is_some());
        assert!(cache.get(b"p", 50).is_none());
    }

    #[test]
    fn dropping_a_subject_forgets_only_theirs() {
        let cache = SessionCache::default();
        let g = cache.generation();
        cache.insert(b"a1".to_vec(), session("ada", 100), g, 0);
        cache.insert(b"a2".to_vec(), session("ada", 100), g, 0);
        cache.insert(b"b".to_vec(), session("bob", 100), g, 0);
        cache.drop_subject("ada");
        assert!(cache.get(b"a1", 0).is_none());
        assert!(cache.get(b"a2", 0).is_none());
        assert!(cache.get(b"b", 0).is_some());
        cache.clear();
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn a_change_naming_the_device_forgets_its_sessions() {
        let cache = SessionCache::default();
        let g = cache.generation();
        let mut on_device = (*session("ada", 100)).clone();
        on_device.device = Some(keybound_policy::DeviceContext {
            id: "dev-ada-mac".into(),
            ..Default::default()
        });
        cache.insert(b"a1".to_vec(), Arc::new(on_device), g, 0);
        cache.insert(b"a2".to_vec(), session("ada", 100), g, 0);
        cache.drop_subject("dev-ada-mac");
        assert!(cache.get(b"a1", 0).is_none());
        assert!(cache.get(b"a2", 0).is_some());
    }

    #[test]
    fn a_fill_that_raced_a_drop_is_not_cached() {
        let cache = SessionCache::default();
        let started = cache.generation();
        cache.drop_subject("ada");
        cache.insert(b"a".to_vec(), session("ada", 100), started, 0);
        assert!(cache.get(b"a", 0).is_none());
    }

    #[test]
    fn the_cache_stays_bounded() {
        let cache = SessionCache::with_capacity(3);
        let g = cache.generation();
        cache.insert(b"old".to_vec(), session("x", 10), g, 0);
        for key in [b"k1", b"k2", b"k3", b"k4"] {
            cache.insert(key.to_vec(), session("ada", 100), g, 50);
        }
        assert_eq!(cache.len(), 3);
        assert!(cache.get(b"k4", 50).is_some());
        assert!(cache.get(b"old", 0).is_none());
    }
}
