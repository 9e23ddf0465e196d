//! Reading the audit chain without loading all of it: filtered pages,
//! newest first, for the console (one indexed query per page, with a
//! cursor for older pages), and the whole chain in sequence order a page at
//! a time for `audit verify` and `audit export`, so neither holds more than
//! one page in memory however long the chain grows.

use keybound_audit::{AuditEvent, Outcome};

use crate::conn::Param;
use crate::rows::{audit_from_row, outcome_str};
use crate::{Store, StoreError, Tx};

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

/// The smallest string greater than every string starting with `prefix`
/// in code point order (the byte order of UTF-8, which is SQLite's `BINARY`
/// collation and PostgreSQL's `"C"`, the kind column's collation), or
/// `None` when no string is (a prefix of U+10FFFF only). With it a prefix
/// match is a range on the `(kind, seq)` index.
fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = match u32::from(last) + 1 {
            0xD800 => Some('\u{E000}'),
            n => char::from_u32(n),
        };
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// Adds a parameter; its number (`$n`).
fn bind<'a>(params: &mut Vec<Param<'a>>, p: Param<'a>) -> usize {
    params.push(p);
    params.len()
}

/// A text filter no stored event can match (PostgreSQL refuses NUL in
/// text, and no name or kind is this long): the page is empty without a
/// query.
fn unmatchable(text: &str) -> bool {
    text.contains('\0') || text.len() > 1024
}

impl Tx {
    /// One page of the audit log, newest first, as `query` filters it. Each
    /// filter is a condition on an indexed column (migration 0011), so the
    /// page costs what it returns, not the length of the chain.
    pub async fn audit_page(&mut self, query: &AuditQuery) -> Result<Vec<AuditEvent>, StoreError> {
        let texts = [query.identity.as_deref(), query.kind_prefix.as_deref()];
        if texts.into_iter().flatten().any(unmatchable) {
            return Ok(Vec::new());
        }
        // The page's sequence numbers first, then its rows: the inner
        // query often reads only an index (kind, outcome, time), so a
        // filter matching much of the chain sorts integers, not rows
        // (measured on SQLite, 200,000 events: a kind prefix matching a
        // third of them 89 ms as one query, 8 ms so).
        let mut sql = String::from(
            "SELECT * FROM audit_events WHERE seq IN (SELECT seq FROM audit_events WHERE TRUE",
        );
        let mut params: Vec<Param<'_>> = Vec::new();
        if let Some(who) = &query.identity {
            let n = bind(&mut params, Param::from(who.as_str()));
            sql.push_str(&format!(" AND (subject = ${n} OR actor = ${n})"));
        }
        if let Some(prefix) = query.kind_prefix.as_deref().filter(|p| !p.is_empty()) {
            let n = bind(&mut params, Param::from(prefix));
            sql.push_str(&format!(" AND kind >= ${n}"));
            if let Some(end) = prefix_end(prefix) {
                let n = bind(&mut params, Param::from(end));
                sql.push_str(&format!(" AND kind < ${n}"));
            }
        }
        if let Some(outcome) = query.outcome {
            let n = bind(&mut params, Param::from(outcome_str(outcome)));
            sql.push_str(&format!(" AND outcome = ${n}"));
        }
        if let Some(since) = query.since_ms {
            let n = bind(&mut params, Param::from(since));
            sql.push_str(&format!(" AND time_ms >= ${n}"));
        }
        if let Some(before) = query.before_seq {
            let n = bind(
                &mut params,
                Param::from(i64::try_from(before).unwrap_or(i64::MAX)),
            );
            sql.push_str(&format!(" AND seq < ${n}"));
        }
        let limit = query.limit.clamp(1, MAX_AUDIT_PAGE);
        let n = bind(&mut params, Param::from(i64::try_from(limit).unwrap_or(1)));
        sql.push_str(&format!(" ORDER BY seq DESC LIMIT ${n}) ORDER BY seq DESC"));
        self.db()?.query_all(&sql, &params, audit_from_row).await
    }

    /// The sequence number of the chain's last event (0 when empty).
    async fn audit_last_seq(&mut self) -> Result<u64, StoreError> {
        let last = self
            .db()?
            .query_opt(
                "SELECT seq FROM audit_events ORDER BY seq DESC LIMIT 1",
                &[],
                |r| r.int("seq"),
            )
            .await?
            .unwrap_or(0);
        u64::try_from(last).map_err(|_| StoreError::Corrupt("audit seq".into()))
    }

    /// Events after `after` up to `last`, in sequence order, at most `limit`.
    async fn audit_range(
        &mut self,
        after: u64,
        last: u64,
        limit: usize,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let seq = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        self.db()?
            .query_all(
                "SELECT * FROM audit_events WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3",
                &[
                    Param::from(seq(after)),
                    Param::from(seq(last)),
                    Param::from(i64::try_from(limit).unwrap_or(1)),
                ],
                audit_from_row,
            )
            .await
    }
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
    /// One page of the audit log, newest first ([`Tx::audit_page`]), read
    /// beside the writer.
    pub async fn audit_page(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>, StoreError> {
        let mut tx = self.read().await?;
        tx.audit_page(query).await
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
