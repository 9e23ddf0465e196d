//! Where the agent gets its entries, SVIDs and JWT-SVIDs: the keybound
//! servers over HTTP with a node proof ([`Link`]), or, for `keybound serve
//! --workload-socket`, the service in the same process as the node
//! `local` (no proof, no HTTP round trip; see
//! `keybound_service::workloads::local`).

use std::sync::Arc;

use keybound_service::{ClientContext, Service, ServiceError};
use keybound_workload_api::wire::{JwtSvidRequest, JwtSvidResponse, SyncRequest, SyncResponse};

use super::link::Link;
use super::servers::CallError;

/// The agent's source of identities.
#[derive(Clone)]
pub(crate) enum Upstream {
    /// The keybound servers (`keybound node`).
    Servers(Arc<Link>),
    /// This process's service (`keybound serve --workload-socket`).
    Local(Arc<Service>),
}

/// A service error as the agent's loop reads it: a refusal is a refused
/// node (it serves nothing), anything else is a server not answering
/// usefully (the last SVIDs are served until they expire).
fn call_error(e: ServiceError) -> CallError {
    match e {
        ServiceError::Rejected(_)
        | ServiceError::UnknownCredential(_)
        | ServiceError::Forbidden => CallError::Refused {
            status: 403,
            error: "forbidden".into(),
        },
        other => CallError::Unreachable(other.to_string()),
    }
}

impl Upstream {
    /// One sync.
    pub(crate) async fn sync(&self, request: &SyncRequest) -> Result<SyncResponse, CallError> {
        match self {
            Upstream::Servers(link) => link.sync(request).await,
            Upstream::Local(service) => service
                .workload_local_sync(request, &ClientContext::default())
                .await
                .map_err(call_error),
        }
    }

    /// A JWT-SVID for `entry_id` with `audience`.
    pub(crate) async fn jwt_svid(
        &self,
        entry_id: &str,
        audience: Vec<String>,
    ) -> Result<JwtSvidResponse, CallError> {
        match self {
            Upstream::Servers(link) => link.jwt_svid(entry_id, audience).await,
            Upstream::Local(service) => {
                let request = JwtSvidRequest {
                    entry_id: entry_id.to_owned(),
                    audience,
                };
                service
                    .workload_local_jwt_svid(&request, &ClientContext::default())
                    .await
                    .map_err(call_error)
            }
        }
    }
}
