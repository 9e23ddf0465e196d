//! The audit chain: appending an event linked to the last one (under the
//! writer lock, in the transaction of the change it records), and reading
//! the chain whole, in filtered pages newest first, or in sequence order a
//! range at a time.

use keybound_audit::{AuditEvent, NewEvent};

use crate::audit_log::{AuditQuery, MAX_AUDIT_PAGE};
use crate::conn::{params, Param};
use crate::rows::{audit_from_row, details_json, outcome_str, severity_str};
use crate::{ReadTx, StoreError, WriteTx};

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

impl ReadTx {
    /// The whole audit chain in sequence order.
    pub(crate) async fn audit_events(&mut self) -> Result<Vec<AuditEvent>, StoreError> {
        self.db()?
            .query_all(
                "SELECT * FROM audit_events ORDER BY seq",
                params![],
                audit_from_row,
            )
            .await
    }

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
    pub(crate) async fn audit_last_seq(&mut self) -> Result<u64, StoreError> {
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
    pub(crate) async fn audit_range(
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

impl ReadTx {
    /// The tags (`keybound_audit::mac`) of the events after `after` up to
    /// `last`, in sequence order; `None` for an event stored without one.
    pub async fn audit_tags(
        &mut self,
        after: u64,
        last: u64,
    ) -> Result<Vec<(u64, Option<Vec<u8>>)>, StoreError> {
        let seq = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        let limit = i64::try_from(MAX_AUDIT_PAGE).unwrap_or(1);
        self.db()?
            .query_all(
                "SELECT seq, mac FROM audit_events WHERE seq > $1 AND seq <= $2 ORDER BY seq \
                 LIMIT $3",
                &[
                    Param::from(seq(after)),
                    Param::from(seq(last)),
                    Param::from(limit),
                ],
                |r| {
                    let seq = u64::try_from(r.int("seq")?)
                        .map_err(|_| StoreError::Corrupt("audit seq".into()))?;
                    // A value that is not a blob (a database writer can
                    // store text there) is a tag that does not verify,
                    // not an error that would stop the sealer quietly.
                    Ok((seq, r.opt_blob("mac").unwrap_or_else(|_| Some(Vec::new()))))
                },
            )
            .await
    }
}

impl WriteTx {
    /// Appends an event to the audit chain, linked to the current last
    /// event. The batch holds the database-wide writer lock, so no other
    /// writer, on this node or another, appends between the read of the last
    /// event and this insert. The event returned is the one stored: its
    /// details and subject kind bounded as [`keybound_audit::seal`] bounds
    /// them.
    pub async fn append_audit(&mut self, event: NewEvent) -> Result<AuditEvent, StoreError> {
        let last = match self.lease()?.chain_head() {
            Some(head) => head,
            None => {
                self.db()?
                    .query_opt(
                        "SELECT * FROM audit_events ORDER BY seq DESC LIMIT 1",
                        params![],
                        audit_from_row,
                    )
                    .await?
            }
        };
        let sealed = keybound_audit::seal(last.as_ref(), event);
        let e = &sealed.event;
        let seq = i64::try_from(sealed.seq).map_err(|_| StoreError::Corrupt("audit seq".into()))?;
        let details = details_json(&e.details)?;
        let tag = self.lease()?.audit_tag(&sealed);
        self.write()
            .await?
            .execute(
                "INSERT INTO audit_events (seq, time_ms, kind, actor, subject, credential_id, aaguid,
                     attestation, user_verified, sign_count, origin, ip, user_agent, outcome,
                     reason, severity, subject_kind, details, prev_hash, hash, mac)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
                     $17, $18, $19, $20, $21)",
                params![
                    seq,
                    e.time_ms,
                    &e.kind,
                    &e.actor,
                    &e.subject,
                    &e.credential_id,
                    &e.aaguid,
                    &e.attestation,
                    e.user_verified,
                    e.sign_count.map(i64::from),
                    &e.origin,
                    &e.ip,
                    &e.user_agent,
                    e.outcome.map(outcome_str),
                    &e.reason,
                    e.severity.map(severity_str),
                    &e.subject_kind,
                    &details,
                    &sealed.prev_hash,
                    &sealed.hash,
                    &tag,
                ],
            )
            .await?;
        self.lease()?.set_chain_head(&sealed);
        self.appended(&sealed);
        Ok(sealed)
    }
}
