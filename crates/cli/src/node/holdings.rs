//! What the agent holds between syncs, and the decisions on it: which
//! entries need a new X.509-SVID, whether an SVID the server sent is one to
//! keep, and the [`Snapshot`] workloads see now. No IO and no clock: the
//! time arrives as an argument (ms since the epoch), so the tests pin it.
//!
//! An SVID is renewed when it is missing, past half its lifetime, issued
//! for an older revision of its entry, or no longer chains to an authority
//! of the current bundle (a CA rotation retired its issuer). It is served
//! until it expires and never after: a node cut off from every server
//! keeps its workloads working for the rest of their SVIDs' lifetimes, and
//! then drops them.

use std::collections::HashMap;
use std::time::Duration;

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair as _, ECDSA_P256_SHA256_ASN1_SIGNING};
use der::oid::AssociatedOid;
use der::{Decode as _, Encode as _};
use keybound_workload_api::snapshot::{Identity, Snapshot};
use keybound_workload_api::wire::{BundleView, EntryView, IssuedSvid, SvidRequest, SyncResponse};
use rustls_pki_types::{CertificateDer, UnixTime};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::Certificate;

use super::key::{b64, unb64};

/// Certificates in one SVID chain at most: a leaf and a few intermediates.
const MAX_CHAIN: usize = 8;

/// A key made for one entry's next SVID, sent as its public half.
pub(crate) struct Fresh {
    entry_id: String,
    key_pkcs8: Vec<u8>,
    spki: Vec<u8>,
}

impl Fresh {
    /// A new P-256 key for `entry_id`.
    pub(crate) fn generate(entry_id: &str) -> Result<Fresh, String> {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING)
            .map_err(|_| "cannot generate an SVID key".to_owned())?;
        let key_pkcs8 = pair
            .to_pkcs8v1()
            .map_err(|_| "cannot encode an SVID key".to_owned())?
            .as_ref()
            .to_vec();
        let spki = pair
            .public_key()
            .as_der()
            .map_err(|_| "cannot encode an SVID public key".to_owned())?
            .as_ref()
            .to_vec();
        Ok(Fresh {
            entry_id: entry_id.to_owned(),
            key_pkcs8,
            spki,
        })
    }

    /// What the sync request carries for it.
    pub(crate) fn request(&self) -> SvidRequest {
        SvidRequest {
            entry_id: self.entry_id.clone(),
            public_key: b64(&self.spki),
        }
    }
}

/// Why an SVID the server sent was not kept (logged; the entry is asked
/// for again on the next sync).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dropped {
    /// For an entry the node has no (or no longer an) entry for.
    UnknownEntry,
    /// For an entry this sync did not ask an SVID for.
    NotRequested,
    /// Not base64url DER certificates, empty, or too long a chain.
    Malformed,
    /// The leaf certifies another key than the one the agent sent.
    KeyMismatch,
    /// The leaf's URI SAN is not the entry's SPIFFE ID (or not the only one).
    WrongSpiffeId,
    /// It does not chain to an authority of the bundle, or is not valid now.
    Untrusted,
}

/// One SVID the agent holds.
struct Held {
    chain: Vec<Vec<u8>>,
    key_pkcs8: Vec<u8>,
    /// The entry's revision it was issued for.
    revision: i64,
    not_before_ms: i64,
    expires_at_ms: i64,
}

impl Held {
    /// When it is due for renewal: half its lifetime.
    fn half_life_ms(&self) -> i64 {
        self.not_before_ms + (self.expires_at_ms - self.not_before_ms) / 2
    }
}

/// The node's entries, their SVIDs and the bundles, as of the last sync.
#[derive(Default)]
pub(crate) struct Holdings {
    trust_domain: String,
    entries: Vec<EntryView>,
    held: HashMap<String, Held>,
    bundle: Option<BundleView>,
    federated: Vec<BundleView>,
    crls: Vec<Vec<u8>>,
}

impl Holdings {
    /// Empty, for the node's trust domain.
    pub(crate) fn new(trust_domain: &str) -> Holdings {
        Holdings {
            trust_domain: trust_domain.to_owned(),
            ..Holdings::default()
        }
    }

    /// The entries whose SVID should be (re)issued at `now_ms`.
    pub(crate) fn due(&self, now_ms: i64) -> Vec<String> {
        let anchors = self.bundle.as_ref().map(authorities).unwrap_or_default();
        self.entries
            .iter()
            .filter(|entry| match self.held.get(&entry.id) {
                None => true,
                Some(held) => {
                    now_ms >= held.half_life_ms()
                        || held.revision != entry.revision
                        || !chains(&held.chain, &anchors, now_ms)
                }
            })
            .map(|entry| entry.id.clone())
            .collect()
    }

    /// Takes a sync's answer: the entries, bundles and CRLs replace the old
    /// ones; each SVID is kept if it is for a key in `fresh` and checks out.
    /// Returns the SVIDs dropped, with why.
    pub(crate) fn absorb(
        &mut self,
        response: SyncResponse,
        fresh: Vec<Fresh>,
        now_ms: i64,
    ) -> Vec<(String, Dropped)> {
        let SyncResponse {
            entries,
            svids,
            bundle,
            federated,
            crls,
            ..
        } = response;
        self.held
            .retain(|id, _| entries.iter().any(|entry| entry.id == *id));
        self.entries = entries;
        let anchors = authorities(&bundle);
        let mut fresh: HashMap<String, Fresh> =
            fresh.into_iter().map(|f| (f.entry_id.clone(), f)).collect();
        let mut dropped = Vec::new();
        for svid in svids {
            let entry_id = svid.entry_id.clone();
            match self.check(svid, &mut fresh, &anchors, now_ms) {
                Ok(held) => {
                    self.held.insert(entry_id, held);
                }
                Err(why) => dropped.push((entry_id, why)),
            }
        }
        // An SVID of an entry whose SPIFFE ID changed is not served again.
        let entries = &self.entries;
        self.held.retain(|id, held| {
            entries.iter().find(|e| e.id == *id).is_some_and(|e| {
                leaf_spiffe_ids(&held.chain).as_deref() == Some(&[e.spiffe_id.clone()][..])
            })
        });
        self.crls = crls.iter().filter_map(|c| unb64(c)).collect();
        self.bundle = Some(bundle);
        self.federated = federated;
        dropped
    }

    fn check(
        &self,
        svid: IssuedSvid,
        fresh: &mut HashMap<String, Fresh>,
        anchors: &[Vec<u8>],
        now_ms: i64,
    ) -> Result<Held, Dropped> {
        let entry = self
            .entries
            .iter()
            .find(|e| e.id == svid.entry_id)
            .ok_or(Dropped::UnknownEntry)?;
        let key = fresh.remove(&svid.entry_id).ok_or(Dropped::NotRequested)?;
        if svid.chain.is_empty() || svid.chain.len() > MAX_CHAIN {
            return Err(Dropped::Malformed);
        }
        let chain: Vec<Vec<u8>> = svid
            .chain
            .iter()
            .map(|c| unb64(c))
            .collect::<Option<_>>()
            .ok_or(Dropped::Malformed)?;
        let leaf = chain
            .first()
            .and_then(|der| Certificate::from_der(der).ok())
            .ok_or(Dropped::Malformed)?;
        let tbs = &leaf.tbs_certificate;
        let spki = tbs
            .subject_public_key_info
            .to_der()
            .map_err(|_| Dropped::Malformed)?;
        if spki != key.spki {
            return Err(Dropped::KeyMismatch);
        }
        if leaf_spiffe_ids(&chain).as_deref() != Some(&[entry.spiffe_id.clone()][..]) {
            return Err(Dropped::WrongSpiffeId);
        }
        let not_before_ms = millis(tbs.validity.not_before.to_unix_duration());
        let expires_at_ms = millis(tbs.validity.not_after.to_unix_duration());
        // Verified at its notBefore if that is ahead of this host's clock
        // (a little skew between hosts must not refuse a fresh SVID); an
        // expired one is refused either way.
        if expires_at_ms <= now_ms || !chains(&chain, anchors, now_ms.max(not_before_ms)) {
            return Err(Dropped::Untrusted);
        }
        Ok(Held {
            chain,
            key_pkcs8: key.key_pkcs8,
            revision: entry.revision,
            // Half-life counts from when it arrived if the server backdated
            // notBefore (for clock skew): else a short SVID would be past
            // half-life on arrival and renewed at every sync.
            not_before_ms: not_before_ms.max(now_ms.min(expires_at_ms)),
            expires_at_ms,
        })
    }

    /// Forgets everything (the node was refused: serve nothing).
    pub(crate) fn forget(&mut self) {
        let trust_domain = std::mem::take(&mut self.trust_domain);
        *self = Holdings::new(&trust_domain);
    }

    /// The earliest time after `now_ms` something held changes on its own
    /// (an SVID reaches half-life or expires).
    pub(crate) fn next_change_ms(&self, now_ms: i64) -> Option<i64> {
        self.held
            .values()
            .flat_map(|h| [h.half_life_ms(), h.expires_at_ms])
            .filter(|t| *t > now_ms)
            .min()
    }

    /// What workloads may receive at `now_ms`: unexpired SVIDs only.
    pub(crate) fn snapshot(&self, now_ms: i64) -> Snapshot {
        let identities = self
            .entries
            .iter()
            .filter_map(|entry| {
                let held = self.held.get(&entry.id)?;
                (held.expires_at_ms > now_ms).then(|| Identity {
                    entry: entry.clone(),
                    chain: held.chain.clone(),
                    key_pkcs8: held.key_pkcs8.clone(),
                    expires_at_ms: held.expires_at_ms,
                })
            })
            .collect();
        Snapshot {
            trust_domain: self.trust_domain.clone(),
            identities,
            bundle: self.bundle.clone(),
            federated: self.federated.clone(),
            crls: self.crls.clone(),
        }
    }
}

/// Whether two snapshots hold the same things (publish only on change).
pub(crate) fn same(a: &Snapshot, b: &Snapshot) -> bool {
    a.trust_domain == b.trust_domain
        && a.bundle == b.bundle
        && a.federated == b.federated
        && a.crls == b.crls
        && a.identities.len() == b.identities.len()
        && a.identities.iter().zip(&b.identities).all(|(x, y)| {
            x.entry == y.entry && x.chain == y.chain && x.expires_at_ms == y.expires_at_ms
        })
}

/// The bundle's X.509 authorities, DER (undecodable ones left out).
fn authorities(bundle: &BundleView) -> Vec<Vec<u8>> {
    bundle
        .x509_authorities
        .iter()
        .filter_map(|a| unb64(a))
        .collect()
}

/// Whether `chain` (leaf first) verifies to one of `anchors` at `at_ms`.
/// Any extended key usage: whether a workload may use it for TLS is the
/// peer's check, the agent only asks whether the trust domain vouches.
fn chains(chain: &[Vec<u8>], anchors: &[Vec<u8>], at_ms: i64) -> bool {
    let Some((leaf, rest)) = chain.split_first() else {
        return false;
    };
    let anchor_ders: Vec<CertificateDer<'_>> = anchors
        .iter()
        .map(|a| CertificateDer::from(a.as_slice()))
        .collect();
    let anchors: Vec<_> = anchor_ders
        .iter()
        .filter_map(|a| webpki::anchor_from_trusted_cert(a).ok())
        .collect();
    if anchors.is_empty() {
        return false;
    }
    let leaf = CertificateDer::from(leaf.as_slice());
    let intermediates: Vec<CertificateDer<'_>> = rest
        .iter()
        .map(|c| CertificateDer::from(c.as_slice()))
        .collect();
    let Ok(at) = u64::try_from(at_ms) else {
        return false;
    };
    let time = UnixTime::since_unix_epoch(Duration::from_millis(at));
    webpki::EndEntityCert::try_from(&leaf)
        .and_then(|ee| {
            ee.verify_for_usage(
                webpki::ALL_VERIFICATION_ALGS,
                &anchors,
                &intermediates,
                time,
                AnyUsage,
                None,
                None,
            )
            .map(|_| ())
        })
        .is_ok()
}

/// The leaf's URI SANs, if it decodes.
fn leaf_spiffe_ids(chain: &[Vec<u8>]) -> Option<Vec<String>> {
    let leaf = Certificate::from_der(chain.first()?).ok()?;
    let mut uris = Vec::new();
    for ext in leaf.tbs_certificate.extensions.iter().flatten() {
        if ext.extn_id == <SubjectAltName as AssociatedOid>::OID {
            let san = SubjectAltName::from_der(ext.extn_value.as_bytes()).ok()?;
            for name in san.0 {
                if let GeneralName::UniformResourceIdentifier(uri) = name {
                    uris.push(uri.to_string());
                }
            }
        }
    }
    Some(uris)
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Accepts any extended key usage (see [`chains`]).
struct AnyUsage;

impl webpki::ExtendedKeyUsageValidator for AnyUsage {
    fn validate(&self, iter: webpki::KeyPurposeIdIter<'_, '_>) -> Result<(), webpki::Error> {
        for purpose in iter {
            purpose?;
        }
        Ok(())
    }
}
