//! `keybound audit reconcile` (issue 19 item 3): the audit log replayed into
//! the state it implies, set against the database's. The hash chain and
//! the checkpoints prove the log was not rewritten; this proves the state
//! was not changed without it. `UPDATE identities SET is_admin = 1` leaves
//! the log intact, and is exactly what this names.
//!
//! What is replayed: identities (exist, kind, status, admin role),
//! credentials (exist, owner, status), devices (exist, status), workload
//! entries (exist), agents (exist, status). Not replayed: tiers, grants,
//! sessions, recoveries, role proposals, nodes, tasks, OIDC state and keys
//! (docs/manual/audit-format.md, "Reconciling state with the log").
//!
//! Read-only: no write transaction, no event. The log and the rows are read
//! in separate short reads, so a write committed meanwhile could show as a
//! difference; every write appends an event in its own transaction, so a
//! log whose length did not move while the rows were read saw no write,
//! and the pass is repeated (at most [`ATTEMPTS`] times) until that holds.

mod replay;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use keybound_store::{CredentialStatus, ReadTx};
use keybound_webauthn::b64;

pub use replay::Replay;
pub(crate) use replay::{CREDENTIAL_STATUS, DEVICE_STATUS, ENTRY_ID};

use crate::{Actor, Service, ServiceError};

/// Events read from the log at a time: memory is this page plus one entry
/// per object, however long the log.
const PAGE: usize = 1000;

/// Passes made before reporting one that a concurrent write overlapped.
const ATTEMPTS: usize = 3;

/// One way the database differs from what the audit log implies.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Difference {
    /// What it is about: `identity alice`, `credential <id> of alice`,
    /// `device dev-…`, `workload entry <id> (<SPIFFE ID>)`, `agent bot`.
    /// Names are as stored: escape them before a terminal sees them.
    pub object: String,
    /// Which of its fields: `row` (whether it exists), `kind`, `status`,
    /// `is_admin`, `owner`.
    pub field: &'static str,
    /// The value the log implies (`present`/`absent` for `row`, `1`/`0`
    /// for `is_admin`).
    pub implied: String,
    /// The value in the database.
    pub actual: String,
    /// The sequence number of the event that last set the implied value;
    /// `None` when no event did (a row nothing in the log created).
    pub last_event_seq: Option<u64>,
}

/// What a reconciliation found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Reconciliation {
    /// Every difference; empty when the state matches the log.
    pub differences: Vec<Difference>,
    /// Events replayed.
    pub events: u64,
    /// Identities compared (the rows in the database).
    pub identities: usize,
    /// Credentials compared.
    pub credentials: usize,
    /// Devices compared.
    pub devices: usize,
    /// Workload entries compared.
    pub workload_entries: usize,
    /// Agents compared.
    pub agents: usize,
    /// False when the log kept growing through every pass: a difference may
    /// then be a write that committed while the rows were read.
    pub settled: bool,
}

/// One identity's row, as compared.
#[derive(Debug, Clone)]
pub struct ActualIdentity {
    /// `person`, `device`, `workload`, `agent`.
    pub kind: String,
    /// `invited`, `active`, `suspended`, `offboarded`.
    pub status: String,
    /// The admin role.
    pub is_admin: bool,
}

/// One credential's row, as compared.
#[derive(Debug, Clone)]
pub struct ActualCredential {
    /// Its identity's name (its id when no identity has it).
    pub owner: String,
    /// `active`, `quarantined`, `revoked`.
    pub status: String,
}

/// The rows reconcile compares, keyed as the log names them.
#[derive(Debug, Clone, Default)]
pub struct Actual {
    /// By name.
    pub identities: BTreeMap<String, ActualIdentity>,
    /// By base64url credential id.
    pub credentials: BTreeMap<String, ActualCredential>,
    /// Device name to status.
    pub devices: BTreeMap<String, String>,
    /// Entry id to SPIFFE ID.
    pub entries: BTreeMap<String, String>,
    /// Agent name to status.
    pub agents: BTreeMap<String, String>,
}

impl Actual {
    /// Reads the rows in one read transaction.
    async fn read(tx: &mut ReadTx) -> Result<Actual, ServiceError> {
        let mut actual = Actual::default();
        let identities = tx.identities().await?;
        let names: BTreeMap<String, String> = identities
            .iter()
            .map(|i| (i.id.clone(), i.name.clone()))
            .collect();
        let name_of = |id: &str| names.get(id).cloned().unwrap_or_else(|| id.to_owned());
        for identity in &identities {
            for c in tx.credentials_of(&identity.id).await? {
                let status = match c.status {
                    CredentialStatus::Active => "active",
                    CredentialStatus::Quarantined => "quarantined",
                    CredentialStatus::Revoked(_) => "revoked",
                };
                actual.credentials.insert(
                    b64::encode(&c.id),
                    ActualCredential {
                        owner: identity.name.clone(),
                        status: status.to_owned(),
                    },
                );
            }
        }
        for identity in identities {
            actual.identities.insert(
                identity.name,
                ActualIdentity {
                    kind: identity.kind.as_str().to_owned(),
                    status: identity.status.as_str().to_owned(),
                    is_admin: identity.is_admin,
                },
            );
        }
        for d in tx.all_devices().await? {
            actual.devices.insert(d.name, d.status);
        }
        for e in tx.workload_entries().await? {
            actual.entries.insert(e.id, e.spiffe_id);
        }
        for a in tx.agents().await? {
            actual.agents.insert(name_of(&a.identity_id), a.status);
        }
        Ok(actual)
    }
}

impl Service {
    /// Replays the audit log into the state it implies and returns every
    /// difference from the database (`keybound audit reconcile`). Reads
    /// only; an administrator must still be one.
    pub async fn reconcile(&self, viewer: Actor<'_>) -> Result<Reconciliation, ServiceError> {
        if let Actor::Admin(admin) = viewer {
            let mut tx = self.kernel.store.read().await?;
            self.still_admin(&mut tx, admin.identity()).await?;
        }
        let store = &self.kernel.store;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut chain = store.audit_chain(PAGE).await?;
            let mut replay = Replay::default();
            loop {
                let page = chain.next_page().await?;
                if page.is_empty() {
                    break;
                }
                for event in &page {
                    replay.apply(event);
                }
            }
            let actual = {
                let mut tx = store.read().await?;
                Actual::read(&mut tx).await?
            };
            let settled = store.audit_last_seq().await? == chain.len();
            if !settled && attempt < ATTEMPTS {
                continue;
            }
            let events = replay.events();
            return Ok(Reconciliation {
                events,
                identities: actual.identities.len(),
                credentials: actual.credentials.len(),
                devices: actual.devices.len(),
                workload_entries: actual.entries.len(),
                agents: actual.agents.len(),
                differences: replay.compare(&actual),
                settled,
            });
        }
    }
}
