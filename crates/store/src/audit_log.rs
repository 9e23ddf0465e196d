//! Reading the audit chain without loading all of it: filtered pages,
//! newest first, for the console (one indexed query per page, with a
//! cursor for older pages), and the whole chain in sequence order a page at
//! a time for `audit verify` and `audit export`, so neither holds more than
//! one page in memory however long the chain grows. The queries are in
//! `queries/audit.rs`.

use keybound_audit::{AuditEvent, Outcome};

use crate::{Store, StoreError};

/// The most events one page may hold, whatever the caller asks.
pub const MAX_AUDIT_PAGE: usize = 1000;

/// Which events a page of the audit log holds. Every filter is optional;
/// the page is newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Events about this identity (subject) or by it (actor).
    pub identity: Option<String>,
    /// Events whose kind starts with this (`recovery.`, `alert`).
    pub kind_prefix: Option<String>,
    /// Events with this outcome.
    pub outcome: Option<Outcome>,
    /// Events at or after this time, ms.
    pub since_ms: Option<i64>,
    /// Events older than this sequence number: the cursor for the next
    /// (older) page is the `seq` of the last event of the page before.
    pub before_seq: Option<u64>,
    /// At most this many (at least 1, at most [`MAX_AUDIT_PAGE`]).
    pub limit: usize,
}

/// The audit chain as it stood when [`Store::audit_chain`] was called, read
/// in sequence order one page at a time. Events appended meanwhile are left
/// for the next reading, so a verify or an export describes one moment.
#[derive(Debug)]
pub struct AuditChain {
    store: Store,
    after: u64,
    last: u64,
    page: usize,
}

impl AuditChain {
    /// How many events the chain held when reading began.
    pub fn len(&self) -> u64 {
        self.last
    }

    /// True when the chain was empty.
    pub fn is_empty(&self) -> bool {
        self.last == 0
    }

    /// The next events in sequence order; empty once the chain is read.
    /// Each page is one short read: nothing is held open between pages.
    pub async fn next_page(&mut self) -> Result<Vec<AuditEvent>, StoreError> {
        if self.after >= self.last {
            return Ok(Vec::new());
        }
        let mut tx = self.store.read().await?;
        let events = tx.audit_range(self.after, self.last, self.page).await?;
        // A chain with rows deleted from its middle comes back short; the
        // verifier names the gap. With nothing left up to `last`, stop.
        self.after = events.last().map_or(self.last, |e| e.seq);
        Ok(events)
    }
}

impl Store {
    /// One page of the audit log, newest first ([`crate::ReadTx::audit_page`]), read
    /// beside the writer.
    pub async fn audit_page(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>, StoreError> {
        let mut tx = self.read().await?;
        tx.audit_page(query).await
    }

    /// The sequence number of the chain's last event (0 when empty).
    pub async fn audit_last_seq(&self) -> Result<u64, StoreError> {
        let mut tx = self.read().await?;
        tx.audit_last_seq().await
    }

    /// Up to `limit` (at most [`MAX_AUDIT_PAGE`]) events after sequence
    /// number `after`, in sequence order: how a node follows the changes
    /// other nodes commit.
    pub async fn audit_after(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let mut tx = self.read().await?;
        tx.audit_range(after, u64::MAX, limit.clamp(1, MAX_AUDIT_PAGE))
            .await
    }

    /// The tags of the events after `after` up to `last` (at most
    /// [`MAX_AUDIT_PAGE`] of them), as [`crate::ReadTx::audit_tags`].
    pub async fn audit_tags(
        &self,
        after: u64,
        last: u64,
    ) -> Result<Vec<(u64, Option<Vec<u8>>)>, StoreError> {
        let mut tx = self.read().await?;
        tx.audit_tags(after, last).await
    }

    /// The chain as it stands now, to read in pages of `page` events (at
    /// most [`MAX_AUDIT_PAGE`]).
    pub async fn audit_chain(&self, page: usize) -> Result<AuditChain, StoreError> {
        let mut tx = self.read().await?;
        let last = tx.audit_last_seq().await?;
        Ok(AuditChain {
            store: self.clone(),
            after: 0,
            last,
            page: page.clamp(1, MAX_AUDIT_PAGE),
        })
    }
}
