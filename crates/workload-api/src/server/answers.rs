//! What one caller receives from one snapshot: pure functions, so the
//! streams can recompute an answer on every snapshot and send it only when
//! it differs from the last one sent.
//!
//! Every function returns `None` when no identity matches the caller; the
//! RPCs turn that into `PermissionDenied` (bundles too, as SPIRE does by
//! default: a process with no entry learns nothing about the trust
//! domain).

use std::collections::{BTreeMap, BTreeSet};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use crate::proto::{JwtBundlesResponse, X509BundlesResponse, X509Svid, X509SvidResponse};
use crate::snapshot::{Identity, Snapshot};
use crate::wire::BundleView;

/// `spiffe://<td>`, the key of bundle maps.
pub(crate) fn td_id(trust_domain: &str) -> String {
    format!("spiffe://{trust_domain}")
}

/// A bundle's X.509 roots, concatenated DER. An authority that is not
/// base64url is skipped (and logged): the agent checked the sync already.
pub(crate) fn roots_der(bundle: &BundleView) -> Vec<u8> {
    let mut out = Vec::new();
    for a in &bundle.x509_authorities {
        match URL_SAFE_NO_PAD.decode(a) {
            Ok(der) => out.extend_from_slice(&der),
            Err(_) => tracing::warn!(
                trust_domain = %bundle.trust_domain,
                "workload api: skipping an X.509 authority that is not base64url"
            ),
        }
    }
    out
}

/// The caller's identities, or `None`.
fn identities<'a>(snap: &'a Snapshot, selectors: &'a [String]) -> Option<Vec<&'a Identity>> {
    let ids: Vec<&Identity> = snap.matching(selectors).collect();
    (!ids.is_empty()).then_some(ids)
}

/// The federated bundles the caller's entries federate with, that the
/// snapshot holds (never this trust domain's own).
fn federated<'a>(snap: &'a Snapshot, ids: &[&Identity]) -> Vec<&'a BundleView> {
    let wanted: BTreeSet<&str> = ids
        .iter()
        .flat_map(|i| i.entry.federates_with.iter().map(String::as_str))
        .collect();
    snap.federated
        .iter()
        .filter(|b| b.trust_domain != snap.trust_domain && wanted.contains(b.trust_domain.as_str()))
        .collect()
}

/// `FetchX509SVID`'s answer.
pub(crate) fn x509_svids(snap: &Snapshot, selectors: &[String]) -> Option<X509SvidResponse> {
    let ids = identities(snap, selectors)?;
    let bundle = snap.bundle.as_ref().map(roots_der).unwrap_or_default();
    let svids = ids
        .iter()
        .map(|i| X509Svid {
            spiffe_id: i.entry.spiffe_id.clone(),
            x509_svid: i.chain.concat(),
            x509_svid_key: i.key_pkcs8.clone(),
            bundle: bundle.clone(),
            hint: i.entry.hint.clone(),
        })
        .collect();
    let federated_bundles = federated(snap, &ids)
        .into_iter()
        .map(|b| (td_id(&b.trust_domain), roots_der(b)))
        .collect();
    Some(X509SvidResponse {
        svids,
        crl: snap.crls.clone(),
        federated_bundles,
    })
}

/// `FetchX509Bundles`' answer: this trust domain's roots and the
/// federated ones the caller's entries name.
pub(crate) fn x509_bundles(snap: &Snapshot, selectors: &[String]) -> Option<X509BundlesResponse> {
    let ids = identities(snap, selectors)?;
    let mut bundles = BTreeMap::new();
    if let Some(own) = &snap.bundle {
        bundles.insert(td_id(&snap.trust_domain), roots_der(own));
    }
    for b in federated(snap, &ids) {
        bundles.insert(td_id(&b.trust_domain), roots_der(b));
    }
    Some(X509BundlesResponse {
        crl: snap.crls.clone(),
        bundles,
    })
}

/// A JWKS document (`{"keys": [...]}`) of a bundle's JWT authorities.
fn jwks(bundle: &BundleView) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({ "keys": bundle.jwt_authorities })).unwrap_or_default()
}

/// `FetchJWTBundles`' answer.
pub(crate) fn jwt_bundles(snap: &Snapshot, selectors: &[String]) -> Option<JwtBundlesResponse> {
    let ids = identities(snap, selectors)?;
    let mut bundles = BTreeMap::new();
    if let Some(own) = &snap.bundle {
        bundles.insert(td_id(&snap.trust_domain), jwks(own));
    }
    for b in federated(snap, &ids) {
        bundles.insert(td_id(&b.trust_domain), jwks(b));
    }
    Some(JwtBundlesResponse { bundles })
}

/// The bundles (own first) a caller's `ValidateJWTSVID` trusts.
pub(crate) fn jwt_trust<'a>(
    snap: &'a Snapshot,
    selectors: &'a [String],
) -> Option<Vec<&'a BundleView>> {
    let ids = identities(snap, selectors)?;
    let mut out: Vec<&BundleView> = snap.bundle.iter().collect();
    out.extend(federated(snap, &ids));
    Some(out)
}
