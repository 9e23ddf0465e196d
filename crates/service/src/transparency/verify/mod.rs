//! `audit verify` with checkpoints: one streaming pass over the events
//! that checks the hash chain, rebuilds the Merkle tree a leaf at a time
//! (a [`TreeBuilder`]: O(log n) memory, whatever the log's length) and,
//! at every size a checkpoint names, compares the root the events produce
//! now with the root that was signed. The chain alone proves nothing
//! against someone who can write the database (they re-seal every later
//! hash); a signed checkpoint kept outside the database (a witness file, a
//! saved note) does, because its signature needs a key the database does
//! not hold in clear.
//!
//! Each problem is named: which checkpoint, which events, what must have
//! happened (removed, changed or inserted, re-signed by another key), so
//! an operator reading the report knows where to look.

mod report;
mod signatures;

use std::collections::VecDeque;

use keybound_audit::checkpoint::VerifierKey;
use keybound_audit::mac::mac_since;
use keybound_audit::merkle::{self, Hash, NodeId, TreeBuilder};
use keybound_audit::ChainVerifier;
use keybound_store::{AuditCheckpointRow, Store, MAX_AUDIT_PAGE};

use crate::{Service, ServiceError};

use report::{label, problem};
pub use report::{GivenCheckpoint, KeySource, LogProblem, LogReport, ProblemKind, TagSummary};
use signatures::Keys;

/// Stored checkpoints read at a time.
const CHECKPOINT_PAGE: usize = 1000;

/// Stored tree nodes that disagree with the events, reported one by one
/// before the rest are only counted.
const NODES_NAMED: u64 = 3;

/// A checkpoint to hold the events against.
#[derive(Debug, Clone)]
struct Target {
    size: u64,
    root: Hash,
    /// `checkpoint 57 (signed …, from FILE)`.
    label: String,
}

/// The stored checkpoints, read a page at a time in size order.
struct StoredCheckpoints {
    after: u64,
    /// The largest stored when the pass began; later ones are left out.
    limit: u64,
    done: bool,
    buffered: VecDeque<AuditCheckpointRow>,
}

impl StoredCheckpoints {
    /// Reads pages until a checkpoint beyond `size` is buffered or none
    /// are left.
    async fn fill_to(&mut self, store: &Store, size: u64) -> Result<(), ServiceError> {
        while !self.done && self.buffered.back().is_none_or(|c| c.size <= size) {
            let mut tx = store.read().await?;
            let page = tx
                .audit_checkpoints_after(self.after, CHECKPOINT_PAGE)
                .await?;
            if page.len() < CHECKPOINT_PAGE {
                self.done = true;
            }
            if let Some(last) = page.last() {
                self.after = last.size;
            }
            if page.iter().any(|c| c.size > self.limit) {
                self.done = true;
            }
            let limit = self.limit;
            self.buffered
                .extend(page.into_iter().filter(|c| c.size <= limit));
        }
        Ok(())
    }
}

/// The pass: everything held while the events stream by.
struct Pass {
    keys: Keys,
    /// Given checkpoints not yet reached, smallest size first.
    given: VecDeque<Target>,
    /// Stored checkpoints read but not yet reached (checked already).
    stored: VecDeque<Target>,
    stored_seen: u64,
    /// The largest checkpoint the events matched so far.
    last_match: Option<u64>,
    matched: Vec<(u64, String)>,
    problems: Vec<LogProblem>,
    /// Leaves the stored tree holds: nodes within it are compared.
    tree_size: u64,
    nodes_bad: u64,
    nodes_missing: u64,
}

impl Pass {
    /// Checks the signature of a stored checkpoint and queues it.
    fn take_stored(&mut self, row: AuditCheckpointRow) {
        self.stored_seen += 1;
        let what = format!("stored checkpoint {}", row.size);
        let checkpoint = match self.keys.check(&row.note, &what) {
            Ok(c) => Some(c),
            Err((p, claimed)) => {
                self.problems.push(p);
                claimed
            }
        };
        if let Some(c) = &checkpoint {
            if c.size != row.size || c.root != row.root {
                self.problems.push(problem(
                    ProblemKind::StoredCheckpoint,
                    format!(
                        "{what}: its size or root column differs from its signed note (size {})",
                        c.size
                    ),
                ));
            }
        }
        let source = "stored in the database";
        let target = match checkpoint {
            Some(c) => Target {
                size: c.size,
                root: c.root,
                label: label(c.size, Some(row.time_ms), source),
            },
            None => return,
        };
        self.stored.push_back(target);
    }

    /// Whether a checkpoint waits at `size` (or, out of order, before it).
    fn due(&self, size: u64) -> bool {
        [&self.given, &self.stored]
            .iter()
            .any(|q| q.front().is_some_and(|t| t.size <= size))
    }

    /// Holds the events' root at `size` against every checkpoint of that
    /// size.
    fn reach(&mut self, size: u64, root: &Hash) {
        for queue in [0, 1] {
            loop {
                let q = if queue == 0 {
                    &mut self.given
                } else {
                    &mut self.stored
                };
                let Some(t) = q.front() else { break };
                if t.size > size {
                    break;
                }
                let Some(t) = q.pop_front() else { break };
                if t.size < size {
                    // Only stored checkpoints out of order get here.
                    continue;
                }
                if &t.root == root {
                    self.last_match = Some(size);
                    self.matched.push((size, t.label));
                } else {
                    let since = match self.last_match {
                        Some(m) => format!(
                            "the log matched checkpoint {m}, so the change is in events {}..{size}",
                            m + 1
                        ),
                        None => "no earlier checkpoint matched".to_owned(),
                    };
                    self.problems.push(problem(
                        ProblemKind::Rewritten,
                        format!(
                            "events up to {size} no longer produce the root signed at size \
                             {size} by {}: an event at or before seq {size} was changed, \
                             inserted or removed ({since})",
                            t.label
                        ),
                    ));
                }
            }
        }
    }

    /// Checkpoints the log never reached: its tail was removed.
    fn beyond_end(&mut self, events: u64) {
        for t in self.given.drain(..).chain(self.stored.drain(..)) {
            self.problems.push(problem(
                ProblemKind::Removed,
                format!(
                    "the log has {events} events but {} covers {}: events {}..{} were removed",
                    t.label,
                    t.size,
                    events + 1,
                    t.size
                ),
            ));
        }
    }

    /// Compares the nodes the events made with the stored tree.
    async fn compare_nodes(
        &mut self,
        store: &Store,
        made: &[(NodeId, Hash)],
    ) -> Result<(), ServiceError> {
        let ids: Vec<NodeId> = made.iter().map(|(id, _)| *id).collect();
        if ids.is_empty() {
            return Ok(());
        }
        let stored = store.read().await?.audit_nodes(&ids).await?;
        for ((level, index), hash) in made {
            let (first, end) = (index << level, (index + 1) << level);
            let named = self.nodes_bad + self.nodes_missing < NODES_NAMED;
            match stored.get(&(*level, *index)) {
                Some(h) if h == hash => {}
                Some(_) => {
                    self.nodes_bad += 1;
                    if named {
                        self.problems.push(problem(
                            ProblemKind::StoredTree,
                            format!(
                                "the stored tree node at level {level} index {index} (events \
                                 {}..{end}) differs from the events: the tree was edited, or \
                                 the events were changed and the tree re-sealed",
                                first + 1
                            ),
                        ));
                    }
                }
                None => {
                    self.nodes_missing += 1;
                    if named {
                        self.problems.push(problem(
                            ProblemKind::StoredTree,
                            format!(
                                "the stored tree lacks its node at level {level} index {index} \
                                 (events {}..{end}): proofs through it cannot be made",
                                first + 1
                            ),
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

impl Service {
    /// Verifies the audit log in one pass over its events, in memory that
    /// does not grow with the log (the chain verifier's last hash, the
    /// tree builder's frontier, a page of events, a page of checkpoints;
    /// the `given` checkpoints are held whole): the hash chain; the root
    /// at every size a given or stored checkpoint names; every stored
    /// checkpoint's signature; every stored tree node against the one the
    /// events make. Signatures are checked with `key` when given, else
    /// with the keys the database holds (the report says which).
    pub async fn verify_audit_log(
        &self,
        given: &[GivenCheckpoint],
        key: Option<&VerifierKey>,
    ) -> Result<LogReport, ServiceError> {
        let store = self.store();
        // What was stored when the pass began: checkpoints the sealer
        // signs while the events stream by are not this pass's (they would
        // look like checkpoints beyond the log's end).
        let (tree_size, stored_keys, latest) = {
            let mut tx = store.read().await?;
            let latest = tx.latest_audit_checkpoint().await?;
            (tx.audit_tree_size().await?, tx.audit_keys().await?, latest)
        };
        let stored_limit = latest.as_ref().map_or(0, |c| c.size);
        let mut problems = Vec::new();
        let mut stored = Vec::new();
        for row in stored_keys {
            match super::keys::verifier(&row) {
                Ok(k) if k.key_id() == row.key_id => stored.push(k),
                _ => problems.push(problem(
                    ProblemKind::Signature,
                    format!(
                        "the stored log key {} is not a valid Ed25519 key of its id",
                        row.key_id
                    ),
                )),
            }
        }
        let keys = Keys {
            given: key.cloned(),
            stored,
        };
        // From which event on tags are required: the earliest any verified
        // checkpoint says, given or the latest stored (a database writer
        // can re-sign the stored one without it, not the given ones).
        let required = |note: &str| {
            keys.all()
                .into_iter()
                .find_map(|k| k.open(note).ok())
                .and_then(mac_since)
        };
        let signed_since = given
            .iter()
            .map(|g| g.note.as_str())
            .chain(latest.as_ref().map(|cp| cp.note.as_str()))
            .filter_map(required)
            .min();
        let mut tags =
            super::tags::TagAudit::new(self.transparency.event_mac.clone(), signed_since);
        let mut targets = Vec::new();
        for g in given {
            let what = format!("the checkpoint from {}", g.source);
            let checkpoint = match keys.check(&g.note, &what) {
                Ok(c) => Some(c),
                Err((p, claimed)) => {
                    problems.push(p);
                    claimed
                }
            };
            if let Some(c) = checkpoint {
                targets.push(Target {
                    size: c.size,
                    root: c.root,
                    label: label(c.size, g.time_ms, &format!("from {}", g.source)),
                });
            }
        }
        targets.sort_by_key(|t| t.size);
        let mut pass = Pass {
            keys,
            given: targets.into(),
            stored: VecDeque::new(),
            stored_seen: 0,
            last_match: None,
            matched: Vec::new(),
            problems,
            tree_size,
            nodes_bad: 0,
            nodes_missing: 0,
        };
        let mut reader = StoredCheckpoints {
            after: 0,
            limit: stored_limit,
            done: false,
            buffered: VecDeque::new(),
        };

        let mut chain = store.audit_chain(MAX_AUDIT_PAGE).await?;
        let mut verifier = ChainVerifier::new();
        let mut chain_ok = true;
        let mut builder = TreeBuilder::new();
        pass.reach(0, &merkle::empty_root());
        loop {
            let page = chain.next_page().await?;
            let Some(last) = page.last() else { break };
            // Checkpoints up to this page's end, and one past it.
            reader.fill_to(store, last.seq).await?;
            while let Some(row) = reader.buffered.pop_front() {
                let beyond = row.size > last.seq;
                pass.take_stored(row);
                if beyond {
                    break;
                }
            }
            let mut made_in_tree = Vec::new();
            for e in &page {
                if chain_ok {
                    if let Err(broken) = verifier.push(e) {
                        chain_ok = false;
                        pass.problems.push(problem(
                            ProblemKind::Chain,
                            format!("the hash chain is broken: {broken}"),
                        ));
                    }
                }
                for (id, hash) in builder.push(keybound_audit::leaf_hash(e)) {
                    if (id.1 + 1) << id.0 <= pass.tree_size {
                        made_in_tree.push((id, hash));
                    }
                }
                // The root costs log(n) hashes: only at a checkpoint's size.
                if pass.due(builder.size()) {
                    pass.reach(builder.size(), &builder.root());
                }
            }
            pass.compare_nodes(store, &made_in_tree).await?;
            if let Some(tags) = &mut tags {
                tags.page(store, &page).await?;
            }
        }
        if chain_ok && verifier.verified() < chain.len() {
            pass.problems.push(problem(
                ProblemKind::Chain,
                format!(
                    "the hash chain is broken: expected event {}, found none: events missing",
                    verifier.verified() + 1
                ),
            ));
        }
        // Stored checkpoints beyond the last event.
        reader.fill_to(store, u64::MAX).await?;
        while let Some(row) = reader.buffered.pop_front() {
            pass.take_stored(row);
        }
        let events = builder.size();
        if pass.tree_size > events {
            pass.problems.push(problem(
                ProblemKind::StoredTree,
                format!(
                    "the stored tree holds {} leaves but the log has {events} events: events \
                     {}..{} were removed",
                    pass.tree_size,
                    events + 1,
                    pass.tree_size
                ),
            ));
        }
        let more = (pass.nodes_bad + pass.nodes_missing).saturating_sub(NODES_NAMED);
        if more > 0 {
            pass.problems.push(problem(
                ProblemKind::StoredTree,
                format!(
                    "{more} more stored tree nodes differ or are missing ({} differ, {} missing \
                     in all)",
                    pass.nodes_bad, pass.nodes_missing
                ),
            ));
        }
        pass.beyond_end(events);
        Ok(LogReport {
            events,
            chain_verified: verifier.verified(),
            root: builder.root(),
            key: pass.keys.source(),
            matched: pass.matched,
            stored_checkpoints: pass.stored_seen,
            tags: tags.map_or(TagSummary::NotChecked, |t| t.finish(&mut pass.problems)),
            problems: pass.problems,
        })
    }
}
