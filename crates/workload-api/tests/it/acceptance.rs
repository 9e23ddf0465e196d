//! The published SPIFFE clients, unchanged, against our Workload API:
//!
//! - the `spiffe` crate 0.19's own `#[ignore]`d integration tests (61:
//!   `workload_api_client`, `x509_source`, `jwt_source`,
//!   `jwt_authority_policy`), which expect what SPIRE's `run-spire.sh` sets
//!   up (see [`World::spire_like`]). Its source comes from the cargo
//!   registry (this crate's dev-dependency on `spiffe = "=0.19.0"` makes
//!   cargo download it), copied under `target/tmp` and run there with its
//!   own target directory, so nothing of it is committed;
//! - py-spiffe (`spiffe==0.3.2` from PyPI, into a venv under `target/tmp`)
//!   running `pyspiffe_check.py`.
//!
//! Both need the network on their first run (crates.io, PyPI), like the
//! other acceptance tests that fetch their clients. The same runs against
//! the real `keybound serve` + `keybound node` are in
//! `crates/cli/tests/workload/accept.rs`; this fixture-based copy stays
//! because it is cheap (no server) and says which side a failure is on.

use keybound_workload_api::Limits;

use crate::fixture::{start_workload_api, Running, World};
use crate::spiffe_clients;

/// Runs a blocking client while the in-process Workload API keeps serving.
async fn blocking(f: impl FnOnce() + Send + 'static) {
    tokio::task::spawn_blocking(f).await.unwrap();
}

async fn serve_spire_like() -> Running {
    let world = World::new();
    start_workload_api(world.spire_like(), world.jwt.clone(), Limits::default()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_spiffe_crates_integration_tests_pass() {
    let running = serve_spire_like().await;
    let socket = running.socket.clone();
    blocking(move || spiffe_clients::spiffe_crate_tests_pass(&socket, "spiffe-acceptance")).await;
    running.shutdown().await;
}

async fn pyspiffe_check(endpoint: String, cwd: std::path::PathBuf) {
    blocking(move || spiffe_clients::pyspiffe_check(&endpoint, &cwd)).await;
}

/// gRPC C-core (grpcio >= 1.57, py-spiffe's transport) sends the socket
/// path, percent-encoded, as `:authority` (`tmp%2F.tmpXYZ%2Fapi.sock`);
/// the server rewrites it (`server/authority`), or h2 would reset every
/// stream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn py_spiffe_fetches_and_validates() {
    let running = serve_spire_like().await;
    let endpoint = format!("unix://{}", running.socket.display());
    pyspiffe_check(endpoint, "/".into()).await;
    running.shutdown().await;
}

/// A relative endpoint (plain authority `api.sock`) works too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn py_spiffe_with_a_relative_socket_path() {
    let running = serve_spire_like().await;
    pyspiffe_check("unix:api.sock".into(), running.dir.path().to_owned()).await;
    running.shutdown().await;
}
