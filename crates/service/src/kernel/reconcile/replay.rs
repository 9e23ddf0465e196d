//! The fold at the heart of `audit reconcile`: events in, the state they
//! imply out, then that state against the database's. No I/O: the caller
//! streams the log in ([`Replay::apply`], one event at a time, so memory
//! is one entry per object, never the log) and hands the current rows to
//! [`Replay::compare`].
//!
//! Each rule mirrors the statement the use case runs beside its event, so
//! a consistent database and its log agree exactly: a quarantine only
//! touches an active credential (as `quarantine_credential`'s `WHERE
//! status = 'active'`), a clear only a quarantined one, a revocation any.
//! Only successful events change state; a refusal changes nothing but the
//! log, except the one refusal that quarantines a cloned credential.

use std::collections::BTreeMap;

use keybound_audit::{AuditEvent, Outcome};

use super::{Actual, Difference};
use crate::agents::registry::status as agent;
use crate::devices::status as device;
use crate::EventKind;

/// A value the log implies, and the event that last set it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Said<T> {
    value: T,
    seq: u64,
}

impl<T> Said<T> {
    fn at(value: T, seq: u64) -> Self {
        Said { value, seq }
    }
}

/// What the log says of one identity. `None`: the log never said (an
/// identity seen only in events that do not create it, from a log that
/// lost its beginning), so that field is not compared.
#[derive(Debug, Clone, Default)]
struct IdentityState {
    created: Option<u64>,
    kind: Option<Said<&'static str>>,
    status: Option<Said<&'static str>>,
    admin: Option<Said<bool>>,
}

#[derive(Debug, Clone)]
struct CredentialState {
    owner: Option<String>,
    status: Said<&'static str>,
}

#[derive(Debug, Clone)]
struct DeviceState {
    status: Option<Said<&'static str>>,
}

#[derive(Debug, Clone)]
struct EntryState {
    present: Said<bool>,
    spiffe_id: String,
}

/// The state the audit log implies, built one event at a time.
#[derive(Debug, Default)]
pub struct Replay {
    identities: BTreeMap<String, IdentityState>,
    credentials: BTreeMap<String, CredentialState>,
    devices: BTreeMap<String, DeviceState>,
    entries: BTreeMap<String, EntryState>,
    agents: BTreeMap<String, Said<&'static str>>,
    events: u64,
}

/// The details key a successful event names its object by where no member
/// of the event does (added for reconcile; older events lack it).
pub(crate) const ENTRY_ID: &str = "entry_id";
/// The details key of a device's status at enrolment.
pub(crate) const DEVICE_STATUS: &str = "device_status";
/// The details key a refusal that quarantined its credential carries.
pub(crate) const CREDENTIAL_STATUS: &str = "credential_status";

/// The kinds this fold reads, by their stable names.
fn kind_of(name: &str) -> Option<EventKind> {
    const READ: &[EventKind] = &[
        EventKind::AdminInvite,
        EventKind::Registration,
        EventKind::AdminSuspend,
        EventKind::AdminResume,
        EventKind::AdminOffboard,
        EventKind::AdminGrantRole,
        EventKind::AdminRevokeRole,
        EventKind::CredentialRevoke,
        EventKind::AdminRevokeCredential,
        EventKind::OffboardRevokeCredential,
        EventKind::RecoveryRevokeCredential,
        EventKind::AdminClearCredential,
        EventKind::MetadataSuspend,
        EventKind::DeviceEnrol,
        EventKind::DeviceTrust,
        EventKind::DeviceUntrust,
        EventKind::DeviceDecommission,
        EventKind::WorkloadEntryAdd,
        EventKind::WorkloadEntryRemove,
        EventKind::AgentAdd,
        EventKind::AgentRemove,
        EventKind::AgentDisable,
    ];
    READ.iter().copied().find(|k| k.as_str() == name)
}

impl Replay {
    /// How many events were folded in.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// Folds one event in. Events must come in sequence order.
    pub fn apply(&mut self, e: &AuditEvent) {
        self.events += 1;
        let seq = e.seq;
        let ev = &e.event;
        if ev.outcome != Some(Outcome::Success) {
            // The one refusal that changes state: a counter that went
            // backwards quarantines the credential (sign-in, or a task
            // approval's passkey proof). Older events have no detail; their
            // reason is the WebAuthn core's `clone_suspected`.
            let quarantined = ev.details.get(CREDENTIAL_STATUS).map(String::as_str)
                == Some("quarantined")
                || ev.reason.as_deref() == Some("clone_suspected");
            if quarantined && ev.outcome == Some(Outcome::Failure) {
                if let Some(id) = &ev.credential_id {
                    self.quarantine(id, seq);
                }
            }
            return;
        }
        let Some(kind) = kind_of(&ev.kind) else {
            return;
        };
        let subject = ev.subject.clone().unwrap_or_default();
        match kind {
            EventKind::AdminInvite => {
                let who = self.person(&subject, seq);
                who.status = Some(Said::at("invited", seq));
            }
            EventKind::Registration => {
                let who = self.person(&subject, seq);
                who.status = Some(Said::at("active", seq));
                if let Some(id) = &ev.credential_id {
                    self.credentials.insert(
                        id.clone(),
                        CredentialState {
                            owner: Some(subject),
                            status: Said::at("active", seq),
                        },
                    );
                }
            }
            EventKind::AdminSuspend => self.status(&subject, "suspended", seq),
            EventKind::AdminResume => self.status(&subject, "active", seq),
            EventKind::AdminOffboard => self.status(&subject, "offboarded", seq),
            EventKind::AdminGrantRole | EventKind::AdminRevokeRole => {
                let granted = kind == EventKind::AdminGrantRole;
                self.identities.entry(subject).or_default().admin = Some(Said::at(granted, seq));
            }
            EventKind::CredentialRevoke
            | EventKind::AdminRevokeCredential
            | EventKind::OffboardRevokeCredential
            | EventKind::RecoveryRevokeCredential => {
                if let Some(id) = &ev.credential_id {
                    self.credential(id).status = Said::at("revoked", seq);
                }
            }
            EventKind::AdminClearCredential => {
                if let Some(id) = &ev.credential_id {
                    let c = self.credential(id);
                    if c.status.value == "quarantined" {
                        c.status = Said::at("active", seq);
                    }
                }
            }
            EventKind::MetadataSuspend => {
                if let Some(id) = &ev.credential_id {
                    self.quarantine(id, seq);
                }
            }
            EventKind::DeviceEnrol => {
                let who = self.identities.entry(subject.clone()).or_default();
                who.created = Some(seq);
                who.kind = Some(Said::at("device", seq));
                who.status = Some(Said::at("active", seq));
                who.admin = Some(Said::at(false, seq));
                // The status this version records in details; an older
                // event's reason starts with it (`trusted: …`).
                let said = ev.details.get(DEVICE_STATUS).cloned().or_else(|| {
                    ev.reason
                        .as_deref()
                        .and_then(|r| r.split(':').next())
                        .map(str::to_owned)
                });
                let status = match said.as_deref() {
                    Some(device::TRUSTED) => Some(Said::at(device::TRUSTED, seq)),
                    Some(device::UNTRUSTED) => Some(Said::at(device::UNTRUSTED, seq)),
                    _ => None,
                };
                self.devices.insert(subject, DeviceState { status });
            }
            EventKind::DeviceTrust => self.device(subject, device::TRUSTED, seq),
            EventKind::DeviceUntrust => self.device(subject, device::UNTRUSTED, seq),
            EventKind::DeviceDecommission => self.device(subject, device::DECOMMISSIONED, seq),
            EventKind::WorkloadEntryAdd | EventKind::WorkloadEntryRemove => {
                // This version names the entry in details; older events in
                // their reason (`entry <id> …`).
                let id = ev.details.get(ENTRY_ID).cloned().or_else(|| {
                    let reason = ev.reason.as_deref().unwrap_or_default();
                    let mut words = reason.split_whitespace();
                    match (words.next(), words.next()) {
                        (Some("entry"), Some(id)) => Some(id.to_owned()),
                        _ => None,
                    }
                });
                if let Some(id) = id {
                    self.entries.insert(
                        id,
                        EntryState {
                            present: Said::at(kind == EventKind::WorkloadEntryAdd, seq),
                            spiffe_id: subject,
                        },
                    );
                }
            }
            EventKind::AgentAdd => {
                let who = self.identities.entry(subject.clone()).or_default();
                who.created = Some(seq);
                who.kind = Some(Said::at("agent", seq));
                who.status = Some(Said::at("active", seq));
                who.admin = Some(Said::at(false, seq));
                self.agents.insert(subject, Said::at("active", seq));
            }
            EventKind::AgentRemove => {
                self.status(&subject, "offboarded", seq);
                self.agents.insert(subject, Said::at(agent::REMOVED, seq));
            }
            EventKind::AgentDisable => {
                self.agents.insert(subject, Said::at(agent::DISABLED, seq));
            }
            _ => {}
        }
    }

    /// A person the event creates, or finds: an invitation or a
    /// registration makes a person who is not yet an administrator (a role
    /// comes with its own event after).
    fn person(&mut self, name: &str, seq: u64) -> &mut IdentityState {
        let who = self.identities.entry(name.to_owned()).or_default();
        if who.created.is_none() {
            who.created = Some(seq);
            who.kind = Some(Said::at("person", seq));
            who.admin = Some(Said::at(false, seq));
        }
        who
    }

    fn status(&mut self, name: &str, status: &'static str, seq: u64) {
        self.identities.entry(name.to_owned()).or_default().status = Some(Said::at(status, seq));
    }

    fn device(&mut self, name: String, status: &'static str, seq: u64) {
        self.devices
            .entry(name)
            .or_insert(DeviceState { status: None })
            .status = Some(Said::at(status, seq));
    }

    /// The credential `id`; one first seen here (its registration is not
    /// in the log) has no owner the log names.
    fn credential(&mut self, id: &str) -> &mut CredentialState {
        self.credentials
            .entry(id.to_owned())
            .or_insert(CredentialState {
                owner: None,
                status: Said::at("active", 0),
            })
    }

    fn quarantine(&mut self, id: &str, seq: u64) {
        let c = self.credential(id);
        if c.status.value == "active" {
            c.status = Said::at("quarantined", seq);
        }
    }

    /// Every difference between what the log implies and `actual`, in a
    /// stable order: identities, credentials, devices, workload entries,
    /// agents, each by name.
    pub fn compare(self, actual: &Actual) -> Vec<Difference> {
        let mut out = Vec::new();
        let mut diff =
            |object: String, field: &'static str, implied: String, actual: String, seq| {
                out.push(Difference {
                    object,
                    field,
                    implied,
                    actual,
                    last_event_seq: seq,
                })
            };
        const PRESENT: &str = "present";
        const ABSENT: &str = "absent";
        let flag = |b: bool| if b { "1" } else { "0" }.to_owned();

        // Identities.
        for (name, db) in &actual.identities {
            let object = format!("identity {name}");
            let Some(log) = self.identities.get(name).filter(|s| s.created.is_some()) else {
                diff(object, "row", ABSENT.into(), PRESENT.into(), None);
                continue;
            };
            if let Some(kind) = &log.kind {
                if kind.value != db.kind {
                    diff(
                        object.clone(),
                        "kind",
                        kind.value.into(),
                        db.kind.clone(),
                        Some(kind.seq),
                    );
                }
            }
            if let Some(status) = &log.status {
                if status.value != db.status {
                    let (implied, seq) = (status.value.to_owned(), Some(status.seq));
                    diff(object.clone(), "status", implied, db.status.clone(), seq);
                }
            }
            if let Some(admin) = &log.admin {
                if admin.value != db.is_admin {
                    diff(
                        object,
                        "is_admin",
                        flag(admin.value),
                        flag(db.is_admin),
                        Some(admin.seq),
                    );
                }
            }
        }
        for (name, log) in &self.identities {
            if let Some(created) = log.created {
                if !actual.identities.contains_key(name) {
                    let object = format!("identity {name}");
                    diff(object, "row", PRESENT.into(), ABSENT.into(), Some(created));
                }
            }
        }

        // Credentials.
        for (id, db) in &actual.credentials {
            let object = format!("credential {id} of {}", db.owner);
            let Some(log) = self.credentials.get(id).filter(|c| c.owner.is_some()) else {
                diff(object, "row", ABSENT.into(), PRESENT.into(), None);
                continue;
            };
            if let Some(owner) = log.owner.as_ref().filter(|o| **o != db.owner) {
                diff(
                    object.clone(),
                    "owner",
                    owner.clone(),
                    db.owner.clone(),
                    None,
                );
            }
            if log.status.value != db.status {
                let seq = Some(log.status.seq).filter(|s| *s > 0);
                diff(
                    object,
                    "status",
                    log.status.value.into(),
                    db.status.clone(),
                    seq,
                );
            }
        }
        for (id, log) in &self.credentials {
            if let (Some(owner), false) = (&log.owner, actual.credentials.contains_key(id)) {
                let object = format!("credential {id} of {owner}");
                let implied = format!("{PRESENT} ({})", log.status.value);
                diff(object, "row", implied, ABSENT.into(), Some(log.status.seq));
            }
        }

        // Devices (their identities are compared above).
        for (name, db) in &actual.devices {
            let object = format!("device {name}");
            match self.devices.get(name) {
                None => diff(object, "row", ABSENT.into(), PRESENT.into(), None),
                Some(DeviceState { status: Some(s) }) if s.value != db => {
                    diff(object, "status", s.value.into(), db.clone(), Some(s.seq))
                }
                Some(_) => {}
            }
        }
        for name in self.devices.keys() {
            if !actual.devices.contains_key(name) {
                diff(
                    format!("device {name}"),
                    "row",
                    PRESENT.into(),
                    ABSENT.into(),
                    None,
                );
            }
        }

        // Workload entries.
        for (id, spiffe_id) in &actual.entries {
            let object = format!("workload entry {id} ({spiffe_id})");
            match self.entries.get(id) {
                Some(log) if log.present.value => {}
                Some(log) => diff(
                    object,
                    "row",
                    ABSENT.into(),
                    PRESENT.into(),
                    Some(log.present.seq),
                ),
                None => diff(object, "row", ABSENT.into(), PRESENT.into(), None),
            }
        }
        for (id, log) in &self.entries {
            if log.present.value && !actual.entries.contains_key(id) {
                let object = format!("workload entry {id} ({})", log.spiffe_id);
                diff(
                    object,
                    "row",
                    PRESENT.into(),
                    ABSENT.into(),
                    Some(log.present.seq),
                );
            }
        }

        // Agents.
        for (name, db) in &actual.agents {
            let object = format!("agent {name}");
            match self.agents.get(name) {
                None => diff(object, "row", ABSENT.into(), PRESENT.into(), None),
                Some(s) if s.value != db => {
                    diff(object, "status", s.value.into(), db.clone(), Some(s.seq))
                }
                Some(_) => {}
            }
        }
        for (name, s) in &self.agents {
            if !actual.agents.contains_key(name) {
                diff(
                    format!("agent {name}"),
                    "row",
                    PRESENT.into(),
                    ABSENT.into(),
                    Some(s.seq),
                );
            }
        }
        out
    }
}
