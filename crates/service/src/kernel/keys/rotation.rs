//! When a key changes state: a pure plan over the stored keys of one
//! purpose and algorithm, and the transaction that carries out one step
//! and audits it. Every step is a conditional statement, so of two nodes
//! planning the same step at once one does it and the other finds
//! nothing to do when it plans again.
//!
//! The schedule, for a rotation period P and a lead L = min(P/2, 1 day):
//! the active key's successor is made and published at `activated + P - L`
//! (prepare), starts signing at `activated + P` once it has been published
//! for L (activate, retiring the old key in the same transaction), and a
//! retired key is removed once every token it signed has expired:
//! `retired + max token lifetime + CACHE_TTL_MS` (a node may sign with the
//! key it cached for up to CACHE_TTL_MS after another node retired it).

use keybound_jose::Algorithm;
use keybound_store::SigningKeyRow;

use super::CACHE_TTL_MS;

/// The longest a new key is published before it signs: relying parties
/// refetch a JWKS at least daily.
pub(crate) const MAX_LEAD_MS: i64 = 24 * 60 * 60 * 1000;

/// How often keys rotate and how long signed tokens live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyRotation {
    /// A key signs for this long before its successor takes over, ms
    /// (`--oidc-key-rotation`; default 30 days).
    pub period_ms: i64,
    /// The longest lifetime of any token signed with a custody key, ms: a
    /// retired key stays published this long (default one day, above any
    /// ID, access or logout token lifetime keybound issues).
    pub max_token_lifetime_ms: i64,
}

impl Default for KeyRotation {
    fn default() -> Self {
        KeyRotation {
            period_ms: 30 * 24 * 60 * 60 * 1000,
            max_token_lifetime_ms: 24 * 60 * 60 * 1000,
        }
    }
}

impl KeyRotation {
    /// How long a successor is published before it signs.
    pub(crate) fn lead_ms(&self) -> i64 {
        (self.period_ms / 2).clamp(0, MAX_LEAD_MS)
    }

    /// How long after its retirement a key stays published.
    pub(crate) fn published_after_retirement_ms(&self) -> i64 {
        self.max_token_lifetime_ms.saturating_add(CACHE_TTL_MS)
    }
}

/// The next change for one purpose and algorithm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    /// No key signs: make one that signs at once (nobody holds a token
    /// that a JWKS without it would fail).
    Bootstrap,
    /// Make and publish the successor.
    Prepare,
    /// The successor starts signing; the active key, if any, retires.
    Activate {
        next: String,
        retiring: Option<String>,
    },
    /// A retired key whose tokens have all expired goes.
    Remove { kid: String },
}

impl Step {
    /// Whether the step needs a freshly generated key.
    pub(crate) fn needs_key(&self) -> bool {
        matches!(self, Step::Bootstrap | Step::Prepare)
    }
}

/// The next step for `keys` (all of one purpose and `alg`) at `now_ms`.
pub(crate) fn next_step(
    keys: &[SigningKeyRow],
    alg: Algorithm,
    now_ms: i64,
    rotation: &KeyRotation,
) -> Option<Step> {
    let keys: Vec<&SigningKeyRow> = keys.iter().filter(|k| k.alg == alg.as_str()).collect();
    if let Some(gone) = keys.iter().find(|k| {
        k.retired_ms
            .is_some_and(|r| now_ms >= r.saturating_add(rotation.published_after_retirement_ms()))
    }) {
        return Some(Step::Remove {
            kid: gone.kid.clone(),
        });
    }
    let active = keys
        .iter()
        .find(|k| k.activated_ms.is_some() && k.retired_ms.is_none());
    let prepared = keys.iter().find(|k| k.activated_ms.is_none());
    let Some(active) = active else {
        return Some(match prepared {
            Some(next) => Step::Activate {
                next: next.kid.clone(),
                retiring: None,
            },
            None => Step::Bootstrap,
        });
    };
    let since = active.activated_ms.unwrap_or(active.created_ms);
    let due = since.saturating_add(rotation.period_ms);
    match prepared {
        None if now_ms >= due.saturating_sub(rotation.lead_ms()) => Some(Step::Prepare),
        Some(next)
            if now_ms >= due && now_ms >= next.created_ms.saturating_add(rotation.lead_ms()) =>
        {
            Some(Step::Activate {
                next: next.kid.clone(),
                retiring: Some(active.kid.clone()),
            })
        }
        _ => None,
    }
}
