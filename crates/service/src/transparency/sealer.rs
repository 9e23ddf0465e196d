//! The sealer: the events committed since the last checkpoint become
//! leaves of the tree, and a new checkpoint is signed.
//!
//! One node at a time seals, the holder of the lease
//! [`AUDIT_SEALER_LEASE`]; any node takes it over once its holder stops
//! renewing it (`lease_ms`, 3 s by default). A run reads and hashes on a
//! reader, off the writer: the checks, up to [`MAX_SEAL_BATCH`] new
//! events, the nodes they complete and the signature. Then one write
//! transaction renews the lease, confirms that the tree is still the size
//! the run started from (another sealer did not get there first), and
//! stores the nodes and the checkpoint. Only after its commit is the
//! checkpoint appended to the witness file and logged, so no witness ever
//! holds a checkpoint the database does not.
//!
//! Each run first checks that the database still holds what was signed:
//! the stored nodes reproduce the latest checkpoint's root, its note
//! verifies, the event at the tree's last leaf still hashes to that leaf,
//! and the log never fell below a checkpoint this node signed or checked.
//! If not, it records `audit.tamper` (severity high, the reason naming
//! what) and signs nothing more in this process: signing a tree that
//! disagrees with what was signed would launder the rewrite. The operator
//! restores the database (or the rows named) from a backup and restarts
//! the node; what to do when that is not possible is in
//! docs/manual/audit-format.md.

use std::io::Write;
use std::path::PathBuf;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use keybound_audit::checkpoint::{Checkpoint, VerifierKey};
use keybound_audit::mac::{mac_since, mac_since_line};
use keybound_audit::merkle::{self, Hash, NodeId, TreeBuilder};
use keybound_audit::{NewEvent, Outcome, Severity};
use keybound_store::{AuditCheckpointRow, AuditQuery, ReadTx, MAX_AUDIT_PAGE};

use super::{lock, Signed};
use crate::record::Record;
use crate::{ClientContext, EventKind, Service, ServiceError};

/// The sealer's lease.
pub const AUDIT_SEALER_LEASE: &str = "audit-sealer";

/// The most events one run adds: a backlog (an upgrade from a version
/// without the tree, a long stop) is sealed over several runs, each a
/// bounded transaction.
pub const MAX_SEAL_BATCH: u64 = 5000;

/// The metric counting witness lines that could not be written.
pub const WITNESS_FAILURES_METRIC: &str = "keybound_audit_witness_failures_total";

/// The last checkpoint a witness file holds (its note's size, root and
/// tag requirement): the file's last complete line, read from its end, so
/// a long file costs one short read. `None` when there is no file or no
/// readable line.
fn last_witnessed(path: &std::path::Path) -> Option<Signed> {
    use std::io::{Read, Seek, SeekFrom};
    /// A witness line is a few hundred bytes.
    const TAIL: u64 = 64 * 1024;
    let mut file = std::fs::File::open(path).ok()?;
    let len = file.metadata().ok()?.len();
    file.seek(SeekFrom::Start(len.saturating_sub(TAIL))).ok()?;
    let mut tail = Vec::new();
    file.take(TAIL).read_to_end(&mut tail).ok()?;
    let text = String::from_utf8_lossy(&tail);
    let line = text.lines().rev().find(|l| !l.trim().is_empty())?;
    let value: serde_json::Value = serde_json::from_str(line).ok()?;
    // The note, as `audit verify` reads it, not the line's convenience
    // copies of its size and root. Its signature is not checked here: the
    // file is this node's own, outside the database's reach, and the keys
    // to check it with are in the database.
    let note = value.get("note")?.as_str()?;
    let body = keybound_audit::checkpoint::note_body(note).ok()?;
    let checkpoint = Checkpoint::parse_body(body).ok()?;
    Some(Signed {
        size: checkpoint.size,
        root: checkpoint.root,
        tags_since: mac_since(body),
    })
}

/// What the self-checks found.
enum Check {
    /// The log matches its latest checkpoint; the tree resumed from it,
    /// and the first event that must carry a tag, as that checkpoint's
    /// signed note says (`tags`).
    Sound(TreeBuilder, Option<u64>),
    /// It does not: why.
    Tampered(String),
}

impl Service {
    /// One run of the sealer for the node `holder`: the events committed
    /// since the last checkpoint (up to [`MAX_SEAL_BATCH`]) become leaves
    /// and a new checkpoint is signed and stored, then witnessed. `None`:
    /// another node holds the lease, or nothing is new. An error after
    /// tampering was found (recorded once as `audit.tamper`): this node
    /// signs nothing more until it is restarted on a sound log.
    pub async fn seal_audit_log(
        &self,
        holder: &str,
    ) -> Result<Option<AuditCheckpointRow>, ServiceError> {
        if let Some(why) = lock(&self.transparency.halted).clone() {
            return Err(halted(&why));
        }
        self.retry_witness().await;
        let settings = &self.config.transparency;
        let now = self.now_ms();
        let store = &self.kernel.store;
        let mut rtx = store.read().await?;
        let lease = rtx.lease(AUDIT_SEALER_LEASE).await?;
        if lease
            .as_ref()
            .is_some_and(|l| l.holder != holder && l.expires_ms > now)
        {
            return Ok(None);
        }
        let checked = self.check_log(&mut rtx).await;
        // Before any other transaction: an in-memory database reads on
        // its one connection.
        drop(rtx);
        let checked = match checked? {
            // A reader's statements each see the latest commit, so another
            // node sealing between two of them can look like tampering:
            // before saying so, check again under the writer lock, where
            // nothing moves.
            Check::Tampered(_) => {
                let mut wtx = store.begin().await?;
                let again = self.check_log(&mut wtx).await;
                wtx.commit().await?;
                again?
            }
            sound => sound,
        };
        let (mut tree, mut tags_since) = match checked {
            Check::Sound(tree, since) => (tree, since),
            Check::Tampered(why) => return Err(self.tampered(why).await),
        };
        if let (None, Some(since)) = (&self.transparency.event_mac, tags_since) {
            // It could neither check tags nor write them: sealing would
            // sign whatever a database writer appended.
            return Err(ServiceError::Internal(format!(
                "this audit log requires every event from {since} on to be tagged, and this node \
                 has no key-encryption key: start it with --ca-key-encryption-key-file"
            )));
        }
        let start = tree.size();
        let mut made: Vec<(NodeId, Hash)> = Vec::new();
        while tree.size() - start < MAX_SEAL_BATCH {
            let want = (MAX_SEAL_BATCH - (tree.size() - start)).min(MAX_AUDIT_PAGE as u64);
            let events = store
                .audit_after(tree.size(), usize::try_from(want).unwrap_or(1))
                .await?;
            if events.is_empty() {
                break;
            }
            for (expected, event) in (tree.size() + 1..).zip(&events) {
                // Leaf i is event i + 1. Sequence numbers are given under
                // the writer lock and committed in order, so a gap was
                // made by deleting rows: tampering, never sealed over.
                if event.seq != expected {
                    let why = format!(
                        "event {expected} is missing: the next event stored is {}",
                        event.seq
                    );
                    return Err(self.tampered(why).await);
                }
                // Its content must still be what was hashed (and tagged):
                // an edit of an unsealed event is never sealed either.
                if !keybound_audit::hash_matches(event) {
                    let why = format!(
                        "event {expected} no longer matches its own hash: it was changed after \
                         it was written"
                    );
                    return Err(self.tampered(why).await);
                }
            }
            // Only events keybound wrote are sealed (`tags`).
            if let Err(why) = self.check_tags(&events, &mut tags_since).await? {
                return Err(self.tampered(why).await);
            }
            for event in &events {
                made.extend(tree.push(keybound_audit::leaf_hash(event)));
            }
        }
        if tree.size() == start {
            // Nothing new: keep the lease if it is this node's and half
            // spent, so an idle holder stays the holder without a write
            // every run.
            if lease
                .is_some_and(|l| l.holder == holder && l.expires_ms - now < settings.lease_ms / 2)
            {
                let mut tx = store.begin().await?;
                tx.take_lease(AUDIT_SEALER_LEASE, holder, now, now + settings.lease_ms)
                    .await?;
                tx.commit().await?;
            }
            return Ok(None);
        }
        let mut tx = store.begin().await?;
        if !tx
            .take_lease(AUDIT_SEALER_LEASE, holder, now, now + settings.lease_ms)
            .await?
            || tx.audit_tree_size().await? != start
        {
            // Another node holds the lease, or sealed first: its run
            // covers these events.
            return Ok(None);
        }
        let key = self.audit_signing_key(&mut tx).await?;
        let root = tree.root();
        let extensions: Vec<String> = tags_since.map(mac_since_line).into_iter().collect();
        let note = Checkpoint {
            origin: key.origin.clone(),
            size: tree.size(),
            root,
        }
        .sign_with_extensions(&extensions, &key.pair);
        let row = AuditCheckpointRow {
            size: tree.size(),
            root,
            time_ms: now,
            key_id: key.key_id.clone(),
            note,
        };
        tx.insert_audit_nodes(&made).await?;
        if !tx.insert_audit_checkpoint(&row).await? {
            return Ok(None);
        }
        tx.commit().await?;
        *lock(&self.transparency.signed) = Some(Signed {
            size: row.size,
            root: row.root,
            tags_since,
        });
        tracing::info!(
            target: "keybound::audit",
            size = row.size,
            key_id = %row.key_id,
            note = %row.note,
            "audit checkpoint signed"
        );
        self.witness(&row).await;
        Ok(Some(row))
    }

    /// The newest signed checkpoint, if any.
    pub async fn latest_audit_checkpoint(
        &self,
    ) -> Result<Option<AuditCheckpointRow>, ServiceError> {
        let mut tx = self.kernel.store.read().await?;
        Ok(tx.latest_audit_checkpoint().await?)
    }

    /// Gives the sealer's lease up (a node stopping gracefully), so
    /// another node takes over at its next run, not after the lease lapses.
    pub async fn release_audit_lease(&self, holder: &str) -> Result<(), ServiceError> {
        let mut tx = self.kernel.store.begin().await?;
        tx.release_lease(AUDIT_SEALER_LEASE, holder).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Why sealing stopped on this node, if it did.
    pub fn audit_sealing_halted(&self) -> Option<String> {
        lock(&self.transparency.halted).clone()
    }

    /// The self-checks: does the database still hold what was signed?
    async fn check_log(&self, tx: &mut ReadTx) -> Result<Check, ServiceError> {
        let latest = tx.latest_audit_checkpoint().await?;
        let size = tx.audit_tree_size().await?;
        // A node that remembers nothing (just started, or taking the lease
        // over) remembers what its witness file holds: a truncation with
        // the tree and checkpoint rows deleted too is found all the same.
        let memory = *lock(&self.transparency.signed);
        let remembered = memory.or_else(|| {
            self.config
                .transparency
                .witness
                .as_deref()
                .and_then(last_witnessed)
        });
        let Some(cp) = latest else {
            if let Some(Signed { size: signed, .. }) = remembered {
                return Ok(Check::Tampered(format!(
                    "every checkpoint is gone, but this node signed or checked one of {signed} events"
                )));
            }
            if size != 0 {
                return Ok(Check::Tampered(format!(
                    "the tree holds {size} leaves but no checkpoint covers them"
                )));
            }
            return Ok(Check::Sound(TreeBuilder::new(), None));
        };
        if size != cp.size {
            return Ok(Check::Tampered(format!(
                "the tree holds {size} leaves but the latest checkpoint covers {}",
                cp.size
            )));
        }
        if let Some(Signed {
            size: signed,
            root: signed_root,
            ..
        }) = remembered
        {
            if cp.size < signed {
                return Ok(Check::Tampered(format!(
                    "the latest checkpoint covers {} events, but this node signed or checked one \
                     of {signed}: the log was truncated",
                    cp.size
                )));
            }
            let then = if cp.size == signed {
                Some(cp.clone())
            } else {
                tx.audit_checkpoint(signed).await?
            };
            if then.is_none_or(|c| c.root != signed_root) {
                return Ok(Check::Tampered(format!(
                    "the checkpoint of {signed} events is not the one this node signed or checked"
                )));
            }
        }
        let tags_since = match self.check_note(tx, &cp).await? {
            Ok(since) => since,
            Err(why) => return Ok(Check::Tampered(why)),
        };
        // The requirement never weakens: a checkpoint re-signed without it
        // (with a key a database writer stored) is tampering.
        if let Some(required) = remembered.and_then(|r| r.tags_since) {
            if tags_since.is_none_or(|s| s > required) {
                return Ok(Check::Tampered(format!(
                    "checkpoint {} does not require event tags from {required} on, as the one \
                     this node signed or checked did: it was re-signed without the requirement",
                    cp.size
                )));
            }
        }
        if cp.size > 0 {
            let last = tx
                .audit_page(&AuditQuery {
                    before_seq: Some(cp.size + 1),
                    limit: 1,
                    ..AuditQuery::default()
                })
                .await?;
            let Some(event) = last.first().filter(|e| e.seq == cp.size) else {
                return Ok(Check::Tampered(format!(
                    "event {} (the last leaf of the latest checkpoint) is gone",
                    cp.size
                )));
            };
            let leaf_id = (0, cp.size - 1);
            let stored = tx.audit_nodes(&[leaf_id]).await?;
            if stored.get(&leaf_id) != Some(&keybound_audit::leaf_hash(event)) {
                return Ok(Check::Tampered(format!(
                    "event {} no longer hashes to its leaf in checkpoint {}",
                    cp.size, cp.size
                )));
            }
        }
        let ids = merkle::root_nodes(cp.size);
        let nodes = tx.audit_nodes(&ids).await?;
        match merkle::root_from_nodes(cp.size, &nodes) {
            Err(missing) => {
                return Ok(Check::Tampered(format!(
                    "checkpoint {}: {missing}",
                    cp.size
                )))
            }
            Ok(root) if root != cp.root => {
                return Ok(Check::Tampered(format!(
                    "the stored tree's root is not checkpoint {}'s",
                    cp.size
                )))
            }
            Ok(_) => {}
        }
        let frontier: Vec<Hash> = ids.iter().filter_map(|id| nodes.get(id).copied()).collect();
        let Some(tree) = TreeBuilder::resume(cp.size, frontier) else {
            return Ok(Check::Tampered(format!(
                "the tree of checkpoint {} cannot be resumed",
                cp.size
            )));
        };
        *lock(&self.transparency.signed) = Some(Signed {
            size: cp.size,
            root: cp.root,
            tags_since,
        });
        Ok(Check::Sound(tree, tags_since))
    }

    /// Whether the latest checkpoint's note is signed by its key and says
    /// what its row says, and if so from which event on it requires tags;
    /// `Err`: why not.
    async fn check_note(
        &self,
        tx: &mut ReadTx,
        cp: &AuditCheckpointRow,
    ) -> Result<Result<Option<u64>, String>, ServiceError> {
        // This node's own key when it signed it (a row can be rewritten;
        // memory cannot), else the stored key the row names.
        let cached = lock(&self.transparency.key).clone();
        let key = match cached.filter(|k| k.key_id == cp.key_id) {
            Some(k) => {
                let public = <[u8; 32]>::try_from(
                    aws_lc_rs::signature::KeyPair::public_key(&k.pair).as_ref(),
                )
                .unwrap_or([0; 32]);
                VerifierKey::new(&k.origin, public).ok()
            }
            None => tx
                .audit_keys()
                .await?
                .iter()
                .find(|k| k.key_id == cp.key_id)
                .and_then(|k| super::keys::verifier(k).ok()),
        };
        let Some(key) = key else {
            return Ok(Err(format!(
                "checkpoint {} names the key {}, which is not stored",
                cp.size, cp.key_id
            )));
        };
        Ok(match key.verify(&cp.note) {
            Err(e) => Err(format!("checkpoint {}: {e}", cp.size)),
            Ok(signed) if signed.size != cp.size || signed.root != cp.root => Err(format!(
                "checkpoint {}'s row does not say what its signed note says",
                cp.size
            )),
            Ok(_) => Ok(key.open(&cp.note).ok().and_then(mac_since)),
        })
    }

    /// Records `audit.tamper` (its own transaction) and stops sealing on
    /// this node; the error every later run returns.
    async fn tampered(&self, why: String) -> ServiceError {
        tracing::error!(
            target: "keybound::audit",
            reason = %why,
            "the audit log no longer matches its signed checkpoints; sealing stopped"
        );
        *lock(&self.transparency.halted) = Some(why.clone());
        let event = NewEvent {
            actor: Some("system".into()),
            outcome: Some(Outcome::Alert),
            severity: Some(Severity::High),
            reason: Some(why.clone()),
            ..self.event(EventKind::AuditTamper, &ClientContext::default())
        };
        let recorded = async {
            let mut tx = self.kernel.store.begin().await?;
            tx.record(event).await?;
            tx.commit().await
        };
        if let Err(e) = recorded.await {
            tracing::error!(error = %e, "could not record audit.tamper");
        }
        halted(&why)
    }

    /// Appends `row` to the witness file, if one is set; a failure is
    /// logged loudly, counted, and retried at the next run.
    async fn witness(&self, row: &AuditCheckpointRow) {
        let Some(path) = self.config.transparency.witness.clone() else {
            return;
        };
        let line = witness_line(row);
        let written = tokio::task::spawn_blocking(move || append_line(&path, &line)).await;
        let failure = match written {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(e) => Some(e.to_string()),
        };
        let mut pending = lock(&self.transparency.witness_pending);
        match failure {
            None => *pending = None,
            Some(e) => {
                metrics::counter!(WITNESS_FAILURES_METRIC).increment(1);
                tracing::error!(
                    target: "keybound::audit",
                    error = %e,
                    path = ?self.config.transparency.witness,
                    size = row.size,
                    "cannot write the audit witness file; the checkpoint is stored and logged, \
                     the next run tries again"
                );
                *pending = Some(row.clone());
            }
        }
    }

    /// Writes a checkpoint whose witness line failed, unless a newer one
    /// has been written since (a newer checkpoint covers it).
    async fn retry_witness(&self) {
        let pending = lock(&self.transparency.witness_pending).clone();
        if let Some(row) = pending {
            self.witness(&row).await;
        }
    }
}

fn halted(why: &str) -> ServiceError {
    ServiceError::Internal(format!(
        "audit sealing stopped: {why} (audit.tamper recorded; see docs/manual/audit-format.md)"
    ))
}

/// The witness file's line for `row` (docs/manual/audit-format.md).
pub(crate) fn witness_line(row: &AuditCheckpointRow) -> String {
    serde_json::json!({
        "size": row.size,
        "root": B64.encode(row.root),
        "time_ms": row.time_ms,
        "key_id": row.key_id,
        "note": row.note,
    })
    .to_string()
}

/// Appends `line` and a newline to `path` and waits for it to be on disk.
fn append_line(path: &PathBuf, line: &str) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    let mut bytes = line.as_bytes().to_vec();
    bytes.push(b'\n');
    file.write_all(&bytes)?;
    file.sync_data()
}
