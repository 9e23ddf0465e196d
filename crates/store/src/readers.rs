//! Connections for reads that need no write lock: a sign-in's first look
//! (challenge, credential, owner) and the options it hands out. They see
//! what is committed, run beside the writer instead of queueing for it,
//! and on PostgreSQL spread over the server's processes.

use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::backend::Backend;
use crate::conn::Conn;
use crate::StoreError;

/// Reader connections per node: more would only cost connection set-up (a
/// server process per connection on PostgreSQL) on cores already busy.
const READERS: usize = 8;

/// Reader connections in use (a gauge); of at most [`READERS_METRIC`].
pub const READERS_IN_USE_METRIC: &str = "keybound_store_readers_in_use";
/// Reader connections a node may use at once (a gauge, constant).
pub const READERS_METRIC: &str = "keybound_store_readers_max";

/// Idle reader connections, made on demand and kept.
pub(crate) struct Readers {
    backend: Backend,
    url: String,
    idle: Mutex<Vec<Conn>>,
    permits: Arc<Semaphore>,
}

impl Readers {
    pub(crate) fn new(backend: Backend, url: &str) -> Readers {
        metrics::gauge!(READERS_METRIC).set(READERS as f64);
        Readers {
            backend,
            url: url.to_owned(),
            idle: Mutex::new(Vec::new()),
            permits: Arc::new(Semaphore::new(READERS)),
        }
    }

    /// A private in-memory SQLite database exists once per connection:
    /// there, every read goes through the writer instead.
    pub(crate) fn usable(&self) -> bool {
        !(self.backend == Backend::Sqlite && self.url.contains(":memory:"))
    }

    /// An idle connection, or a new one, once fewer than [`READERS`] are
    /// in use.
    pub(crate) async fn take(&self) -> Result<(Conn, OwnedSemaphorePermit), StoreError> {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Backend("readers closed".into()))?;
        self.in_use();
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let conn = match idle {
            Some(conn) => conn,
            None => self.backend.connect_reader(&self.url).await?,
        };
        Ok((conn, permit))
    }

    /// Returns a connection for the next reader (a lost one is dropped;
    /// the next reader makes a new one). The caller's permit is released
    /// after this returns.
    pub(crate) fn give_back(&self, conn: Option<Conn>) {
        if let Some(conn) = conn.filter(|c| !c.is_broken()) {
            self.idle
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(conn);
        }
        // The permit of the reader giving back is still held here.
        let busy = READERS
            .saturating_sub(self.permits.available_permits())
            .saturating_sub(1);
        metrics::gauge!(READERS_IN_USE_METRIC).set(busy as f64);
    }

    /// Publishes how many reader connections are in use (after a take).
    fn in_use(&self) {
        let busy = READERS.saturating_sub(self.permits.available_permits());
        metrics::gauge!(READERS_IN_USE_METRIC).set(busy as f64);
    }
}
