//! Workload identity (issue 17): registration entries, attested nodes and
//! the terms of join tokens. List-valued columns (selectors, DNS names,
//! node sets) are JSON arrays: the service builds and bounds them, the
//! store keeps them as text.

use super::{inserted, storable};
use crate::conn::{params, Fields};
use crate::{ReadTx, StoreError, WriteTx};

/// A registration entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkloadEntryRow {
    /// Stable id.
    pub id: String,
    /// The SPIFFE ID its workloads receive.
    pub spiffe_id: String,
    /// A node's name, or `set:<label>`.
    pub parent: String,
    /// JSON array of selectors, sorted.
    pub selectors: String,
    /// X.509-SVID lifetime, seconds.
    pub x509_ttl_s: i64,
    /// JWT-SVID lifetime, seconds.
    pub jwt_ttl_s: i64,
    /// JSON array of DNS names.
    pub dns_names: String,
    /// The hint workloads see.
    pub hint: String,
    /// JSON array of federated trust domains.
    pub federates_with: String,
    /// The identity answerable for it.
    pub owner_id: String,
    /// Bumped at each change.
    pub revision: i64,
    /// Created, ms.
    pub created_ms: i64,
    /// Last changed, ms.
    pub updated_ms: i64,
}

fn entry_from_row(r: &dyn Fields) -> Result<WorkloadEntryRow, StoreError> {
    Ok(WorkloadEntryRow {
        id: r.text("id")?,
        spiffe_id: r.text("spiffe_id")?,
        parent: r.text("parent")?,
        selectors: r.text("selectors")?,
        x509_ttl_s: r.int("x509_ttl_s")?,
        jwt_ttl_s: r.int("jwt_ttl_s")?,
        dns_names: r.text("dns_names")?,
        hint: r.text("hint")?,
        federates_with: r.text("federates_with")?,
        owner_id: r.text("owner_id")?,
        revision: r.int("revision")?,
        created_ms: r.int("created_ms")?,
        updated_ms: r.int("updated_ms")?,
    })
}

/// An attested node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkloadNodeRow {
    /// Its name in the registry.
    pub name: String,
    /// `spiffe://<td>/keybound/node/<name>`.
    pub spiffe_id: String,
    /// `join_token`, `tpm` or `local`.
    pub attestation: String,
    /// RFC 7638 thumbprint of the node key.
    pub key_thumbprint: String,
    /// The node key's public JWK, JSON.
    pub key_jwk: String,
    /// SHA-256 of the TPM EK public area (TPM nodes).
    pub tpm_ek_hash: Option<Vec<u8>>,
    /// The TPM AK public area (TPM nodes).
    pub tpm_ak_public: Option<Vec<u8>>,
    /// The device identity of a TPM-attested node.
    pub device_id: Option<String>,
    /// `active` or `decommissioned`.
    pub status: String,
    /// JSON array of node set labels.
    pub sets: String,
    /// Last attestation, ms.
    pub attested_ms: i64,
    /// Last sync, ms.
    pub last_seen_ms: Option<i64>,
    /// When decommissioned, ms.
    pub decommissioned_ms: Option<i64>,
}

fn node_from_row(r: &dyn Fields) -> Result<WorkloadNodeRow, StoreError> {
    Ok(WorkloadNodeRow {
        name: r.text("name")?,
        spiffe_id: r.text("spiffe_id")?,
        attestation: r.text("attestation")?,
        key_thumbprint: r.text("key_thumbprint")?,
        key_jwk: r.text("key_jwk")?,
        tpm_ek_hash: r.opt_blob("tpm_ek_hash")?,
        tpm_ak_public: r.opt_blob("tpm_ak_public")?,
        device_id: r.opt_text("device_id")?,
        status: r.text("status")?,
        sets: r.text("sets")?,
        attested_ms: r.int("attested_ms")?,
        last_seen_ms: r.opt_int("last_seen_ms")?,
        decommissioned_ms: r.opt_int("decommissioned_ms")?,
    })
}

/// What a join token makes of the node that spends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinTokenRow {
    /// SHA-256 of the token (the `single_use` row's hash too).
    pub token_hash: Vec<u8>,
    /// The node's name to be.
    pub node_name: String,
    /// JSON array of the node's sets.
    pub sets: String,
    /// Who created it.
    pub created_by: String,
    /// Created, ms.
    pub created_ms: i64,
    /// Expires, ms.
    pub expires_ms: i64,
}

fn join_token_from_row(r: &dyn Fields) -> Result<JoinTokenRow, StoreError> {
    Ok(JoinTokenRow {
        token_hash: r.blob("token_hash")?,
        node_name: r.text("node_name")?,
        sets: r.text("sets")?,
        created_by: r.text("created_by")?,
        created_ms: r.int("created_ms")?,
        expires_ms: r.int("expires_ms")?,
    })
}

impl ReadTx {
    /// The entry `id`.
    pub async fn workload_entry(
        &mut self,
        id: &str,
    ) -> Result<Option<WorkloadEntryRow>, StoreError> {
        if !storable(id) {
            return Ok(None);
        }
        self.db()?
            .query_opt(
                "SELECT * FROM workload_entries WHERE id = $1",
                params![id],
                entry_from_row,
            )
            .await
    }

    /// Every entry, by SPIFFE ID.
    pub async fn workload_entries(&mut self) -> Result<Vec<WorkloadEntryRow>, StoreError> {
        self.db()?
            .query_all(
                "SELECT * FROM workload_entries ORDER BY spiffe_id, id",
                params![],
                entry_from_row,
            )
            .await
    }

    /// The entries whose parent is one of `parents` (a node's name and its
    /// `set:<label>`s), by SPIFFE ID.
    pub async fn workload_entries_of_parents(
        &mut self,
        parents: &[String],
    ) -> Result<Vec<WorkloadEntryRow>, StoreError> {
        let mut out = Vec::new();
        for parent in parents.iter().filter(|p| storable(p)) {
            out.extend(
                self.db()?
                    .query_all(
                        "SELECT * FROM workload_entries WHERE parent = $1",
                        params![parent],
                        entry_from_row,
                    )
                    .await?,
            );
        }
        out.sort_by(|a, b| (&a.spiffe_id, &a.id).cmp(&(&b.spiffe_id, &b.id)));
        out.dedup_by(|a, b| a.id == b.id);
        Ok(out)
    }

    /// The entries `owner_id` answers for.
    pub async fn workload_entries_of_owner(
        &mut self,
        owner_id: &str,
    ) -> Result<Vec<WorkloadEntryRow>, StoreError> {
        if !storable(owner_id) {
            return Ok(Vec::new());
        }
        self.db()?
            .query_all(
                "SELECT * FROM workload_entries WHERE owner_id = $1 ORDER BY spiffe_id, id",
                params![owner_id],
                entry_from_row,
            )
            .await
    }

    /// The node `name`.
    pub async fn workload_node(
        &mut self,
        name: &str,
    ) -> Result<Option<WorkloadNodeRow>, StoreError> {
        if !storable(name) {
            return Ok(None);
        }
        self.db()?
            .query_opt(
                "SELECT * FROM workload_nodes WHERE name = $1",
                params![name],
                node_from_row,
            )
            .await
    }

    /// The node bound to the key with this thumbprint.
    pub async fn workload_node_by_key(
        &mut self,
        thumbprint: &str,
    ) -> Result<Option<WorkloadNodeRow>, StoreError> {
        if !storable(thumbprint) {
            return Ok(None);
        }
        self.db()?
            .query_opt(
                "SELECT * FROM workload_nodes WHERE key_thumbprint = $1",
                params![thumbprint],
                node_from_row,
            )
            .await
    }

    /// The node of the TPM whose EK public area hashes to `ek_hash`.
    pub async fn workload_node_by_ek(
        &mut self,
        ek_hash: &[u8],
    ) -> Result<Option<WorkloadNodeRow>, StoreError> {
        self.db()?
            .query_opt(
                "SELECT * FROM workload_nodes WHERE tpm_ek_hash = $1",
                params![ek_hash],
                node_from_row,
            )
            .await
    }

    /// The node registered as the device identity `device_id`.
    pub async fn workload_node_by_device(
        &mut self,
        device_id: &str,
    ) -> Result<Option<WorkloadNodeRow>, StoreError> {
        if !storable(device_id) {
            return Ok(None);
        }
        self.db()?
            .query_opt(
                "SELECT * FROM workload_nodes WHERE device_id = $1",
                params![device_id],
                node_from_row,
            )
            .await
    }

    /// Every node, by name.
    pub async fn workload_nodes(&mut self) -> Result<Vec<WorkloadNodeRow>, StoreError> {
        self.db()?
            .query_all(
                "SELECT * FROM workload_nodes ORDER BY name",
                params![],
                node_from_row,
            )
            .await
    }

    /// The terms of the join token hashed `token_hash`.
    pub async fn workload_join_token(
        &mut self,
        token_hash: &[u8],
    ) -> Result<Option<JoinTokenRow>, StoreError> {
        self.db()?
            .query_opt(
                "SELECT * FROM workload_join_tokens WHERE token_hash = $1",
                params![token_hash],
                join_token_from_row,
            )
            .await
    }
}

impl WriteTx {
    /// Stores a new entry; [`StoreError::Conflict`] when its id, or the same
    /// SPIFFE ID, parent and selectors, exist already.
    pub async fn insert_workload_entry(&mut self, e: &WorkloadEntryRow) -> Result<(), StoreError> {
        let done = self
            .write()
            .await?
            .execute(
                "INSERT INTO workload_entries (id, spiffe_id, parent, selectors, x509_ttl_s,
                 jwt_ttl_s, dns_names, hint, federates_with, owner_id, revision, created_ms,
                 updated_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
                 ON CONFLICT DO NOTHING",
                params![
                    &e.id,
                    &e.spiffe_id,
                    &e.parent,
                    &e.selectors,
                    e.x509_ttl_s,
                    e.jwt_ttl_s,
                    &e.dns_names,
                    &e.hint,
                    &e.federates_with,
                    &e.owner_id,
                    e.revision,
                    e.created_ms,
                    e.updated_ms
                ],
            )
            .await?;
        inserted(done)
    }

    /// Deletes the entry `id`; false when there is none.
    pub async fn delete_workload_entry(&mut self, id: &str) -> Result<bool, StoreError> {
        let done = self
            .write()
            .await?
            .execute("DELETE FROM workload_entries WHERE id = $1", params![id])
            .await?;
        Ok(done == 1)
    }

    /// Stores a newly attested node; [`StoreError::Conflict`] when the
    /// name, SPIFFE ID, node key or EK is taken.
    pub async fn insert_workload_node(&mut self, n: &WorkloadNodeRow) -> Result<(), StoreError> {
        let done = self
            .write()
            .await?
            .execute(
                "INSERT INTO workload_nodes (name, spiffe_id, attestation, key_thumbprint,
                 key_jwk, tpm_ek_hash, tpm_ak_public, device_id, status, sets, attested_ms,
                 last_seen_ms, decommissioned_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
                 ON CONFLICT DO NOTHING",
                params![
                    &n.name,
                    &n.spiffe_id,
                    &n.attestation,
                    &n.key_thumbprint,
                    &n.key_jwk,
                    &n.tpm_ek_hash,
                    &n.tpm_ak_public,
                    &n.device_id,
                    &n.status,
                    &n.sets,
                    n.attested_ms,
                    n.last_seen_ms,
                    n.decommissioned_ms
                ],
            )
            .await?;
        inserted(done)
    }

    /// Records a sync of an active node; false when it is not active.
    pub async fn touch_workload_node(
        &mut self,
        name: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let done = self
            .write()
            .await?
            .execute(
                "UPDATE workload_nodes SET last_seen_ms = $2
                 WHERE name = $1 AND status = 'active'",
                params![name, now_ms],
            )
            .await?;
        Ok(done == 1)
    }

    /// Records a fresh attestation of an active node (TPM re-attestation):
    /// false when it is not active.
    pub async fn reattest_workload_node(
        &mut self,
        name: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let done = self
            .write()
            .await?
            .execute(
                "UPDATE workload_nodes SET attested_ms = $2
                 WHERE name = $1 AND status = 'active'",
                params![name, now_ms],
            )
            .await?;
        Ok(done == 1)
    }

    /// Binds a new node key and AK to an active TPM node that attested
    /// again: false when it is not active; [`StoreError::Conflict`] when
    /// another node holds that key.
    pub async fn rebind_workload_node(
        &mut self,
        name: &str,
        key_thumbprint: &str,
        key_jwk: &str,
        tpm_ak_public: &[u8],
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let done = self
            .write()
            .await?
            .execute(
                "UPDATE workload_nodes SET key_thumbprint = $2, key_jwk = $3,
                     tpm_ak_public = $4, attested_ms = $5
                 WHERE name = $1 AND status = 'active'",
                params![name, key_thumbprint, key_jwk, tpm_ak_public, now_ms],
            )
            .await?;
        Ok(done == 1)
    }

    /// Decommissions an active node; false when it is not active (a
    /// decommissioned node never comes back).
    pub async fn decommission_workload_node(
        &mut self,
        name: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let done = self
            .write()
            .await?
            .execute(
                "UPDATE workload_nodes SET status = 'decommissioned', decommissioned_ms = $2
                 WHERE name = $1 AND status = 'active'",
                params![name, now_ms],
            )
            .await?;
        Ok(done == 1)
    }

    /// Stores a join token's terms; [`StoreError::Conflict`] on a repeated hash.
    pub async fn insert_workload_join_token(&mut self, t: &JoinTokenRow) -> Result<(), StoreError> {
        let done = self
            .write()
            .await?
            .execute(
                "INSERT INTO workload_join_tokens (token_hash, node_name, sets, created_by,
                 created_ms, expires_ms)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT DO NOTHING",
                params![
                    &t.token_hash,
                    &t.node_name,
                    &t.sets,
                    &t.created_by,
                    t.created_ms,
                    t.expires_ms
                ],
            )
            .await?;
        inserted(done)
    }

    /// Deletes join token terms that expired before `now_ms`; how many.
    pub async fn purge_workload_join_tokens(&mut self, now_ms: i64) -> Result<u64, StoreError> {
        self.write()
            .await?
            .execute(
                "DELETE FROM workload_join_tokens WHERE expires_ms <= $1",
                params![now_ms],
            )
            .await
    }
}
