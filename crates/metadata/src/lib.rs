//! FIDO Metadata Service v3 BLOBs: what the FIDO Alliance says about each
//! authenticator model — its attestation roots, whether it is certified, and
//! whether it has been compromised.
//!
//! A BLOB is a JWT signed with RS256 by a certificate that chains to the
//! FIDO root. [`verify_blob`] checks the signature, the chain (to the root
//! the caller configures, at the time the caller gives), and `nextUpdate`,
//! then indexes the entries by AAGUID and by attestation certificate key
//! identifier. Like `keybound-webauthn` it does no IO and reads no clock:
//! which BLOB is current (`no` only goes up) is the caller's decision.
//!
//! Not checked: certificate revocation lists (the BLOB's chain is short-
//! lived and the caller pins the root).
#![warn(missing_docs)]
#![cfg_attr(
    test,
    allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

use std::collections::HashMap;

use aws_lc_rs::{digest, signature};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use der::Decode;
use keybound_webauthn::{AttestationTrust, TrustAnchors};
use serde::Deserialize;

/// Status reports after which no credential of the model is trusted.
pub const ADVERSE_STATUSES: [&str; 5] = [
    "USER_VERIFICATION_BYPASS",
    "ATTESTATION_KEY_COMPROMISE",
    "USER_KEY_REMOTE_COMPROMISE",
    "USER_KEY_PHYSICAL_COMPROMISE",
    "REVOKED",
];

/// Why a BLOB was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MetadataError {
    /// Not a JWT of the MDS3 shape.
    Malformed(String),
    /// A signing algorithm other than RS256.
    UnsupportedAlgorithm(String),
    /// The signature does not verify with the signing certificate.
    BadSignature,
    /// The signing certificate does not chain to the configured root.
    UntrustedSigner(String),
    /// `nextUpdate` has passed: the BLOB is stale.
    Expired {
        /// The BLOB's `nextUpdate` (YYYY-MM-DD).
        next_update: String,
    },
}

impl std::fmt::Display for MetadataError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MetadataError::Malformed(what) => write!(f, "malformed metadata BLOB: {what}"),
            MetadataError::UnsupportedAlgorithm(alg) => {
                write!(f, "metadata BLOB signed with {alg}, not RS256")
            }
            MetadataError::BadSignature => f.write_str("metadata BLOB signature does not verify"),
            MetadataError::UntrustedSigner(why) => {
                write!(
                    f,
                    "metadata BLOB signer does not chain to the FIDO root: {why}"
                )
            }
            MetadataError::Expired { next_update } => {
                write!(f, "metadata BLOB expired (nextUpdate {next_update})")
            }
        }
    }
}

impl std::error::Error for MetadataError {}

/// One authenticator model's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// AAGUID, 8-4-4-4-12 lowercase (FIDO2 authenticators).
    pub aaguid: Option<String>,
    /// Hex SHA-1 key identifiers of attestation certificates (U2F).
    pub key_identifiers: Vec<String>,
    /// The model's name.
    pub description: String,
    /// DER attestation root certificates for this model.
    pub roots: Vec<Vec<u8>>,
    /// Status report history, oldest first (e.g. `FIDO_CERTIFIED_L1`).
    pub statuses: Vec<String>,
    /// `attachmentHint`: `internal` (a platform authenticator), `external`,
    /// `wired`, `nfc`, … as the statement lists them; empty when absent.
    pub attachment_hint: Vec<String>,
    /// `keyProtection`: `software`, `hardware`, `tee`, `secure_element`,
    /// `remote_handle`; empty when absent.
    pub key_protection: Vec<String>,
}

impl Entry {
    /// The first adverse status reported, if any: a model once compromised
    /// stays untrusted whatever came after.
    pub fn adverse_status(&self) -> Option<&str> {
        self.statuses
            .iter()
            .map(String::as_str)
            .find(|s| ADVERSE_STATUSES.contains(s))
    }

    /// The highest FIDO certification reported (`FIDO_CERTIFIED`,
    /// `FIDO_CERTIFIED_L1` … `L3+`), if any.
    pub fn certification(&self) -> Option<&str> {
        self.statuses
            .iter()
            .map(String::as_str)
            .filter(|s| s.starts_with("FIDO_CERTIFIED"))
            .max()
    }

    /// Chains an attestation's x5c to this model's roots at `now`.
    pub fn verify_attestation(&self, x5c: Vec<Vec<u8>>, now_unix_secs: u64) -> bool {
        match TrustAnchors::new(self.roots.iter().cloned(), now_unix_secs) {
            Ok(anchors) if !anchors.is_empty() => {
                matches!(anchors.verify_chain(x5c), AttestationTrust::Verified { .. })
            }
            _ => false,
        }
    }
}

/// A verified BLOB, indexed.
#[derive(Debug, Clone)]
pub struct MetadataBlob {
    /// Serial number; each new BLOB has a higher one.
    pub no: u64,
    /// When the next BLOB is due (YYYY-MM-DD); after it this one is stale.
    pub next_update: String,
    entries: Vec<Entry>,
    by_aaguid: HashMap<String, usize>,
    by_key_identifier: HashMap<String, usize>,
}

impl MetadataBlob {
    /// The entry for an AAGUID (any case).
    pub fn by_aaguid(&self, aaguid: &str) -> Option<&Entry> {
        self.by_aaguid
            .get(&aaguid.to_ascii_lowercase())
            .and_then(|&i| self.entries.get(i))
    }

    /// The entry for an attestation certificate key identifier (hex SHA-1
    /// of the certificate's public key bits, any case).
    pub fn by_key_identifier(&self, id: &str) -> Option<&Entry> {
        self.by_key_identifier
            .get(&id.to_ascii_lowercase())
            .and_then(|&i| self.entries.get(i))
    }

    /// Every entry.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    x5c: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Payload {
    no: u64,
    next_update: String,
    entries: Vec<RawEntry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEntry {
    #[serde(default)]
    aaguid: Option<String>,
    #[serde(default)]
    attestation_certificate_key_identifiers: Vec<String>,
    #[serde(default)]
    metadata_statement: Option<RawStatement>,
    #[serde(default)]
    status_reports: Vec<RawStatus>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawStatement {
    #[serde(default)]
    description: String,
    #[serde(default)]
    attestation_root_certificates: Vec<String>,
    /// Kept lenient: a statement that spells these oddly loses the hint,
    /// not the whole BLOB.
    #[serde(default)]
    attachment_hint: Option<serde_json::Value>,
    #[serde(default)]
    key_protection: Option<serde_json::Value>,
}

/// The strings of a statement's string array (`attachmentHint`,
/// `keyProtection`), lowercased; anything else is no hint.
fn strings(value: Option<&serde_json::Value>) -> Vec<String> {
    value
        .and_then(serde_json::Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(serde_json::Value::as_str)
                .take(16)
                .map(str::to_ascii_lowercase)
                .collect()
        })
        .unwrap_or_default()
}

#[derive(Deserialize)]
struct RawStatus {
    status: String,
}

/// Verifies a BLOB (the JWT's bytes) signed by a certificate chaining to
/// `fido_root` (DER), judged at `now_unix_secs`.
pub fn verify_blob(
    jwt: &[u8],
    fido_root: &[u8],
    now_unix_secs: u64,
) -> Result<MetadataBlob, MetadataError> {
    let malformed = |what: &str| MetadataError::Malformed(what.to_owned());
    let text = std::str::from_utf8(jwt)
        .map_err(|_| malformed("not text"))?
        .trim();
    let mut parts = text.split('.');
    let (Some(header_b64), Some(payload_b64), Some(sig_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed("not three dot-separated parts"));
    };
    let decode = |part: &str| {
        URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| malformed("base64url"))
    };
    let header: Header =
        serde_json::from_slice(&decode(header_b64)?).map_err(|_| malformed("header"))?;
    if header.alg != "RS256" {
        return Err(MetadataError::UnsupportedAlgorithm(header.alg));
    }
    let chain = header
        .x5c
        .iter()
        .map(|c| STANDARD.decode(c).map_err(|_| malformed("x5c")))
        .collect::<Result<Vec<_>, _>>()?;
    let leaf = chain.first().ok_or_else(|| malformed("no x5c"))?;
    let signed = format!("{header_b64}.{payload_b64}");
    let key = public_key_bits(leaf).ok_or_else(|| malformed("signing certificate key"))?;
    signature::UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, key)
        .verify(signed.as_bytes(), &decode(sig_b64)?)
        .map_err(|_| MetadataError::BadSignature)?;
    let anchors = TrustAnchors::new([fido_root.to_vec()], now_unix_secs)
        .map_err(|e| MetadataError::UntrustedSigner(e.to_string()))?;
    match anchors.verify_chain(chain) {
        AttestationTrust::Verified { .. } => {}
        AttestationTrust::Unverified { reason, .. } => {
            return Err(MetadataError::UntrustedSigner(format!("{reason:?}")))
        }
        _ => return Err(MetadataError::UntrustedSigner("no chain".into())),
    }

    let payload: Payload = serde_json::from_slice(&decode(payload_b64)?)
        .map_err(|e| MetadataError::Malformed(format!("payload: {e}")))?;
    if payload.next_update.as_str() < today(now_unix_secs).as_str() {
        return Err(MetadataError::Expired {
            next_update: payload.next_update,
        });
    }
    Ok(index(payload))
}

fn index(payload: Payload) -> MetadataBlob {
    let mut blob = MetadataBlob {
        no: payload.no,
        next_update: payload.next_update,
        entries: Vec::new(),
        by_aaguid: HashMap::new(),
        by_key_identifier: HashMap::new(),
    };
    for raw in payload.entries {
        let statement = raw.metadata_statement.unwrap_or_default();
        let entry = Entry {
            aaguid: raw.aaguid.map(|a| a.to_ascii_lowercase()),
            key_identifiers: raw
                .attestation_certificate_key_identifiers
                .iter()
                .map(|k| k.to_ascii_lowercase())
                .collect(),
            description: statement.description,
            roots: statement
                .attestation_root_certificates
                .iter()
                .filter_map(|c| STANDARD.decode(c).ok())
                .collect(),
            statuses: raw.status_reports.into_iter().map(|s| s.status).collect(),
            attachment_hint: strings(statement.attachment_hint.as_ref()),
            key_protection: strings(statement.key_protection.as_ref()),
        };
        let i = blob.entries.len();
        if let Some(aaguid) = &entry.aaguid {
            blob.by_aaguid.insert(aaguid.clone(), i);
        }
        for id in &entry.key_identifiers {
            blob.by_key_identifier.insert(id.clone(), i);
        }
        blob.entries.push(entry);
    }
    blob
}

/// The public key bits of a certificate (for RSA, the RSAPublicKey DER).
fn public_key_bits(cert_der: &[u8]) -> Option<Vec<u8>> {
    let cert = x509_cert::Certificate::from_der(cert_der).ok()?;
    cert.tbs_certificate
        .subject_public_key_info
        .subject_public_key
        .as_bytes()
        .map(<[u8]>::to_vec)
}

/// The attestation certificate key identifier (hex SHA-1 of the public key
/// bits) MDS uses for U2F authenticators.
pub fn key_identifier(cert_der: &[u8]) -> Option<String> {
    let bits = public_key_bits(cert_der)?;
    let hash = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &bits);
    Some(hash.as_ref().iter().map(|b| format!("{b:02x}")).collect())
}

/// `now` as YYYY-MM-DD (UTC), to compare with `nextUpdate`.
fn today(now_unix_secs: u64) -> String {
    let secs = i64::try_from(now_unix_secs).unwrap_or(i64::MAX);
    time::OffsetDateTime::from_unix_timestamp(secs)
        .map(|t| format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day()))
        .unwrap_or_else(|_| "9999-12-31".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn today_is_an_iso_date() {
        assert_eq!(today(0), "1970-01-01");
        assert_eq!(today(1_795_325_460), "2026-11-22");
    }

    #[test]
    fn compromise_outlives_later_reports_and_certification_is_the_highest() {
        let entry = Entry {
            aaguid: None,
            key_identifiers: vec![],
            description: String::new(),
            roots: vec![],
            statuses: vec![
                "FIDO_CERTIFIED_L1".into(),
                "ATTESTATION_KEY_COMPROMISE".into(),
                "FIDO_CERTIFIED_L2".into(),
            ],
            attachment_hint: vec![],
            key_protection: vec![],
        };
        assert_eq!(entry.adverse_status(), Some("ATTESTATION_KEY_COMPROMISE"));
        assert_eq!(entry.certification(), Some("FIDO_CERTIFIED_L2"));
    }
}
