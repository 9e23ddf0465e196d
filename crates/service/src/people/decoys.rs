//! What `/assertion/options` lists for a name: its usable credentials, or,
//! for any name without them (unknown, invited, offboarded, every
//! credential revoked or quarantined, suspended), decoys that cannot be
//! told from a real account's (issue 12 item 17).
//!
//! A real answer has a shape: how many descriptors, each id's length and
//! transports. Decoys take theirs from the accounts that can sign in: this
//! node keeps a histogram of their shapes (refreshed every ten minutes,
//! every minute below a thousand accounts; bounded in distinct shapes) and each name picks one with a number keyed
//! by the server's enumeration secret, so the answer for a name is stable
//! while the population is, and the shapes are distributed as the real
//! ones are. Ids are `r || MAC(r)` with `r` derived from the name, so the
//! server recognises its own decoys when they come back ([`is_decoy`]).
//! Every name costs the same work: one name look-up, one credential
//! look-up (of nobody, for an unknown name), and the decoy computed whether
//! or not it is used.

use crate::people::PersonByName;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use aws_lc_rs::hmac;
use keybound_store::{CredentialStatus, IdentityStatus};
use keybound_webauthn::PublicKeyCredentialDescriptor;

use crate::{Service, ServiceError};

/// One account's answer: each credential's id length and transports.
type Shape = Vec<(usize, Vec<String>)>;

/// How often a node reloads the shapes of real accounts...
const REFRESH_MS: i64 = 10 * 60 * 1000;
/// ...or, while there are fewer than [`SMALL`] (a young deployment, where
/// each new account changes the distribution and a reload is cheap), this.
const REFRESH_SMALL_MS: i64 = 60 * 1000;
const SMALL: u64 = 1000;
/// At most this many distinct shapes are kept (the most common ones).
const MAX_SHAPES: usize = 1024;
/// Decoy ids end with a MAC of this many bytes.
const TAG: usize = 8;
/// Credential ids are at most 1023 bytes (WebAuthn L3 §5.8.3); decoys are
/// at least 16, enough for a MAC and some randomness.
const ID_LEN: std::ops::RangeInclusive<usize> = 16..=1023;

/// The shapes of real accounts, as a sorted histogram.
#[derive(Debug, Default)]
struct Population {
    /// Distinct shapes in a fixed order, with how many accounts have each.
    shapes: Vec<(Shape, u64)>,
    /// Their total count.
    total: u64,
}

impl Population {
    fn from_rows(rows: Vec<(String, usize, Vec<String>)>) -> Population {
        let mut counts: HashMap<Shape, u64> = HashMap::new();
        let mut current: Option<(String, Shape)> = None;
        for (identity, len, transports) in rows {
            match &mut current {
                Some((id, shape)) if *id == identity => shape.push((len, transports)),
                _ => {
                    if let Some((_, shape)) = current.take() {
                        *counts.entry(shape).or_default() += 1;
                    }
                    current = Some((identity, vec![(len, transports)]));
                }
            }
        }
        if let Some((_, shape)) = current {
            *counts.entry(shape).or_default() += 1;
        }
        let mut shapes: Vec<(Shape, u64)> = counts.into_iter().collect();
        // The most common shapes if there are too many, then a fixed order
        // so a name keeps its pick while the population barely changes.
        shapes.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        shapes.truncate(MAX_SHAPES);
        shapes.sort();
        let total = shapes.iter().map(|(_, n)| n).sum();
        Population { shapes, total }
    }

    /// The shape at quantile `u` (a uniform 64-bit number).
    fn pick(&self, u: u64) -> Shape {
        let target = (u128::from(u) * u128::from(self.total)) >> 64;
        let mut seen = 0u128;
        for (shape, n) in &self.shapes {
            seen += u128::from(*n);
            if target < seen {
                return shape.clone();
            }
        }
        // No account can sign in yet: what most passkeys look like.
        vec![(16, vec!["hybrid".to_owned(), "internal".to_owned()])]
    }
}

/// This node's view of the population, and when it was loaded.
#[derive(Debug, Default)]
pub(crate) struct Decoys {
    population: Mutex<Arc<Population>>,
    loaded_ms: AtomicI64,
}

impl Decoys {
    pub(crate) fn new() -> Self {
        Decoys {
            population: Mutex::default(),
            loaded_ms: AtomicI64::new(i64::MIN),
        }
    }
}

impl Service {
    /// The identity `name` signs in as, if it can, and the descriptors to
    /// offer: its active credentials, or decoys shaped like a real
    /// account's.
    pub(crate) async fn allow_list(
        &self,
        name: &str,
    ) -> Result<(Option<String>, Vec<PublicKeyCredentialDescriptor>), ServiceError> {
        let population = self.population().await?;
        // Who has which credentials: a committed view is enough, the answer
        // is checked again when the assertion comes back.
        let mut tx = self.kernel.store.read().await?;
        let identity = tx.person_by_name(name).await?;
        let owner = identity.as_ref().map_or("", |i| i.id.as_str());
        let usable: Vec<_> = tx
            .credentials_of(owner)
            .await?
            .into_iter()
            .filter(|c| c.status == CredentialStatus::Active)
            .map(|c| PublicKeyCredentialDescriptor::new(c.id, c.transports))
            .collect();
        drop(tx);
        let decoys = decoys_for(&self.config.enumeration_secret, &population, name);
        Ok(match identity {
            Some(i) if i.status == IdentityStatus::Active && !usable.is_empty() => {
                (Some(i.id), usable)
            }
            _ => (None, decoys),
        })
    }

    /// The shapes of real accounts, reloaded every ten minutes (every
    /// minute while there are few) by one request at a time, the others
    /// using the last ones.
    async fn population(&self) -> Result<Arc<Population>, ServiceError> {
        let now = self.now_ms();
        let loaded = self.people.decoys.loaded_ms.load(Ordering::Relaxed);
        let current = self
            .people
            .decoys
            .population
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let every = if current.total < SMALL {
            REFRESH_SMALL_MS
        } else {
            REFRESH_MS
        };
        let due = now.saturating_sub(loaded) >= every
            && self
                .people
                .decoys
                .loaded_ms
                .compare_exchange(loaded, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok();
        if !due {
            return Ok(current);
        }
        let rows = async {
            let mut tx = self.kernel.store.read().await?;
            tx.sign_in_shapes().await
        };
        match rows.await {
            Ok(rows) => {
                let fresh = Arc::new(Population::from_rows(rows));
                *self
                    .people
                    .decoys
                    .population
                    .lock()
                    .unwrap_or_else(|p| p.into_inner()) = fresh.clone();
                Ok(fresh)
            }
            Err(e) => {
                // The next request tries again.
                self.people
                    .decoys
                    .loaded_ms
                    .store(loaded, Ordering::Relaxed);
                Err(e.into())
            }
        }
    }
}

/// What decoys are keyed by: the name's look-up key, so every spelling of
/// a name gets the same decoys (as every spelling of a real name gets the
/// same credentials).
fn name_key(name: &str) -> Vec<u8> {
    keybound_names::lookup_key(name)
        .map(String::into_bytes)
        .unwrap_or_else(|| name.as_bytes().to_vec())
}

fn mac(secret: &[u8; 32], parts: &[&[u8]]) -> hmac::Tag {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let mut ctx = hmac::Context::with_key(&key);
    for part in parts {
        ctx.update(part);
    }
    ctx.sign()
}

fn decoys_for(
    secret: &[u8; 32],
    population: &Population,
    name: &str,
) -> Vec<PublicKeyCredentialDescriptor> {
    let key = name_key(name);
    let seed = mac(secret, &[b"keybound decoy shape\0", &key]);
    let u: [u8; 8] = seed
        .as_ref()
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .unwrap_or_default();
    population
        .pick(u64::from_le_bytes(u))
        .into_iter()
        .enumerate()
        .map(|(i, (len, transports))| {
            PublicKeyCredentialDescriptor::new(decoy_id(secret, &key, i, len), transports)
        })
        .collect()
}

/// The `i`th decoy id of the name keyed `key`, `len` bytes long (within
/// [`ID_LEN`]): `r || MAC(r)`, `r` derived from the name.
fn decoy_id(secret: &[u8; 32], key: &[u8], i: usize, len: usize) -> Vec<u8> {
    let len = len.clamp(*ID_LEN.start(), *ID_LEN.end());
    let mut id = Vec::with_capacity(len);
    let index = (i as u64).to_le_bytes();
    let mut block = 0u32;
    while id.len() < len - TAG {
        let chunk = mac(
            secret,
            &[b"keybound decoy id\0", &index, &block.to_le_bytes(), key],
        );
        let want = (len - TAG - id.len()).min(chunk.as_ref().len());
        id.extend_from_slice(chunk.as_ref().get(..want).unwrap_or_default());
        block += 1;
    }
    let tag = mac(secret, &[b"keybound decoy mac\0", &id]);
    id.extend_from_slice(tag.as_ref().get(..TAG).unwrap_or_default());
    id
}

/// Whether `id` is one of this server's decoys (whichever name and
/// ceremony it comes back in). Constant time in the MAC comparison.
pub(crate) fn is_decoy(secret: &[u8; 32], id: &[u8]) -> bool {
    if !ID_LEN.contains(&id.len()) {
        return false;
    }
    let Some((r, tag)) = id.split_at_checked(id.len() - TAG) else {
        return false;
    };
    let expected = mac(secret, &[b"keybound decoy mac\0", r]);
    aws_lc_rs::constant_time::verify_slices_are_equal(
        tag,
        expected.as_ref().get(..TAG).unwrap_or_default(),
    )
    .is_ok()
}

#[cfg(test)]
mod tests;
