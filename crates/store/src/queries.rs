//! Every query keybound makes, written once in SQL both backends accept
//! (`$n` parameters, `ON CONFLICT`, `RETURNING`), one file per aggregate.
//! In each, the reads are methods of [`ReadTx`](crate::ReadTx) and the
//! writes methods of [`WriteTx`](crate::WriteTx), which also has the reads.

mod agents;
mod audit;
mod audit_tree;
mod challenges;
mod credentials;
mod dbsc;
mod devices;
mod grants;
mod identities;
mod logout_outbox;
mod metadata;
mod oidc;
mod oidc_sessions;
mod posture;
mod recoveries;
mod roles;
mod secrets;
mod sessions;
mod signing_keys;
mod single_use;
mod workload_ca;
mod workloads;
// Issue 18: live tasks by what ends them.
mod agent_tasks;
// Issue 19: where each audit stream to a SIEM stands.
mod audit_streams;
// Issue 19: rate-limit usage and anomaly observations shared by nodes.
mod shared_limits;

pub use agents::{AgentRow, TaskRow, TaskTokenRow, TASK_LIST_LIMIT};
pub use audit_tree::{AuditCheckpointRow, AuditKeyRow, LeaseRow};
pub use dbsc::DbscSessionRow;
pub use devices::DeviceRow;
pub use logout_outbox::LogoutDelivery;
pub use oidc::{OidcClient, OidcCode, OidcToken};
pub use oidc_sessions::{EndingSessions, OidcSessionEnding};
pub use posture::{InventoryFactRow, PostureFactRow};
pub use recoveries::IssuedRecovery;
pub use shared_limits::{LimitObservationRow, LimitUsageRow, SHARED_READ_LIMIT};
pub use signing_keys::SigningKeyRow;
pub use workload_ca::{WorkloadAuthorityRow, WorkloadFederationRow, WorkloadSvidRow};
pub use workloads::{JoinTokenRow, WorkloadEntryRow, WorkloadNodeRow};

use crate::StoreError;

/// Text no stored row can hold: PostgreSQL refuses a NUL in a text
/// parameter outright (an error, not "no row"), so a look-up of client text
/// with one must answer "none" before it reaches the database.
fn storable(text: &str) -> bool {
    !text.contains('\0')
}

/// An `INSERT … ON CONFLICT DO NOTHING` that inserted nothing hit a unique
/// key. Checking the count instead of catching the error keeps the
/// transaction usable on PostgreSQL, where a failed statement would abort it.
fn inserted(rows: u64) -> Result<(), StoreError> {
    if rows == 1 {
        Ok(())
    } else {
        Err(StoreError::Conflict)
    }
}
