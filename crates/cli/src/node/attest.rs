//! Attestation calls: TPM attestation drives [`super::tpm`] (tpm2-tools,
//! blocking, so on the blocking pool) between the two server calls. The
//! join token is one call ([`Link::attest_join`]).

use std::path::Path;

use keybound_workload_api::wire::{paths, AttestResponse, TpmAttestFinish, TpmChallenge};

use super::key::unb64;
use super::link::Link;
use super::servers::CallError;
use super::tpm::{EkKind, Tpm, TpmError};

/// The TPM's files (the AK's context between the two steps), inside the
/// data directory.
const TPM_DIR: &str = "tpm";

/// Attests this host's TPM (`TPM2TOOLS_TCTI` names it, tpm2-tools'
/// default otherwise) and binds the link's node key to the node. Tries the
/// RSA EK certificate first, then the ECC one. A TPM step that fails is
/// [`CallError::Unreachable`] with the step named (retried later), a
/// server refusal stands.
pub(crate) async fn tpm(link: &Link, data_dir: &Path) -> Result<AttestResponse, CallError> {
    let node_key = link.key().public_jwk().clone();
    let thumbprint = keybound_jose::Jwk::parse(&node_key)
        .ok()
        .and_then(|jwk| unb64(&jwk.thumbprint()))
        .ok_or_else(|| CallError::Unreachable("the node key has no thumbprint".into()))?;
    let dir = data_dir.join(TPM_DIR);
    let (tpm, start) = blocking(move || {
        let rsa = Tpm::new(None, &dir, EkKind::Rsa);
        match rsa.start(node_key.clone()) {
            Ok(start) => Ok((rsa, start)),
            Err(e) if e.step == "nvread" => {
                let ecc = Tpm::new(None, &dir, EkKind::Ecc);
                let start = ecc.start(node_key)?;
                Ok((ecc, start))
            }
            Err(e) => Err(e),
        }
    })
    .await?;
    tracing::info!(files = %tpm.dir().display(), "TPM attestation: EK and AK ready");
    let challenge: TpmChallenge = post(link, paths::ATTEST_TPM_START, &start).await?;
    let finish: TpmAttestFinish = blocking(move || tpm.finish(&challenge, &thumbprint)).await?;
    post(link, paths::ATTEST_TPM_FINISH, &finish).await
}

async fn post<Req: serde::Serialize, Resp: serde::de::DeserializeOwned>(
    link: &Link,
    path: &str,
    body: &Req,
) -> Result<Resp, CallError> {
    link.post_anonymous(path, body).await
}

/// Runs a TPM step on the blocking pool.
async fn blocking<T: Send + 'static>(
    step: impl FnOnce() -> Result<T, TpmError> + Send + 'static,
) -> Result<T, CallError> {
    match tokio::task::spawn_blocking(step).await {
        Ok(Ok(done)) => Ok(done),
        Ok(Err(e)) => Err(CallError::Unreachable(e.to_string())),
        Err(_) => Err(CallError::Unreachable("the TPM task failed".into())),
    }
}
