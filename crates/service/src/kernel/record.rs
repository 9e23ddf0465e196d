//! Appending an audit event, the one way the service does it: whatever a
//! use case leaves unsaid about the subject's kind is said here, so every
//! event about an identity names what kind of identity it is.

use keybound_audit::{AuditEvent, NewEvent};
use keybound_store::{IdentityKind, StoreError, WriteTx};

/// Appends audit events in a use case's transaction.
pub(crate) trait Record {
    /// Appends `event`; an event with a subject and no subject kind is
    /// about a person (the only kind the people context acts on).
    async fn record(&mut self, event: NewEvent) -> Result<AuditEvent, StoreError>;
}

impl Record for WriteTx {
    async fn record(&mut self, mut event: NewEvent) -> Result<AuditEvent, StoreError> {
        if event.subject.is_some() && event.subject_kind.is_none() {
            event.subject_kind = Some(IdentityKind::Person.as_str().to_owned());
        }
        self.append_audit(event).await
    }
}
