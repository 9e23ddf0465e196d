//! The two kinds of transaction, as two types. A [`ReadTx`] is a look at
//! what is committed: every read query is a method of it, and no write is,
//! so a use case that only reads cannot change anything, and a write on a
//! reader is a compile error, not a run-time one. A [`WriteTx`] is a
//! savepoint in the node's write batch: it has every write query, and every
//! read query too through [`Deref`] to the [`ReadTx`] it wraps (its reads
//! see its own writes). The queries themselves live in `queries/`, one file
//! per aggregate.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use keybound_audit::AuditEvent;
use tokio::sync::OwnedSemaphorePermit;

use crate::conn::{params, Conn};
use crate::readers::Readers;
use crate::writer::{Lease, Writer};
use crate::StoreError;

/// A read-only transaction ([`crate::Store::read`]): on a reader connection
/// beside the writer, so it waits for no batch, or on the writer when there
/// are no readers (`sqlite::memory:`, a database private to its one
/// connection). It sees what is committed, not the writes of a batch in
/// progress, so a decision taken on it must be confirmed in a [`WriteTx`]
/// before anything is written. Dropping it ends it.
///
/// It has only the read queries; writes take a [`WriteTx`], which has the
/// read queries too:
///
/// ```no_run
/// # async fn example(
/// #     store: keybound_store::Store,
/// #     ada: keybound_store::Identity,
/// # ) -> Result<(), keybound_store::StoreError> {
/// let mut look = store.read().await?;
/// if let Some(found) = look.identity_by_name("ada").await? {
///     let credentials = look.credentials_of(&found.id).await?;
///     println!("{} has {} credentials", found.name, credentials.len());
/// }
/// drop(look);
///
/// let mut tx = store.begin().await?;
/// if tx.identity_by_name(&ada.name).await?.is_none() {
///     tx.insert_identity(&ada).await?;
///     tx.append_audit(keybound_audit::NewEvent::default()).await?;
/// }
/// tx.commit().await?;
/// # Ok(())
/// # }
/// ```
///
/// The same writes on a `ReadTx` do not compile: "no method named
/// `append_audit` (`insert_identity`) found for struct `ReadTx`" (E0599;
/// stable rustdoc checks only that compilation fails, and the example
/// above makes the same calls compile on a `WriteTx`, so the receiver is
/// what is wrong here):
///
/// ```compile_fail,E0599
/// # async fn example(store: keybound_store::Store) -> Result<(), keybound_store::StoreError> {
/// let mut look = store.read().await?;
/// look.append_audit(keybound_audit::NewEvent::default()).await?;
/// # Ok(())
/// # }
/// ```
///
/// ```compile_fail,E0599
/// # async fn example(
/// #     store: keybound_store::Store,
/// #     ada: keybound_store::Identity,
/// # ) -> Result<(), keybound_store::StoreError> {
/// let mut look = store.read().await?;
/// look.insert_identity(&ada).await?;
/// # Ok(())
/// # }
/// ```
pub struct ReadTx {
    source: Source,
}

/// Where a transaction's statements run.
enum Source {
    /// A reader connection.
    Reader(Reader),
    /// The node's writer connection, inside the open batch.
    Writer(Held),
}

/// A reader connection, returned to the pool when the transaction ends.
struct Reader {
    conn: Option<Conn>,
    pool: Arc<Readers>,
    _permit: OwnedSemaphorePermit,
}

impl Drop for Reader {
    fn drop(&mut self) {
        self.pool.give_back(self.conn.take());
    }
}

/// The writer held by a transaction. The lease is released before the
/// writer is told (fields drop in order).
struct Held {
    lease: Lease,
    abandon: Abandon,
}

/// Tells the writer when a transaction ends uncommitted, so an open batch
/// is not left holding the writer lock with nobody coming.
struct Abandon {
    writer: Arc<Writer>,
    armed: bool,
}

impl Drop for Abandon {
    fn drop(&mut self) {
        if self.armed {
            self.writer.abandoned();
        }
    }
}

impl ReadTx {
    /// A look on a reader connection.
    pub(crate) fn on_reader(conn: Conn, permit: OwnedSemaphorePermit, pool: Arc<Readers>) -> Self {
        ReadTx {
            source: Source::Reader(Reader {
                conn: Some(conn),
                pool,
                _permit: permit,
            }),
        }
    }

    /// A look on the writer (when there are no readers, and inside a
    /// [`WriteTx`]).
    pub(crate) fn on_writer(lease: Lease, writer: Arc<Writer>) -> Self {
        ReadTx {
            source: Source::Writer(Held {
                lease,
                abandon: Abandon {
                    writer,
                    armed: true,
                },
            }),
        }
    }

    /// The connection for a read.
    pub(crate) fn db(&mut self) -> Result<&mut Conn, StoreError> {
        match &mut self.source {
            Source::Writer(held) => Ok(&mut held.lease.conn),
            Source::Reader(reader) => reader
                .conn
                .as_mut()
                .ok_or_else(|| StoreError::Backend("reader connection gone".into())),
        }
    }

    /// One round trip to the database.
    pub(crate) async fn ping(&mut self) -> Result<(), StoreError> {
        self.db()?
            .query_opt("SELECT CAST(1 AS BIGINT) AS one", params![], |r| {
                r.int("one")
            })
            .await?;
        Ok(())
    }
}

/// A write transaction ([`crate::Store::begin`]): a savepoint in the node's
/// current write batch, which holds the database-wide writer lock. Every
/// read query of [`ReadTx`] works on it too (it dereferences to one, on the
/// writer connection, seeing its own writes). Dropped without
/// [`WriteTx::commit`], it rolls back: a refused ceremony leaves nothing
/// behind.
pub struct WriteTx {
    look: ReadTx,
    /// The audit events this transaction appended, for the
    /// [`crate::CommitObserver`] once they are committed.
    sealed: Vec<AuditEvent>,
}

impl Deref for WriteTx {
    type Target = ReadTx;

    fn deref(&self) -> &ReadTx {
        &self.look
    }
}

impl DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut ReadTx {
        &mut self.look
    }
}

impl WriteTx {
    pub(crate) fn new(lease: Lease, writer: Arc<Writer>) -> Self {
        WriteTx {
            look: ReadTx::on_writer(lease, writer),
            sealed: Vec::new(),
        }
    }

    /// Notes an event appended in this transaction.
    pub(crate) fn appended(&mut self, event: &AuditEvent) {
        self.sealed.push(event.clone());
    }

    /// The writer's lease. A `WriteTx` is only ever made on the writer
    /// ([`WriteTx::new`]), so the error is unreachable; it stands in for a
    /// panic the lints forbid.
    pub(crate) fn lease(&mut self) -> Result<&mut Lease, StoreError> {
        match &mut self.look.source {
            Source::Writer(held) => Ok(&mut held.lease),
            Source::Reader(_) => Err(StoreError::Backend(
                "a write transaction without the writer".into(),
            )),
        }
    }

    /// The connection for a write: inside this transaction's savepoint.
    pub(crate) async fn write(&mut self) -> Result<&mut Conn, StoreError> {
        self.lease()?.for_writing().await
    }

    /// Makes every write of this transaction durable, together; returns
    /// once the batch holding it has committed. Then, and only then (a
    /// rolled-back event never happened), the store's
    /// [`crate::CommitObserver`] hears of the audit events it appended,
    /// inside the tracing span current here, before this returns. The
    /// writer reports them, not this future: a caller dropped while it
    /// waits for the batch (a client that disconnected) still has its
    /// committed events logged and counted.
    pub async fn commit(self) -> Result<(), StoreError> {
        match self.look.source {
            Source::Writer(Held { lease, mut abandon }) => {
                abandon.armed = false;
                let span = tracing::Span::current();
                abandon.writer.commit(lease, self.sealed, span).await
            }
            Source::Reader(_) => Ok(()),
        }
    }
}
