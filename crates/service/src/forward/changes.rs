//! Keeping the session cache fresh. The audit log is already the change
//! feed: every revocation, offboarding, suspension, quarantine, role change
//! and session end appends an event naming its subject in the transaction
//! that makes the change. So:
//!
//! - on this node, the store's commit observer hears of each committed
//!   event before the commit returns, and drops that subject's entries: the
//!   next request on this node is decided on the new state;
//! - for changes other nodes made, [`crate::Service::follow_changes`] reads
//!   the events appended after the last one it saw; the binary runs it every
//!   [`FOLLOW_EVERY`], well within the one second the issue allows.
//!
//! PostgreSQL appends audit events under one advisory lock, so sequence
//! numbers commit in order and "after the last seen" misses none.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use keybound_audit::AuditEvent;
use keybound_store::CommitObserver;

use super::cache::SessionCache;
use crate::{EventKind, Service, ServiceError};

/// How often a node reads the changes other nodes committed.
pub const FOLLOW_EVERY: Duration = Duration::from_millis(200);

/// Events read per page while following.
const PAGE: usize = 500;

/// Kinds that change nothing a session's access depends on: reading, and
/// asking for options. Every other event drops its subject's sessions (a
/// needless drop costs one store read at the next request).
const HARMLESS: &[EventKind] = &[
    EventKind::AuditView,
    EventKind::AdminConsole,
    EventKind::RegistrationOptions,
    EventKind::RateLimited,
    EventKind::CredentialRename,
];

/// The event an inventory import writes (`device.import`).
const DEVICE_IMPORT: &str = EventKind::DeviceImport.as_str();

/// Drops the cache entries `events` make stale.
pub(crate) fn apply(cache: &SessionCache, events: &[AuditEvent]) {
    for sealed in events {
        let e = &sealed.event;
        if HARMLESS.iter().any(|k| k.as_str() == e.kind) {
            continue;
        }
        // An import changes many devices' posture and names none of them
        // as its subject: forget everything (one store read per session).
        if e.kind == DEVICE_IMPORT {
            cache.clear();
            continue;
        }
        // Device events (trust, untrust, decommission, posture...) name
        // the device: its sessions go, whoever owns them.
        if let Some(subject) = &e.subject {
            cache.drop_subject(subject);
        }
    }
}

/// The commit observer: the audit observer's logging and counting, then
/// the cache's drops.
pub(crate) struct Observers {
    pub(crate) first: Arc<dyn CommitObserver>,
    pub(crate) cache: SessionCache,
}

impl CommitObserver for Observers {
    fn committed(&self, events: &[AuditEvent]) {
        self.first.committed(events);
        apply(&self.cache, events);
    }
}

/// Where following the audit log got to: `None` before the first read.
#[derive(Debug, Default)]
pub(crate) struct Watermark(Mutex<Option<u64>>);

impl Service {
    /// Drops cached sessions that changes committed on any node (since the
    /// last call) made stale; returns how many events were read. The first
    /// call starts at the chain's end and empties the cache, so nothing
    /// cached before following began can be stale. Run it every
    /// [`FOLLOW_EVERY`] on every node.
    ///
    /// Errors: [`ServiceError::Internal`] when the store fails; the next
    /// call resumes where this one stopped.
    pub async fn follow_changes(&self) -> Result<usize, ServiceError> {
        let cache = &self.forward.cache;
        let start = *self
            .forward
            .seen
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let Some(mut after) = start else {
            let last = self.kernel.store.audit_last_seq().await?;
            cache.clear();
            *self
                .forward
                .seen
                .0
                .lock()
                .unwrap_or_else(|p| p.into_inner()) = Some(last);
            return Ok(0);
        };
        let mut read = 0;
        loop {
            let events = self.kernel.store.audit_after(after, PAGE).await?;
            apply(cache, &events);
            read += events.len();
            after = events.last().map_or(after, |e| e.seq);
            *self
                .forward
                .seen
                .0
                .lock()
                .unwrap_or_else(|p| p.into_inner()) = Some(after);
            if events.len() < PAGE {
                return Ok(read);
            }
        }
    }
}
