//! keybound's access policies: [Cedar](https://cedarpolicy.com) policies
//! over a schema shipped in this crate (`schema/keybound.cedarschema`),
//! with default policies (`defaults/*.cedar`) always loaded, and the
//! operator's own (`--policy-dir`) validated against the schema at load.
//!
//! Sans-IO: sources come in as text, requests as values, the clock as
//! `now_s` in the context. The service holds a loaded [`PolicySet`] in
//! memory and asks [`PolicySet::decide`] on every proxied request, so a
//! decision must stay cheap as policies grow: Cedar's authorizer looks at
//! every policy it is given, so the set is indexed by resource (the app's
//! host, the OIDC client, the console, the API) and action at load, and a request is
//! decided over only the policies that could apply to it (`index`).
#![warn(missing_docs)]
#![cfg_attr(
    test,
    allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

mod decide;
mod device;
mod index;
mod load;
mod request;
mod task;

pub use decide::{Decision, Outcome};
pub use device::{version_numbers, DeviceContext, Posture};
pub use load::{
    LoadError, PolicySet, DEFAULTS, MAX_POLICIES, MAX_POLICY_FILES, MAX_POLICY_FILE_BYTES,
};
pub use request::{Action, Context, Principal, Request, Resource, HTTP_METHODS};
pub use task::{TaskFacts, TaskGrant};

/// The schema every policy is validated against.
pub const SCHEMA: &str = include_str!("../schema/keybound.cedarschema");
