//! The node's link to the keybound servers: the failover client and the
//! node key that signs a proof for every call. Shared by the sync loop and
//! the JWT-SVID issuer the Workload API calls.

use std::sync::RwLock;

use keybound_workload_api::wire::{
    paths, AttestResponse, JoinAttestRequest, JwtSvidRequest, JwtSvidResponse, SyncRequest,
    SyncResponse,
};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::key::NodeKey;
use super::servers::{CallError, Servers};
use super::unix_ms;

/// The servers, the node key, and the node's name once attested.
pub(crate) struct Link {
    servers: Servers,
    key: NodeKey,
    node: RwLock<String>,
}

impl Link {
    /// A link for a node not attested yet (`node` empty) or attested as
    /// `node`.
    pub(crate) fn new(servers: Servers, key: NodeKey, node: &str) -> Link {
        Link {
            servers,
            key,
            node: RwLock::new(node.to_owned()),
        }
    }

    /// The node key.
    pub(crate) fn key(&self) -> &NodeKey {
        &self.key
    }

    /// Names the node (after an attestation).
    pub(crate) fn set_node(&self, node: &str) {
        if let Ok(mut name) = self.node.write() {
            node.clone_into(&mut name);
        }
    }

    fn node(&self) -> String {
        self.node.read().map(|n| n.clone()).unwrap_or_default()
    }

    /// A call with no node proof (attestation: the body carries the key).
    pub(crate) async fn post_anonymous<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        path: &str,
        body: &Req,
    ) -> Result<Resp, CallError> {
        self.servers.post(path, body, None).await
    }

    /// A call with a fresh node proof for the URL it goes to.
    pub(crate) async fn post<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        path: &str,
        body: &Req,
    ) -> Result<Resp, CallError> {
        let node = self.node();
        let auth = move |url: &str| {
            self.key
                .authorization("POST", url, &node, unix_ms().div_euclid(1000))
        };
        self.servers.post(path, body, Some(&auth)).await
    }

    /// Join-token attestation.
    pub(crate) async fn attest_join(&self, token: &str) -> Result<AttestResponse, CallError> {
        let request = JoinAttestRequest {
            token: token.to_owned(),
            node_key: self.key.public_jwk().clone(),
        };
        self.post_anonymous(paths::ATTEST_JOIN, &request).await
    }

    /// One sync.
    pub(crate) async fn sync(&self, request: &SyncRequest) -> Result<SyncResponse, CallError> {
        self.post(paths::SYNC, request).await
    }

    /// A JWT-SVID for `entry_id` with `audience`.
    pub(crate) async fn jwt_svid(
        &self,
        entry_id: &str,
        audience: Vec<String>,
    ) -> Result<JwtSvidResponse, CallError> {
        let request = JwtSvidRequest {
            entry_id: entry_id.to_owned(),
            audience,
        };
        self.post(paths::JWT_SVID, &request).await
    }
}
