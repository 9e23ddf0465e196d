//! Serving https directly: the certificate chain and its key, PEM files
//! that `serve` reloads on SIGHUP and when they change.

use std::path::PathBuf;

use clap::Args;
use serde::{Deserialize, Serialize};

/// TLS.
#[derive(Args, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
#[command(next_help_heading = "TLS")]
pub(crate) struct TlsSettings {
    /// PEM certificate chain (leaf first) to serve https with; needs
    /// --tls-key. Reloaded on SIGHUP and when the file changes.
    #[arg(long, env = "KEYBOUND_TLS_CERT", value_name = "FILE")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of the certificate (PKCS#8, PKCS#1 or SEC1).
    #[arg(long, env = "KEYBOUND_TLS_KEY", value_name = "FILE")]
    tls_key: Option<PathBuf>,
}

impl TlsSettings {
    /// The certificate and key files, if TLS is on: both are given or
    /// neither.
    pub(crate) fn files(&self) -> Result<Option<keybound_server::TlsFiles>, String> {
        match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Ok(Some(keybound_server::TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
            })),
            (None, None) => Ok(None),
            (Some(_), None) => Err("--tls-cert needs --tls-key (the certificate's key)".into()),
            (None, Some(_)) => Err("--tls-key needs --tls-cert (the certificate chain)".into()),
        }
    }
}
