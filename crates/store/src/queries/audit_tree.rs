//! The audit log's Merkle tree (issue 19): the complete subtrees the
//! sealer stored, its signed checkpoints, its signing keys, and the
//! leases that let one node at a time seal. The tree is built in
//! `keybound_audit::merkle`; these are only its rows.

use keybound_audit::merkle::{Hash, NodeId, Nodes};

use crate::conn::{params, Fields, Param};
use crate::queries::inserted;
use crate::{ReadTx, StoreError, WriteTx};

/// Nodes written by one statement: a few thousand parameters, within
/// both backends' limits.
const NODES_PER_INSERT: usize = 200;

/// Nodes read by one statement.
const NODES_PER_READ: usize = 200;

/// A signed checkpoint as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditCheckpointRow {
    /// Leaves the checkpoint covers (events 1 ..= size).
    pub size: u64,
    /// The RFC 9162 root of those leaves.
    pub root: Hash,
    /// When it was signed, ms.
    pub time_ms: i64,
    /// The signing key's id (the signed note's key hash, hex).
    pub key_id: String,
    /// The signed note, as published.
    pub note: String,
}

/// One of the log's signing keys.
#[derive(Clone, PartialEq, Eq)]
pub struct AuditKeyRow {
    /// The signed note's key hash, hex.
    pub key_id: String,
    /// The log's origin, the key's name.
    pub origin: String,
    /// Ed25519 public key, 32 bytes.
    pub public_key: Vec<u8>,
    /// The private key, sealed under the operator's key-encryption key.
    pub sealed_private: Vec<u8>,
    /// When it was made, ms.
    pub created_ms: i64,
    /// When it stopped signing, ms.
    pub retired_ms: Option<i64>,
}

impl std::fmt::Debug for AuditKeyRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not even the sealed private key.
        f.debug_struct("AuditKeyRow")
            .field("key_id", &self.key_id)
            .field("origin", &self.origin)
            .field("created_ms", &self.created_ms)
            .field("retired_ms", &self.retired_ms)
            .finish_non_exhaustive()
    }
}

/// Who holds a lease, until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseRow {
    /// The lease's name (`audit-sealer`).
    pub name: String,
    /// The holder's id (a node's).
    pub holder: String,
    /// When it lapses unless renewed, ms.
    pub expires_ms: i64,
}

fn hash(bytes: Vec<u8>) -> Result<Hash, StoreError> {
    <[u8; 32]>::try_from(bytes.as_slice())
        .map_err(|_| StoreError::Corrupt("an audit tree hash is not 32 bytes".into()))
}

fn u64_of(n: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(n).map_err(|_| StoreError::Corrupt(format!("audit {what}")))
}

fn i64_of(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn checkpoint_from_row(r: &dyn Fields) -> Result<AuditCheckpointRow, StoreError> {
    Ok(AuditCheckpointRow {
        size: u64_of(r.int("size")?, "checkpoint size")?,
        root: hash(r.blob("root")?)?,
        time_ms: r.int("time_ms")?,
        key_id: r.text("key_id")?,
        note: r.text("note")?,
    })
}

fn key_from_row(r: &dyn Fields) -> Result<AuditKeyRow, StoreError> {
    Ok(AuditKeyRow {
        key_id: r.text("key_id")?,
        origin: r.text("origin")?,
        public_key: r.blob("public_key")?,
        sealed_private: r.blob("sealed_private")?,
        created_ms: r.int("created_ms")?,
        retired_ms: r.opt_int("retired_ms")?,
    })
}

impl ReadTx {
    /// Leaves in the stored tree: one more than the highest leaf stored
    /// (0 when none).
    pub async fn audit_tree_size(&mut self) -> Result<u64, StoreError> {
        let last = self
            .db()?
            .query_opt(
                "SELECT idx FROM audit_tree WHERE level = 0 ORDER BY idx DESC LIMIT 1",
                params![],
                |r| r.int("idx"),
            )
            .await?;
        match last {
            Some(idx) => Ok(u64_of(idx, "tree index")? + 1),
            None => Ok(0),
        }
    }

    /// The stored nodes among `ids` (a missing one is simply absent: the
    /// proof that needed it names it).
    pub async fn audit_nodes(&mut self, ids: &[NodeId]) -> Result<Nodes, StoreError> {
        let mut nodes = Nodes::new();
        for chunk in ids.chunks(NODES_PER_READ) {
            // `(level = ? AND idx = ?) OR ...` with nothing before it: a
            // leading `FALSE OR` stops SQLite's multi-index OR, and every
            // read became a scan of the whole tree.
            let mut sql = String::from("SELECT level, idx, hash FROM audit_tree WHERE ");
            let mut params: Vec<Param<'_>> = Vec::with_capacity(chunk.len() * 2);
            for (i, (level, idx)) in chunk.iter().enumerate() {
                params.push(Param::from(i64::from(*level)));
                params.push(Param::from(i64_of(*idx)));
                let n = params.len();
                if i > 0 {
                    sql.push_str(" OR ");
                }
                sql.push_str(&format!("(level = ${} AND idx = ${n})", n - 1));
            }
            let rows = self
                .db()?
                .query_all(&sql, &params, |r| {
                    Ok((r.int("level")?, r.int("idx")?, r.blob("hash")?))
                })
                .await?;
            for (level, idx, h) in rows {
                let level = u32::try_from(level)
                    .map_err(|_| StoreError::Corrupt("audit tree level".into()))?;
                nodes.insert((level, u64_of(idx, "tree index")?), hash(h)?);
            }
        }
        Ok(nodes)
    }

    /// The newest checkpoint (the largest size), if any.
    pub async fn latest_audit_checkpoint(
        &mut self,
    ) -> Result<Option<AuditCheckpointRow>, StoreError> {
        self.db()?
            .query_opt(
                "SELECT * FROM audit_checkpoints ORDER BY size DESC LIMIT 1",
                params![],
                checkpoint_from_row,
            )
            .await
    }

    /// The smallest checkpoint covering at least `size` leaves, if any:
    /// the one an inclusion proof for leaf `size - 1` is made against.
    pub async fn audit_checkpoint_covering(
        &mut self,
        size: u64,
    ) -> Result<Option<AuditCheckpointRow>, StoreError> {
        self.db()?
            .query_opt(
                "SELECT * FROM audit_checkpoints WHERE size >= $1 ORDER BY size LIMIT 1",
                params![i64_of(size)],
                checkpoint_from_row,
            )
            .await
    }

    /// The checkpoint of exactly `size` leaves, if one was signed.
    pub async fn audit_checkpoint(
        &mut self,
        size: u64,
    ) -> Result<Option<AuditCheckpointRow>, StoreError> {
        self.db()?
            .query_opt(
                "SELECT * FROM audit_checkpoints WHERE size = $1",
                params![i64_of(size)],
                checkpoint_from_row,
            )
            .await
    }

    /// Up to `limit` checkpoints with sizes above `after`, smallest first.
    pub async fn audit_checkpoints_after(
        &mut self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<AuditCheckpointRow>, StoreError> {
        self.db()?
            .query_all(
                "SELECT * FROM audit_checkpoints WHERE size > $1 ORDER BY size LIMIT $2",
                params![
                    i64_of(after),
                    i64::try_from(limit.clamp(1, 1000)).unwrap_or(1)
                ],
                checkpoint_from_row,
            )
            .await
    }

    /// Every signing key of the log, oldest first.
    pub async fn audit_keys(&mut self) -> Result<Vec<AuditKeyRow>, StoreError> {
        self.db()?
            .query_all(
                "SELECT * FROM audit_keys ORDER BY created_ms, key_id",
                params![],
                key_from_row,
            )
            .await
    }

    /// The lease `name`, if anyone ever held it.
    pub async fn lease(&mut self, name: &str) -> Result<Option<LeaseRow>, StoreError> {
        self.db()?
            .query_opt("SELECT * FROM leases WHERE name = $1", params![name], |r| {
                Ok(LeaseRow {
                    name: r.text("name")?,
                    holder: r.text("holder")?,
                    expires_ms: r.int("expires_ms")?,
                })
            })
            .await
    }
}

impl WriteTx {
    /// Stores complete subtrees. A node stored already is left as it is
    /// (`ON CONFLICT DO NOTHING`): the sealer that finds a stored node
    /// different from the one it computed has found tampering, and says
    /// so; it does not overwrite.
    pub async fn insert_audit_nodes(&mut self, nodes: &[(NodeId, Hash)]) -> Result<(), StoreError> {
        for chunk in nodes.chunks(NODES_PER_INSERT) {
            let mut sql = String::from("INSERT INTO audit_tree (level, idx, hash) VALUES ");
            let mut params: Vec<Param<'_>> = Vec::with_capacity(chunk.len() * 3);
            for (i, ((level, idx), h)) in chunk.iter().enumerate() {
                if i > 0 {
                    sql.push_str(", ");
                }
                params.push(Param::from(i64::from(*level)));
                params.push(Param::from(i64_of(*idx)));
                params.push(Param::from(h.as_slice()));
                let n = params.len();
                sql.push_str(&format!("(${}, ${}, ${n})", n - 2, n - 1));
            }
            sql.push_str(" ON CONFLICT DO NOTHING");
            self.write().await?.execute(&sql, &params).await?;
        }
        Ok(())
    }

    /// Stores a signed checkpoint; false when one of that size exists.
    pub async fn insert_audit_checkpoint(
        &mut self,
        row: &AuditCheckpointRow,
    ) -> Result<bool, StoreError> {
        let done = self
            .write()
            .await?
            .execute(
                "INSERT INTO audit_checkpoints (size, root, time_ms, key_id, note)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                params![
                    i64_of(row.size),
                    row.root.as_slice(),
                    row.time_ms,
                    &row.key_id,
                    &row.note
                ],
            )
            .await?;
        Ok(done == 1)
    }

    /// Stores a new signing key of the log; [`StoreError::Conflict`] when
    /// its id is stored already.
    pub async fn insert_audit_key(&mut self, key: &AuditKeyRow) -> Result<(), StoreError> {
        let done = self
            .write()
            .await?
            .execute(
                "INSERT INTO audit_keys (key_id, origin, public_key, sealed_private, created_ms,
                 retired_ms) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                params![
                    &key.key_id,
                    &key.origin,
                    &key.public_key,
                    &key.sealed_private,
                    key.created_ms,
                    key.retired_ms
                ],
            )
            .await?;
        inserted(done)
    }

    /// Takes or renews the lease `name` for `holder` until `expires_ms`:
    /// true when `holder` has it now (it was free, lapsed at `now_ms`, or
    /// already its own). One conditional statement, so of two nodes
    /// trying at once exactly one wins.
    pub async fn take_lease(
        &mut self,
        name: &str,
        holder: &str,
        now_ms: i64,
        expires_ms: i64,
    ) -> Result<bool, StoreError> {
        let done = self
            .write()
            .await?
            .execute(
                "INSERT INTO leases (name, holder, expires_ms) VALUES ($1, $2, $4)
                 ON CONFLICT (name) DO UPDATE SET holder = $2, expires_ms = $4
                 WHERE leases.holder = $2 OR leases.expires_ms <= $3",
                params![name, holder, now_ms, expires_ms],
            )
            .await?;
        Ok(done == 1)
    }

    /// Gives the lease up (a node stopping), if `holder` has it.
    pub async fn release_lease(&mut self, name: &str, holder: &str) -> Result<(), StoreError> {
        self.write()
            .await?
            .execute(
                "DELETE FROM leases WHERE name = $1 AND holder = $2",
                params![name, holder],
            )
            .await?;
        Ok(())
    }
}
