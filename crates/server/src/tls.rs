//! https without a proxy: rustls on each accepted connection, with a
//! certificate that can be replaced while serving (certificates expire;
//! ACME clients renew them in place). A replacement that does not load —
//! a key that is not the certificate's, a file half written — leaves the
//! certificate being served as it is, and says why.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

/// The PEM files a certificate is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain, leaf first.
    pub cert: PathBuf,
    /// The leaf's private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// The certificate being served. Clones share it: a reload is seen by
/// every connection accepted after it.
#[derive(Clone)]
pub struct Tls {
    files: Arc<TlsFiles>,
    current: Arc<RwLock<Arc<ServerConfig>>>,
    /// The files as they were at the last load attempt, good or bad.
    seen: Arc<Mutex<Option<Stamp>>>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}

/// What tells a changed file: inode (a rename into place), size and
/// modification time, of both files.
type Stamp = [(u64, u64, i64, i64); 2];

impl Tls {
    /// Loads `files`; the error names the file and what is wrong with it.
    pub fn load(files: TlsFiles) -> Result<Tls, String> {
        let seen = stamp(&files);
        let config = config(&files)?;
        Ok(Tls {
            files: Arc::new(files),
            current: Arc::new(RwLock::new(Arc::new(config))),
            seen: Arc::new(Mutex::new(seen)),
        })
    }

    /// Reads the files again and serves them from the next connection on;
    /// on an error the certificate served so far stays.
    pub fn reload(&self) -> Result<(), String> {
        *self.seen.lock().unwrap_or_else(PoisonError::into_inner) = stamp(&self.files);
        let config = config(&self.files)?;
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(config);
        Ok(())
    }

    /// [`Tls::reload`] if either file changed since the last load attempt:
    /// `Ok(true)` when it reloaded. A pair that failed is not tried again
    /// until a file changes again.
    pub fn reload_if_changed(&self) -> Result<bool, String> {
        let now = stamp(&self.files);
        let changed = *self.seen.lock().unwrap_or_else(PoisonError::into_inner) != now;
        if !changed {
            return Ok(false);
        }
        self.reload().map(|()| true)
    }

    /// The files this certificate comes from.
    pub fn files(&self) -> &TlsFiles {
        &self.files
    }

    pub(crate) fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(
            self.current
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        )
    }
}

fn stamp(files: &TlsFiles) -> Option<Stamp> {
    let one = |path: &Path| {
        let m = std::fs::metadata(path).ok()?;
        Some((m.ino(), m.len(), m.mtime(), m.mtime_nsec()))
    };
    Some([one(&files.cert)?, one(&files.key)?])
}

/// A server configuration for the pair: TLS 1.2 and 1.3 on aws-lc-rs,
/// HTTP/1.1 offered by ALPN (the server speaks nothing else).
fn config(files: &TlsFiles) -> Result<ServerConfig, String> {
    let cert_file = files.cert.display();
    let key_file = files.key.display();
    let certs = CertificateDer::pem_file_iter(&files.cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("{cert_file}: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{cert_file}: no PEM certificate in it"));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| format!("{key_file}: {e}"))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("{cert_file} with {key_file}: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}
