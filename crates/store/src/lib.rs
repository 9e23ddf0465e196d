//! keybound's storage: one set of queries over two databases. SQLite is the
//! embedded default (`Store::open` with a file URL and nothing else to run);
//! PostgreSQL serves many stateless nodes on one database. The queries are
//! written once in SQL both accept, one file per aggregate under `queries/`
//! (identities, credentials, challenges, grants, sessions, recoveries,
//! roles, metadata, audit, secrets); `conn.rs` runs them on SQLite through
//! rusqlite and on PostgreSQL through sqlx; what else differs (connection
//! settings, migrations, the writer lock) is in `backend.rs`.
//!
//! Reads and writes are different types (`transaction.rs`): a [`ReadTx`]
//! ([`Store::read`]) has only the read queries, a [`WriteTx`]
//! ([`Store::begin`]) has the writes and, through `Deref`, the reads. A
//! use case that only reads takes a `ReadTx` and cannot write or queue for
//! the writer; a write on a reader does not compile.
//!
//! Writes go through group commit (`writer.rs`): each node has one writer
//! connection and batches concurrent transactions into one database
//! transaction, each caller's work a savepoint in it. Reads that need no
//! lock ([`Store::read`]) use reader connections beside it. A batch holds the
//! database-wide writer lock (SQLite `BEGIN IMMEDIATE`, a PostgreSQL
//! advisory lock), so the audit event recording a change is appended in the
//! same transaction as the change and the chain has one writer at a time
//! however many nodes there are. A caller's commit returns only after its
//! batch is committed with the configured [`Durability`]. Driver errors
//! never leave this crate: callers see [`StoreError`].
#![warn(missing_docs)]
#![cfg_attr(
    test,
    allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

mod audit_log;
mod backend;
mod backup;
mod conn;
mod error;
mod model;
mod queries;
mod readers;
mod rows;
mod transaction;
mod writer;

use std::sync::Arc;

use keybound_audit::AuditEvent;

pub use audit_log::{AuditChain, AuditQuery, MAX_AUDIT_PAGE};
pub use backup::{backup_sqlite, create_private, inspect_sqlite, sqlite_file};
pub use error::StoreError;
pub use model::{
    Challenge, Credential, CredentialStatus, Grant, Identity, IdentityKind, IdentityStatus,
    Recovery, RoleProposal, Session,
};
pub use queries::{AgentRow, TaskRow, TaskTokenRow, TASK_LIST_LIMIT};
pub use queries::{AuditCheckpointRow, AuditKeyRow, LeaseRow};
pub use queries::{DbscSessionRow, DeviceRow, IssuedRecovery, LogoutDelivery, SigningKeyRow};
pub use queries::{EndingSessions, OidcClient, OidcCode, OidcSessionEnding, OidcToken};
pub use queries::{InventoryFactRow, PostureFactRow};
pub use queries::{JoinTokenRow, WorkloadEntryRow, WorkloadNodeRow};
pub use queries::{LimitObservationRow, LimitUsageRow, SHARED_READ_LIMIT};
pub use queries::{WorkloadAuthorityRow, WorkloadFederationRow, WorkloadSvidRow};
pub use readers::{READERS_IN_USE_METRIC, READERS_METRIC};
pub use transaction::{ReadTx, WriteTx};
pub use writer::{CommitStats, BATCH_METRIC, COMMIT_METRIC, LOCK_WAIT_METRIC};

use backend::Backend;
use readers::Readers;
use writer::Writer;

/// What a commit survives. The choice is the operator's and is stated, not
/// left to driver defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// A commit is on stable storage before it is acknowledged: it survives
    /// a killed process and a power cut (SQLite `synchronous=FULL` in WAL
    /// mode; PostgreSQL `synchronous_commit=on`). Group commit shares one
    /// fsync among every transaction of a batch.
    #[default]
    Full,
    /// A commit survives the keybound process being killed but not the
    /// machine losing power (SQLite `synchronous=NORMAL`: the WAL is synced
    /// at checkpoints) or the database server crashing (PostgreSQL
    /// `synchronous_commit=off`: up to about 0.6 s of commits).
    Relaxed,
}

/// Hears of audit events once the transaction that appended them has
/// committed: what a layer above logs and counts. Called by the node's
/// writer when the batch holding the transaction has committed, inside the
/// tracing span that was current where [`WriteTx::commit`] was called, and
/// before that commit returns; called even if the committing caller was
/// dropped meanwhile. It runs while the writer is held: it must not block.
pub trait CommitObserver: Send + Sync {
    /// `events` (in chain order) are durable.
    fn committed(&self, events: &[AuditEvent]);
}

/// A database holding all of keybound's state. Cheap to clone: clones
/// share the node's connection and write batch.
#[derive(Clone)]
pub struct Store {
    writer: Arc<Writer>,
    readers: Arc<Readers>,
    backend: Backend,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens the database at `url` (`sqlite://path`, `sqlite::memory:` or
    /// `postgres://…`) with full durability, creating a SQLite file when
    /// missing, and brings its schema up to date. Must be called inside a
    /// tokio runtime (the batch flusher runs on it).
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        Self::open_with(url, Durability::Full).await
    }

    /// Whether `url` names a database keybound has already set up. Nothing
    /// is created or migrated: a missing SQLite file stays missing. For
    /// commands that must work on an existing database and say so rather
    /// than make an empty one.
    pub async fn initialised(url: &str) -> Result<bool, StoreError> {
        Backend::of(url)?.initialised(url).await
    }

    /// [`Store::open`] with a chosen durability.
    pub async fn open_with(url: &str, durability: Durability) -> Result<Self, StoreError> {
        let backend = Backend::of(url)?;
        let writer = Writer::start(backend, url, durability).await?;
        let store = Store {
            writer: Arc::new(writer),
            readers: Arc::new(Readers::new(backend, url)),
            backend,
        };
        store.key_identity_names().await?;
        Ok(store)
    }

    /// Keys the names of identities stored before the naming rule
    /// ([`ReadTx::identity_by_name`] finds them by key from then on): the
    /// mapping is Unicode processing, not SQL, so it runs here rather than
    /// in a migration, once per open, and does nothing once every row is
    /// keyed (or keeps a NULL an older look-alike holds).
    async fn key_identity_names(&self) -> Result<u64, StoreError> {
        let mut tx = self.begin().await?;
        let keyed = tx.key_identity_names().await?;
        tx.commit().await?;
        Ok(keyed)
    }

    /// Starts a write transaction (a savepoint in the node's write batch),
    /// waiting for the writer.
    pub async fn begin(&self) -> Result<WriteTx, StoreError> {
        let lease = self.writer.lease().await?;
        Ok(WriteTx::new(lease, self.writer.clone()))
    }

    /// A read-only transaction that does not queue for the writer: it sees
    /// what is committed (not the writes of the batch in progress), so a
    /// decision taken on it must be confirmed under [`Store::begin`]. It
    /// has no write methods. Where there are no reader connections (an
    /// in-memory SQLite database) it reads on the writer instead.
    pub async fn read(&self) -> Result<ReadTx, StoreError> {
        if !self.readers.usable() {
            let lease = self.writer.lease().await?;
            return Ok(ReadTx::on_writer(lease, self.writer.clone()));
        }
        let (conn, permit) = self.readers.take().await?;
        Ok(ReadTx::on_reader(conn, permit, self.readers.clone()))
    }

    /// The secret called `name`, created from `fresh` on first use and the
    /// same on every later start and on every node.
    pub async fn secret(&self, name: &str, fresh: &[u8]) -> Result<Vec<u8>, StoreError> {
        let mut tx = self.begin().await?;
        let value = tx.secret(name, fresh).await?;
        tx.commit().await?;
        Ok(value)
    }

    /// True when the database answers (for `/readyz`).
    pub async fn ping(&self) -> bool {
        match self.read().await {
            Ok(mut tx) => tx.ping().await.is_ok(),
            Err(_) => false,
        }
    }

    /// Commits what is pending and leaves the database tidy (on SQLite,
    /// the write-ahead log checkpointed into the file): the last step of a
    /// graceful stop. The store stays usable.
    pub async fn close(&self) -> Result<(), StoreError> {
        self.writer.close().await
    }

    /// Sets who hears of committed audit events on this node (every clone
    /// of this store shares it; a later call replaces an earlier one).
    pub fn observe(&self, observer: Arc<dyn CommitObserver>) {
        self.writer.observe(observer);
    }

    /// Tags every audit event this process appends from now on with `key`
    /// (`keybound_audit::mac`): what tells the sealer an event was written
    /// by keybound, not inserted by a database writer. Every clone of this
    /// store shares it.
    pub fn tag_audit_events(&self, key: keybound_audit::mac::EventMac) {
        self.writer.tag_audit_events(key);
    }

    /// Group commit's record on this node (for benchmarks and tests).
    pub async fn commit_stats(&self) -> CommitStats {
        self.writer.stats().await
    }

    /// The whole audit chain in sequence order, in memory: for tests and
    /// small chains. Verify and export read it in pages
    /// ([`Store::audit_chain`]).
    pub async fn audit_events(&self) -> Result<Vec<AuditEvent>, StoreError> {
        // One statement: a consistent snapshot, without holding the writer.
        let mut tx = self.read().await?;
        tx.audit_events().await
    }
}
