//! TPM node attestation (issue 17): the manufacturer roots endorsement key
//! certificates must chain to (docs/manual/tpm-attestation.md).

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use keybound_service::Config;
use keybound_tpm::EkRoots;
use serde::{Deserialize, Serialize};

/// TPM node attestation.
#[derive(Args, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
#[command(next_help_heading = "TPM node attestation")]
pub(crate) struct TpmSettings {
    /// Files (PEM or DER, comma-separated) of the TPM manufacturer roots
    /// that node endorsement key certificates must chain to, with their
    /// issuing CAs (self-signed certificates are roots, the others
    /// intermediates). Without any, TPM node attestation is refused.
    #[arg(
        long,
        env = "KEYBOUND_TPM_EK_ROOTS",
        value_name = "FILE",
        value_delimiter = ','
    )]
    tpm_ek_roots: Option<Vec<PathBuf>>,
}

impl TpmSettings {
    /// Reads the roots into `config`; a file that cannot be read or holds
    /// no certificate is an error naming it.
    pub(crate) fn apply(&self, config: &mut Config) -> Result<(), String> {
        let Some(files) = &self.tpm_ek_roots else {
            return Ok(());
        };
        let mut roots = EkRoots::new();
        for file in files {
            let bytes = std::fs::read(file)
                .map_err(|e| format!("--tpm-ek-roots {}: {e}", file.display()))?;
            roots.add_file(&bytes).map_err(|_| {
                format!(
                    "--tpm-ek-roots {}: no certificate in it, or one that does not parse",
                    file.display()
                )
            })?;
        }
        if !files.is_empty() && roots.is_empty() {
            return Err("--tpm-ek-roots: no self-signed root among the files".into());
        }
        config.workloads.tpm_ek_roots = Arc::new(roots);
        Ok(())
    }
}
