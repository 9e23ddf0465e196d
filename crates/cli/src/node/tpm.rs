//! TPM node attestation, the agent's side (h-tpm's): read the EK
//! certificate and public areas, `POST` [`wire::paths::ATTEST_TPM_START`],
//! activate the credential, quote, and `POST`
//! [`wire::paths::ATTEST_TPM_FINISH`]. The agent calls [`attest`] on the
//! first start with `--tpm`, and again when the servers refuse the node
//! (its attestation is older than the node TTL, or it was forgotten).
//!
//! [`wire::paths::ATTEST_TPM_START`]: keybound_workload_api::wire::paths::ATTEST_TPM_START
//! [`wire::paths::ATTEST_TPM_FINISH`]: keybound_workload_api::wire::paths::ATTEST_TPM_FINISH

use std::path::Path;

use keybound_workload_api::wire::AttestResponse;

use super::link::Link;
use super::servers::CallError;

/// Attests this host's TPM and binds `link`'s node key to the node.
/// `data_dir` is the agent's, for anything the TPM side keeps (AK handle).
pub(crate) async fn attest(link: &Link, data_dir: &Path) -> Result<AttestResponse, CallError> {
    let _ = (link, data_dir);
    Err(CallError::Unreachable(
        "TPM attestation is not built into this keybound yet".into(),
    ))
}
