//! Connections for reads that need no write lock: a sign-in's first look
//! (challenge, credential, owner) and the options it hands out. They see
//! what is committed, run beside the writer instead of queueing for it,
//! and on PostgreSQL spread over the server's processes.

use std::sync::Mutex;

use crate::backend::Backend;
use crate::conn::Conn;
use crate::{Durability, StoreError};

/// Idle reader connections, made on demand and kept.
pub(crate) struct Readers {
    backend: Backend,
    url: String,
    durability: Durability,
    idle: Mutex<Vec<Conn>>,
}

/// The most idle readers kept (more are made under load, then closed).
const KEEP: usize = 8;

impl Readers {
    pub(crate) fn new(backend: Backend, url: &str, durability: Durability) -> Readers {
        Readers {
            backend,
            url: url.to_owned(),
            durability,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// A private in-memory SQLite database exists once per connection:
    /// there, every read goes through the writer instead.
    pub(crate) fn usable(&self) -> bool {
        !(self.backend == Backend::Sqlite && self.url.contains(":memory:"))
    }

    /// An idle connection, or a new one.
    pub(crate) async fn take(&self) -> Result<Conn, StoreError> {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        match idle {
            Some(conn) => Ok(conn),
            None => {
                self.backend
                    .connect_reader(&self.url, self.durability)
                    .await
            }
        }
    }

    /// Returns a connection for the next reader.
    pub(crate) fn give_back(&self, conn: Conn) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < KEEP {
            idle.push(conn);
        }
    }
}
