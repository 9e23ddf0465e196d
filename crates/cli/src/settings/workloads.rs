//! Workload identity (issue 17): the trust domain, SVID and CA lifetimes,
//! the organisation's CA to sign under, and the operator's key that seals
//! the CA's private keys in the database.

use std::path::{Path, PathBuf};

use base64::Engine;
use clap::Args;
use keybound_service::{Config, UpstreamCa};
use serde::{Deserialize, Serialize};

use super::values::Bounded;

/// The key-encryption key generated next to a SQLite database when none
/// is given.
pub(crate) const GENERATED_KEY_FILE: &str = "workload-ca.key";

/// Workload identity.
#[derive(Args, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
#[command(next_help_heading = "Workload identity")]
pub(crate) struct WorkloadSettings {
    /// The SPIFFE trust domain (default: the RP ID).
    #[arg(long, env = "KEYBOUND_TRUST_DOMAIN", value_name = "NAME")]
    trust_domain: Option<String>,
    /// Seconds an X.509-SVID lives unless its entry says otherwise.
    #[arg(
        long,
        env = "KEYBOUND_SVID_TTL",
        value_name = "SECONDS",
        default_value = "3600"
    )]
    svid_ttl: Option<Bounded<2, 2_592_000>>,
    /// Seconds a JWT-SVID lives unless its entry says otherwise.
    #[arg(
        long,
        env = "KEYBOUND_JWT_SVID_TTL",
        value_name = "SECONDS",
        default_value = "300"
    )]
    jwt_svid_ttl: Option<Bounded<1, 86_400>>,
    /// Seconds an X.509 authority of the workload CA lives; the next is
    /// prepared at half, activated at five sixths.
    #[arg(
        long,
        env = "KEYBOUND_CA_TTL",
        value_name = "SECONDS",
        default_value = "86400"
    )]
    ca_ttl: Option<Bounded<6, 31_536_000>>,
    /// The organisation's CA certificate (PEM or DER): keybound's
    /// authorities become intermediates under it. With `--ca-key`.
    #[arg(
        long,
        env = "KEYBOUND_CA_CERT",
        value_name = "FILE",
        requires = "ca_key"
    )]
    ca_cert: Option<PathBuf>,
    /// The private key of `--ca-cert` (PKCS#8, PEM or DER).
    #[arg(
        long,
        env = "KEYBOUND_CA_KEY",
        value_name = "FILE",
        requires = "ca_cert"
    )]
    ca_key: Option<PathBuf>,
    /// 32 random bytes (raw, or 64 hex digits) that seal the CA's and the
    /// audit log's private keys in the database (AES-256-GCM) and tag
    /// every audit event (HMAC): give every node and every command the
    /// same file. Required on PostgreSQL; on SQLite, generated next to the
    /// database (`workload-ca.key`, 0600) when not given.
    #[arg(long, env = "KEYBOUND_CA_KEY_ENCRYPTION_KEY_FILE", value_name = "FILE")]
    ca_key_encryption_key_file: Option<PathBuf>,
    /// Also serve the SPIFFE Workload API on this Unix socket (mode 0666)
    /// as the node `local`, for a single host with no `keybound node`:
    /// entries parented to `local` are served.
    #[arg(long, env = "KEYBOUND_WORKLOAD_SOCKET", value_name = "PATH")]
    workload_socket: Option<PathBuf>,
}

/// The DER inside `bytes`: the first PEM block's, or `bytes` as they are.
fn der(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Ok(bytes.to_vec());
    };
    let Some(start) = text.find("-----BEGIN ") else {
        return Ok(bytes.to_vec());
    };
    let body: String = text
        .get(start..)
        .unwrap_or_default()
        .lines()
        .skip(1)
        .take_while(|l| !l.starts_with("-----END "))
        .map(str::trim)
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|e| format!("not PEM: {e}"))
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// A key-encryption key from a file: 32 raw bytes, or 64 hex digits.
fn key_file(path: &Path) -> Result<[u8; 32], String> {
    let bytes = read(path)?;
    if let Ok(raw) = <[u8; 32]>::try_from(bytes.as_slice()) {
        return Ok(raw);
    }
    let text = String::from_utf8_lossy(&bytes);
    let hex = text.trim();
    let mut out = [0u8; 32];
    if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        for (i, byte) in out.iter_mut().enumerate() {
            let pair = hex.get(i * 2..i * 2 + 2).unwrap_or("00");
            *byte = u8::from_str_radix(pair, 16).map_err(|e| e.to_string())?;
        }
        return Ok(out);
    }
    Err(format!(
        "{}: a key-encryption key is 32 bytes (or 64 hex digits)",
        path.display()
    ))
}

impl WorkloadSettings {
    /// The Workload API socket `serve` also serves, if any.
    pub(crate) fn workload_socket(&self) -> Option<&Path> {
        self.workload_socket.as_deref()
    }

    /// Sets what is set; the rest keeps the service's defaults. The
    /// key-encryption key comes from its file, or on SQLite (`store_url`)
    /// from `workload-ca.key` beside the database, made (0600) if absent.
    pub(crate) fn apply(&self, config: &mut Config, store_url: &str) -> Result<(), String> {
        let w = &mut config.workloads;
        if let Some(td) = &self.trust_domain {
            w.trust_domain = Some(td.trim().to_ascii_lowercase());
        }
        if let Some(s) = self.svid_ttl {
            w.svid_ttl_s = u32::try_from(s.get()).unwrap_or(u32::MAX);
        }
        if let Some(s) = self.jwt_svid_ttl {
            w.jwt_svid_ttl_s = u32::try_from(s.get()).unwrap_or(u32::MAX);
        }
        if let Some(s) = self.ca_ttl {
            w.ca_ttl_s = u32::try_from(s.get()).unwrap_or(u32::MAX);
        }
        if let (Some(cert), Some(key)) = (&self.ca_cert, &self.ca_key) {
            w.upstream = Some(UpstreamCa {
                cert_der: der(&read(cert)?)?,
                key_pkcs8: der(&read(key)?)?,
            });
        }
        w.ca_key_encryption_key = match &self.ca_key_encryption_key_file {
            Some(path) => Some(key_file(path)?),
            None => match store_url.strip_prefix("sqlite://") {
                Some(db) if !db.starts_with(':') => generated_key(Path::new(db))?,
                _ => None,
            },
        };
        Ok(())
    }
}

/// The key in `workload-ca.key` beside the SQLite database `db`, made now
/// (32 bytes from the OS, mode 0600) if there is none.
fn generated_key(db: &Path) -> Result<Option<[u8; 32]>, String> {
    let dir = db.parent().unwrap_or_else(|| Path::new("."));
    let path = dir.join(GENERATED_KEY_FILE);
    if path.exists() {
        return key_file(&path).map(Some);
    }
    if !dir.is_dir() {
        // No database here yet (a check of settings): nothing to seal.
        return Ok(None);
    }
    let mut key = [0u8; 32];
    rand_core::TryRngCore::try_fill_bytes(&mut rand_core::OsRng, &mut key)
        .map_err(|e| format!("no randomness for the CA key: {e}"))?;
    let mut file =
        keybound_store::create_private(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    std::io::Write::write_all(&mut file, &key).map_err(|e| format!("{}: {e}", path.display()))?;
    tracing::info!(
        path = %path.display(),
        "generated the workload CA's key-encryption key (0600); back it up with the database"
    );
    Ok(Some(key))
}
