//! The node key and the attested state, kept in the data directory.
//!
//! The node key (ECDSA P-256, PKCS#8) is made once and bound to the node at
//! attestation; every later call proves possession of it with a node proof
//! (`wire` module doc: an ES256 JWS, DPoP-shaped). Losing the file loses the
//! node: it must attest again. The file is written 0600 in a 0700
//! directory, through a temporary file renamed into place, so a crash never
//! leaves half a key.

use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use aws_lc_rs::rand::{SecureRandom as _, SystemRandom};
use keybound_jose::{Algorithm, SigningKey};
use keybound_workload_api::wire::{AttestResponse, NODE_AUTH_SCHEME, NODE_PROOF_TYP};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// The node key's file in the data directory.
pub(crate) const KEY_FILE: &str = "node-key.p8";
/// The attested state's file in the data directory.
pub(crate) const STATE_FILE: &str = "node.json";

/// The node's long-lived key.
pub(crate) struct NodeKey {
    key: SigningKey,
    jwk: Value,
    rng: SystemRandom,
}

impl std::fmt::Debug for NodeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NodeKey(..)")
    }
}

impl NodeKey {
    /// Loads the key from `dir`, or makes and stores one on the first start
    /// (creating `dir` 0700). A key file readable by others is refused: it
    /// may have been copied.
    pub(crate) fn load_or_create(dir: &Path) -> Result<NodeKey, String> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let path = dir.join(KEY_FILE);
        let der = match std::fs::metadata(&path) {
            Ok(meta) => {
                if meta.permissions().mode() & 0o077 != 0 {
                    return Err(format!(
                        "{} is readable by others (chmod 600 it, or attest a new node)",
                        path.display()
                    ));
                }
                std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let der = SigningKey::generate_pkcs8(Algorithm::Es256)
                    .map_err(|_| "cannot generate the node key".to_owned())?;
                write_private(&path, &der)?;
                tracing::info!(file = %path.display(), "made a new node key");
                der
            }
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        NodeKey::from_pkcs8(&der).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// A node key from PKCS#8 DER (P-256).
    pub(crate) fn from_pkcs8(der: &[u8]) -> Result<NodeKey, String> {
        let key = SigningKey::from_pkcs8(Algorithm::Es256, der)
            .map_err(|_| "not a P-256 PKCS#8 key".to_owned())?;
        let jwk = key
            .public_jwk(None)
            .map_err(|_| "no public key".to_owned())?
            .to_json();
        Ok(NodeKey {
            key,
            jwk,
            rng: SystemRandom::new(),
        })
    }

    /// The public key as a JWK (EC P-256), what attestation binds.
    pub(crate) fn public_jwk(&self) -> &Value {
        &self.jwk
    }

    /// The `Authorization` header value for one call: a fresh node proof
    /// for `method` on `url` (no query), at `now_s`, for `node`.
    pub(crate) fn authorization(
        &self,
        method: &str,
        url: &str,
        node: &str,
        now_s: i64,
    ) -> Result<String, String> {
        let mut jti = [0u8; 16];
        self.rng
            .fill(&mut jti)
            .map_err(|_| "no randomness for a node proof".to_owned())?;
        let mut header = Map::new();
        header.insert("typ".into(), NODE_PROOF_TYP.into());
        header.insert("jwk".into(), self.jwk.clone());
        let claims = json!({
            "htm": method,
            "htu": url,
            "iat": now_s,
            "jti": b64(&jti),
            "node": node,
        });
        let jws = keybound_jose::sign(&header, &claims, &self.key, &self.rng)
            .map_err(|_| "cannot sign a node proof".to_owned())?;
        Ok(format!("{NODE_AUTH_SCHEME} {jws}"))
    }
}

/// What attestation told the node, kept so a restart needs no new token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct Attested {
    /// The server's answer.
    #[serde(flatten)]
    pub(crate) response: AttestResponse,
    /// `join` or `tpm`: how to attest again when the node is refused.
    pub(crate) method: String,
}

impl Attested {
    /// The state in `dir`, if the node attested before.
    pub(crate) fn load(dir: &Path) -> Result<Option<Attested>, String> {
        let path = state_path(dir);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| format!("{}: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("cannot read {}: {e}", path.display())),
        }
    }

    /// Keeps the state in `dir`.
    pub(crate) fn store(&self, dir: &Path) -> Result<(), String> {
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| e.to_string())?;
        write_private(&state_path(dir), &bytes)
    }
}

fn state_path(dir: &Path) -> PathBuf {
    dir.join(STATE_FILE)
}

/// Writes `bytes` to `path` 0600, atomically (a temporary file renamed).
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// base64url without padding, the wire's encoding.
pub(crate) fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes base64url without padding.
pub(crate) fn unb64(text: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .ok()
}
