//! Group commit. Every write transaction of a node runs on one connection,
//! inside a batch: one database transaction that holds the writer lock, in which
//! each caller's transaction is a savepoint. A caller's commit releases its
//! savepoint and then waits for the batch to commit; a background flusher
//! commits the batch as soon as it gets the connection, which is after
//! every caller already queued for it. Under load many ceremonies share one
//! commit and one fsync; alone, a ceremony waits for nothing but its own.
//!
//! A caller is told "committed" only after the batch's COMMIT returned, so
//! an acknowledged write is as durable as the backend's settings make a
//! commit. A caller whose transaction is dropped without commit has its
//! savepoint rolled back by whoever uses the connection next.

use std::sync::{Arc, RwLock, Weak};
use std::time::Instant;

use keybound_audit::AuditEvent;
use tokio::sync::{oneshot, Mutex, Notify, OwnedMutexGuard};

use crate::backend::Backend;
use crate::conn::Conn;
use crate::{CommitObserver, Durability, StoreError};

/// The node's one connection and its batch.
pub(crate) struct Writer {
    state: Arc<Mutex<Batch>>,
    wake: Arc<Notify>,
    /// Told of the audit events of every committed transaction (shared
    /// with the batch, which tells it).
    observer: Observer,
    /// The key events are tagged with (shared with the batch).
    mac: MacKey,
}

/// Who hears of committed audit events, if anyone.
type Observer = Arc<RwLock<Option<Arc<dyn CommitObserver>>>>;

/// The key audit events are tagged with, if this process has one.
type MacKey = Arc<RwLock<Option<keybound_audit::mac::EventMac>>>;

/// A caller's audit events, released into the batch, reported once the
/// batch commits, inside the span that was current when the caller
/// committed.
struct Sealed {
    events: Vec<AuditEvent>,
    span: tracing::Span,
}

/// The connection and what is pending on it.
pub(crate) struct Batch {
    pub(crate) conn: Conn,
    backend: Backend,
    url: String,
    durability: Durability,
    /// A batch transaction is open (and holds the writer lock).
    open: bool,
    /// A caller's savepoint is open: if its holder goes away without
    /// releasing it, it is rolled back before anything else runs.
    savepoint: bool,
    /// Callers whose savepoints were released, waiting for the COMMIT.
    waiting: Vec<oneshot::Sender<Result<(), StoreError>>>,
    /// The audit events of the callers in `waiting`: the batch, not the
    /// callers, reports them, so a caller that goes away while it waits
    /// (an HTTP client disconnecting) does not take the report with it.
    sealed: Vec<Sealed>,
    observer: Observer,
    mac: MacKey,
    stats: CommitStats,
    /// The audit chain's last event as this batch sees it: `Some(None)`
    /// for an empty chain, `None` when unknown (read it from the table).
    /// Valid only while the batch (and its writer lock) lasts: another
    /// node may append between batches.
    head: Option<Option<AuditEvent>>,
    /// `head` when the caller's savepoint opened, restored if it rolls back.
    head_at_savepoint: Option<Option<AuditEvent>>,
}

/// Caller transactions per committed batch (a histogram).
pub const BATCH_METRIC: &str = "keybound_store_batch_transactions";
/// Seconds one batch's COMMIT took (a histogram).
pub const COMMIT_METRIC: &str = "keybound_store_commit_seconds";
/// Seconds opening a batch waited for the database-wide writer lock (a
/// histogram): what this node's writes wait for other nodes' and other
/// processes' batches.
pub const LOCK_WAIT_METRIC: &str = "keybound_store_lock_wait_seconds";

/// How well group commit is batching: committed batches and the caller
/// transactions they carried.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CommitStats {
    /// Database COMMITs that succeeded.
    pub batches: u64,
    /// Caller transactions acknowledged by those COMMITs.
    pub transactions: u64,
}

/// A caller's hold on the connection, inside the open batch (and inside
/// its savepoint once it wrote).
pub(crate) type Lease = OwnedMutexGuard<Batch>;

impl Writer {
    /// Connects and starts the flusher on the current tokio runtime.
    pub(crate) async fn start(
        backend: Backend,
        url: &str,
        durability: Durability,
    ) -> Result<Writer, StoreError> {
        let conn = backend.connect(url, durability).await?;
        let observer = Observer::default();
        let mac = MacKey::default();
        let state = Arc::new(Mutex::new(Batch {
            conn,
            backend,
            url: url.to_owned(),
            durability,
            open: false,
            savepoint: false,
            waiting: Vec::new(),
            sealed: Vec::new(),
            observer: observer.clone(),
            mac: mac.clone(),
            stats: CommitStats::default(),
            head: None,
            head_at_savepoint: None,
        }));
        let wake = Arc::new(Notify::new());
        tokio::spawn(flush_when_woken(Arc::downgrade(&state), wake.clone()));
        Ok(Writer {
            state,
            wake,
            observer,
            mac,
        })
    }

    /// Sets the key every audit event appended from now on is tagged with.
    pub(crate) fn tag_audit_events(&self, key: keybound_audit::mac::EventMac) {
        *self.mac.write().unwrap_or_else(|p| p.into_inner()) = Some(key);
    }

    /// Sets who hears of committed audit events (replacing any before).
    pub(crate) fn observe(&self, observer: Arc<dyn CommitObserver>) {
        *self.observer.write().unwrap_or_else(|p| p.into_inner()) = Some(observer);
    }

    /// Waits for the connection and opens the batch if none is open. The
    /// caller's savepoint is opened by its first write
    /// ([`Batch::for_writing`]): a transaction that only reads costs no
    /// savepoint and leaves nothing to roll back.
    pub(crate) async fn lease(&self) -> Result<Lease, StoreError> {
        let mut batch = self.state.clone().lock_owned().await;
        batch.discard_abandoned().await?;
        if !batch.open {
            batch.open_batch().await?;
        }
        Ok(batch)
    }

    /// Keeps the caller's work in the batch and waits until the batch is
    /// committed. A caller that wrote nothing has nothing to wait for.
    /// Once its work is in the batch, the caller's audit `events` are the
    /// batch's to report (in `span`) when it commits, whether or not the
    /// caller is still waiting.
    pub(crate) async fn commit(
        &self,
        mut lease: Lease,
        events: Vec<AuditEvent>,
        span: tracing::Span,
    ) -> Result<(), StoreError> {
        if !lease.savepoint {
            drop(lease);
            self.wake.notify_one();
            return Ok(());
        }
        if let Err(e) = lease.conn.run("RELEASE SAVEPOINT kb").await {
            // The next user of the connection rolls the savepoint back; make
            // sure there is one, so the batch does not keep the lock.
            drop(lease);
            self.wake.notify_one();
            return Err(e);
        }
        lease.savepoint = false;
        lease.head_at_savepoint = None;
        if !events.is_empty() {
            lease.sealed.push(Sealed { events, span });
        }
        let (done, committed) = oneshot::channel();
        lease.waiting.push(done);
        drop(lease);
        self.wake.notify_one();
        committed
            .await
            .map_err(|_| StoreError::Backend("the writer stopped before committing".into()))?
    }

    /// Commits the open batch now (waking nobody: its callers are told as
    /// usual) and, on SQLite, moves the write-ahead log into the database
    /// file, so a stopped node leaves one self-contained file.
    pub(crate) async fn close(&self) -> Result<(), StoreError> {
        let mut batch = self.state.lock().await;
        batch.flush().await;
        if batch.backend == Backend::Sqlite {
            // Readers of other processes may keep part of the log in use:
            // then SQLite checkpoints what it can, which is still safe.
            batch.conn.run("PRAGMA wal_checkpoint(TRUNCATE)").await?;
        }
        Ok(())
    }

    /// Commits so far on this node.
    pub(crate) async fn stats(&self) -> CommitStats {
        self.state.lock().await.stats
    }

    /// A lease was dropped without commit: make sure a batch is not left
    /// holding the writer lock with nobody coming.
    pub(crate) fn abandoned(&self) {
        self.wake.notify_one();
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // The flusher holds only a weak reference: wake it so it sees the
        // writer is gone and ends.
        self.wake.notify_one();
    }
}

impl Batch {
    /// The connection, inside the caller's savepoint (opened now if this is
    /// the caller's first write).
    pub(crate) async fn for_writing(&mut self) -> Result<&mut Conn, StoreError> {
        if !self.savepoint {
            self.conn.run("SAVEPOINT kb").await?;
            self.savepoint = true;
            self.head_at_savepoint = self.head.clone();
        }
        Ok(&mut self.conn)
    }

    /// The audit chain's last event if this batch knows it (`Some(None)`:
    /// the chain is empty).
    pub(crate) fn chain_head(&self) -> Option<Option<AuditEvent>> {
        self.head.clone()
    }

    /// The tag of the event just sealed, if this process tags events.
    pub(crate) fn audit_tag(&self, event: &AuditEvent) -> Option<Vec<u8>> {
        self.mac
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|key| key.tag(event.seq, &event.hash))
    }

    /// Records the event just appended as the chain's last.
    pub(crate) fn set_chain_head(&mut self, event: &AuditEvent) {
        self.head = Some(Some(event.clone()));
    }

    async fn open_batch(&mut self) -> Result<(), StoreError> {
        let started = Instant::now();
        if self.conn.is_broken() || self.begin().await.is_err() {
            // The connection may have died (a database restart): one fresh
            // connection, one more try.
            self.conn = self.backend.connect(&self.url, self.durability).await?;
            self.begin().await?;
        }
        metrics::histogram!(LOCK_WAIT_METRIC).record(started.elapsed().as_secs_f64());
        self.open = true;
        Ok(())
    }

    async fn begin(&mut self) -> Result<(), StoreError> {
        self.conn.begin_batch(self.backend.begin_batch()).await
    }

    /// Rolls back the savepoint of a caller that went away without
    /// committing. If even that fails, the whole batch is abandoned and its
    /// waiters told.
    async fn discard_abandoned(&mut self) -> Result<(), StoreError> {
        if !self.savepoint {
            return Ok(());
        }
        let undone = async {
            self.conn.run("ROLLBACK TO SAVEPOINT kb").await?;
            self.conn.run("RELEASE SAVEPOINT kb").await?;
            Ok::<_, StoreError>(())
        }
        .await;
        self.savepoint = false;
        self.head = self.head_at_savepoint.take();
        if let Err(e) = undone {
            self.end(Err(e.clone())).await;
            return Err(e);
        }
        Ok(())
    }

    /// Commits the open batch and tells everyone waiting on it.
    async fn flush(&mut self) {
        if self.discard_abandoned().await.is_err() || !self.open {
            return;
        }
        let carried = self.waiting.len();
        let started = Instant::now();
        let committed = self.conn.commit().await;
        if committed.is_ok() && carried > 0 {
            // Batches that carried callers: how well group commit groups,
            // and what one COMMIT (and its fsync) costs.
            metrics::histogram!(BATCH_METRIC).record(carried as f64);
            metrics::histogram!(COMMIT_METRIC).record(started.elapsed().as_secs_f64());
        }
        self.end(committed).await;
    }

    /// Ends the batch with `outcome` (rolled back when it is an error).
    async fn end(&mut self, outcome: Result<(), StoreError>) {
        if outcome.is_err() && self.open {
            let _ = self.conn.run("ROLLBACK").await;
        }
        self.open = false;
        self.head = None;
        self.head_at_savepoint = None;
        if outcome.is_ok() && !self.waiting.is_empty() {
            self.stats.batches += 1;
            self.stats.transactions += self.waiting.len() as u64;
        }
        let sealed = std::mem::take(&mut self.sealed);
        if outcome.is_ok() {
            // Before the callers hear "committed": a caller that returns
            // finds its events already logged and counted.
            self.report(sealed);
        }
        for waiter in self.waiting.drain(..) {
            let _ = waiter.send(outcome.clone());
        }
    }
}

impl Batch {
    /// Tells the observer, if any, of committed events, each caller's in
    /// the span it committed in (its request id, route, identity).
    fn report(&self, sealed: Vec<Sealed>) {
        if sealed.is_empty() {
            return;
        }
        let observer = self
            .observer
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some(observer) = observer {
            for Sealed { events, span } in sealed {
                span.in_scope(|| observer.committed(&events));
            }
        }
    }
}

async fn flush_when_woken(state: Weak<Mutex<Batch>>, wake: Arc<Notify>) {
    loop {
        wake.notified().await;
        let Some(state) = state.upgrade() else {
            return;
        };
        state.lock().await.flush().await;
    }
}
