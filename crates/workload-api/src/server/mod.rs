//! The SPIFFE Workload API server
//! (<https://github.com/spiffe/spiffe/blob/main/standards/SPIFFE_Workload_API.md>),
//! served over a Unix socket from the node agent's [`Snapshot`]s.
//!
//! Every RPC requires the `workload.spiffe.io: true` metadata
//! (`InvalidArgument` without it, §5.2 of the standard, so a browser or a
//! proxy cannot be tricked into calling it), then identifies the caller from
//! the kernel ([`caller`]) and matches its selectors against the snapshot's
//! entries; no match → `PermissionDenied`. Streams send their first answer
//! at once (after the agent's first sync), then the complete current set
//! whenever the snapshot changes this caller's answer; when the caller no
//! longer matches anything they send `PermissionDenied` and end, so a
//! client drops the SVID it held (SPIRE does the same).

mod answers;
mod authority;
pub mod caller;
mod grpc;
mod rpc;
mod streams;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio::net::UnixListener;
use tokio::sync::watch;
use tokio_stream::wrappers::UnixListenerStream;
use tokio_stream::StreamExt as _;

use crate::snapshot::Snapshot;
use crate::wire::{EntryView, JwtSvidResponse};

/// The future [`JwtIssuer::mint`] returns.
pub type MintFuture<'a> =
    Pin<Box<dyn Future<Output = Result<JwtSvidResponse, JwtIssueError>> + Send + 'a>>;

/// Mints JWT-SVIDs. The node agent's implementation asks a keybound server
/// (`wire::paths::JWT_SVID`); tests use a local key.
pub trait JwtIssuer: Send + Sync {
    /// A JWT-SVID for `entry` with `aud` = `audience` (non-empty, bounded by
    /// [`Limits`]).
    fn mint<'a>(&'a self, entry: &'a EntryView, audience: &'a [String]) -> MintFuture<'a>;
}

/// Why a JWT-SVID could not be minted; logged, never sent to the workload
/// (which gets `Unavailable`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtIssueError(pub String);

impl std::fmt::Display for JwtIssueError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for JwtIssueError {}

/// Bounds on what a caller can make the server hold or do.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request message, bytes (requests are tiny: audiences, a token).
    pub max_request_bytes: usize,
    /// Most audiences in one `FetchJWTSVID`.
    pub max_audiences: usize,
    /// Longest audience, bytes.
    pub max_audience_len: usize,
    /// Open streams per uid, across all of its connections and processes.
    pub max_streams_per_uid: usize,
    /// HTTP/2 streams in flight on one connection.
    pub max_streams_per_connection: u32,
    /// How long `FetchJWTSVID` waits for the [`JwtIssuer`].
    pub mint_timeout: std::time::Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_request_bytes: 64 * 1024,
            max_audiences: 16,
            max_audience_len: 512,
            max_streams_per_uid: 64,
            max_streams_per_connection: 32,
            mint_timeout: std::time::Duration::from_secs(10),
        }
    }
}

/// The server could not run (the listener failed).
#[derive(Debug)]
pub struct ServeError(tonic::transport::Error);

impl std::fmt::Display for ServeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "workload api: {}", self.0)
    }
}

impl std::error::Error for ServeError {}

/// Serves the Workload API on `listener` until `shutdown` resolves, with
/// the default [`Limits`].
pub async fn serve(
    listener: UnixListener,
    snapshots: watch::Receiver<Arc<Snapshot>>,
    jwt: Arc<dyn JwtIssuer>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    serve_with(listener, snapshots, jwt, shutdown, Limits::default()).await
}

/// [`serve`] with explicit limits. At shutdown every open stream ends, so
/// the server returns without waiting for clients to hang up.
pub async fn serve_with(
    listener: UnixListener,
    snapshots: watch::Receiver<Arc<Snapshot>>,
    jwt: Arc<dyn JwtIssuer>,
    shutdown: impl Future<Output = ()> + Send + 'static,
    limits: Limits,
) -> Result<(), ServeError> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let per_conn = limits.max_streams_per_connection;
    let api = Arc::new(rpc::Api::new(snapshots, jwt, limits, stop_rx));
    let shutdown = async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    };
    tonic::transport::Server::builder()
        .max_concurrent_streams(per_conn)
        .add_service(grpc::WorkloadApiService::new(api))
        .serve_with_incoming_shutdown(
            UnixListenerStream::new(listener).map(|conn| conn.map(authority::AuthorityFix::new)),
            shutdown,
        )
        .await
        .map_err(ServeError)
}
