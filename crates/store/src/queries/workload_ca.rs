//! The workload CA's state (issue 17): X.509 authorities and their phases
//! (prepared → active → retired, each step one conditional statement
//! under the writer lock, so any node may drive it and at most one wins),
//! the bundle's sequence, the SVIDs issued (for revocation and the CRL),
//! and federated trust domains' bundles.

use super::{inserted, storable};
use crate::conn::{params, Fields};
use crate::{ReadTx, StoreError, WriteTx};

/// An X.509 authority of the workload CA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkloadAuthorityRow {
    /// Stable id (the CRL's path names it).
    pub id: String,
    /// The trust domain it signs for.
    pub trust_domain: String,
    /// `prepared`, `active` or `retired`.
    pub state: String,
    /// Its certificate, DER.
    pub cert_der: Vec<u8>,
    /// JSON array of base64url DER certificates above it (an intermediate
    /// under the organisation's root); `[]` for a self-signed root.
    pub upstream: String,
    /// Its PKCS#8 private key, sealed with AES-256-GCM.
    pub key_sealed: Vec<u8>,
    /// notBefore, ms.
    pub not_before_ms: i64,
    /// notAfter, ms.
    pub not_after_ms: i64,
    /// The bundle sequence that first published it.
    pub sequence: i64,
    /// Created, ms.
    pub created_ms: i64,
    /// Activated, ms.
    pub activated_ms: Option<i64>,
    /// Retired, ms.
    pub retired_ms: Option<i64>,
}

fn authority_from_row(r: &dyn Fields) -> Result<WorkloadAuthorityRow, StoreError> {
    Ok(WorkloadAuthorityRow {
        id: r.text("id")?,
        trust_domain: r.text("trust_domain")?,
        state: r.text("state")?,
        cert_der: r.blob("cert_der")?,
        upstream: r.text("upstream")?,
        key_sealed: r.blob("key_sealed")?,
        not_before_ms: r.int("not_before_ms")?,
        not_after_ms: r.int("not_after_ms")?,
        sequence: r.int("sequence")?,
        created_ms: r.int("created_ms")?,
        activated_ms: r.opt_int("activated_ms")?,
        retired_ms: r.opt_int("retired_ms")?,
    })
}

/// An issued X.509-SVID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkloadSvidRow {
    /// Its serial, hex.
    pub serial: String,
    /// The entry it was issued for.
    pub entry_id: String,
    /// The node that asked.
    pub node: String,
    /// The authority that signed it.
    pub authority_id: String,
    /// Issued, ms.
    pub issued_ms: i64,
    /// notAfter, ms.
    pub not_after_ms: i64,
    /// Revoked, ms.
    pub revoked_ms: Option<i64>,
}

fn svid_from_row(r: &dyn Fields) -> Result<WorkloadSvidRow, StoreError> {
    Ok(WorkloadSvidRow {
        serial: r.text("serial")?,
        entry_id: r.text("entry_id")?,
        node: r.text("node")?,
        authority_id: r.text("authority_id")?,
        issued_ms: r.int("issued_ms")?,
        not_after_ms: r.int("not_after_ms")?,
        revoked_ms: r.opt_int("revoked_ms")?,
    })
}

/// A federated trust domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkloadFederationRow {
    /// `example-federated.org`.
    pub trust_domain: String,
    /// Where its bundle is fetched from (`https_web`); `None`: static.
    pub bundle_url: Option<String>,
    /// Its SPIFFE bundle, JSON, once known.
    pub bundle_json: Option<String>,
    /// Its `spiffe_sequence`, when given.
    pub sequence: Option<i64>,
    /// Last fetched (or set), ms.
    pub fetched_ms: Option<i64>,
    /// Added, ms.
    pub created_ms: i64,
}

fn federation_from_row(r: &dyn Fields) -> Result<WorkloadFederationRow, StoreError> {
    Ok(WorkloadFederationRow {
        trust_domain: r.text("trust_domain")?,
        bundle_url: r.opt_text("bundle_url")?,
        bundle_json: r.opt_text("bundle_json")?,
        sequence: r.opt_int("sequence")?,
        fetched_ms: r.opt_int("fetched_ms")?,
        created_ms: r.int("created_ms")?,
    })
}

impl ReadTx {
    /// The authorities of `trust_domain` in `states`, oldest first.
    pub async fn workload_authorities(
        &mut self,
        trust_domain: &str,
    ) -> Result<Vec<WorkloadAuthorityRow>, StoreError> {
        if !storable(trust_domain) {
            return Ok(Vec::new());
        }
        self.db()?
            .query_all(
                "SELECT * FROM workload_authorities WHERE trust_domain = $1
                 ORDER BY sequence, id",
                params![trust_domain],
                authority_from_row,
            )
            .await
    }

    /// The authority `id`.
    pub async fn workload_authority(
        &mut self,
        id: &str,
    ) -> Result<Option<WorkloadAuthorityRow>, StoreError> {
        if !storable(id) {
            return Ok(None);
        }
        self.db()?
            .query_opt(
                "SELECT * FROM workload_authorities WHERE id = $1",
                params![id],
                authority_from_row,
            )
            .await
    }

    /// The bundle sequence of `trust_domain` (0 before any authority).
    pub async fn workload_bundle_sequence(
        &mut self,
        trust_domain: &str,
    ) -> Result<i64, StoreError> {
        Ok(self
            .db()?
            .query_opt(
                "SELECT sequence FROM workload_bundles WHERE trust_domain = $1",
                params![trust_domain],
                |r| r.int("sequence"),
            )
            .await?
            .unwrap_or(0))
    }

    /// The SVIDs `authority_id` signed that are revoked and not expired at
    /// `now_ms`: what its CRL lists.
    pub async fn workload_revoked_svids(
        &mut self,
        authority_id: &str,
        now_ms: i64,
    ) -> Result<Vec<WorkloadSvidRow>, StoreError> {
        self.db()?
            .query_all(
                "SELECT * FROM workload_svids
                 WHERE authority_id = $1 AND revoked_ms IS NOT NULL AND not_after_ms > $2
                 ORDER BY serial",
                params![authority_id, now_ms],
                svid_from_row,
            )
            .await
    }

    /// The SVIDs issued for `entry_id` to `node` still valid at `now_ms`,
    /// newest first (the re-issuance limit looks at them).
    pub async fn workload_live_svids(
        &mut self,
        entry_id: &str,
        node: &str,
        now_ms: i64,
    ) -> Result<Vec<WorkloadSvidRow>, StoreError> {
        self.db()?
            .query_all(
                "SELECT * FROM workload_svids
                 WHERE entry_id = $1 AND node = $2 AND not_after_ms > $3
                 ORDER BY issued_ms DESC",
                params![entry_id, node, now_ms],
                svid_from_row,
            )
            .await
    }

    /// The latest notAfter of any SVID `authority_id` signed.
    pub async fn workload_last_svid_expiry(
        &mut self,
        authority_id: &str,
    ) -> Result<Option<i64>, StoreError> {
        Ok(self
            .db()?
            .query_opt(
                "SELECT MAX(not_after_ms) AS last_ms FROM workload_svids WHERE authority_id = $1",
                params![authority_id],
                |r| r.opt_int("last_ms"),
            )
            .await?
            .flatten())
    }

    /// Every federated trust domain, by name.
    pub async fn workload_federations(&mut self) -> Result<Vec<WorkloadFederationRow>, StoreError> {
        self.db()?
            .query_all(
                "SELECT * FROM workload_federations ORDER BY trust_domain",
                params![],
                federation_from_row,
            )
            .await
    }

    /// The federated trust domain `trust_domain`.
    pub async fn workload_federation(
        &mut self,
        trust_domain: &str,
    ) -> Result<Option<WorkloadFederationRow>, StoreError> {
        if !storable(trust_domain) {
            return Ok(None);
        }
        self.db()?
            .query_opt(
                "SELECT * FROM workload_federations WHERE trust_domain = $1",
                params![trust_domain],
                federation_from_row,
            )
            .await
    }
}

impl WriteTx {
    /// Stores a new authority; [`StoreError::Conflict`] when its state's
    /// slot is taken (one prepared and one active per trust domain): another
    /// node got there first.
    pub async fn insert_workload_authority(
        &mut self,
        a: &WorkloadAuthorityRow,
    ) -> Result<(), StoreError> {
        let done = self
            .write()
            .await?
            .execute(
                "INSERT INTO workload_authorities (id, trust_domain, state, cert_der, upstream,
                 key_sealed, not_before_ms, not_after_ms, sequence, created_ms, activated_ms,
                 retired_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                 ON CONFLICT DO NOTHING",
                params![
                    &a.id,
                    &a.trust_domain,
                    &a.state,
                    &a.cert_der,
                    &a.upstream,
                    &a.key_sealed,
                    a.not_before_ms,
                    a.not_after_ms,
                    a.sequence,
                    a.created_ms,
                    a.activated_ms,
                    a.retired_ms
                ],
            )
            .await?;
        inserted(done)
    }

    /// Moves authority `id` from state `from` to `to` (stamping
    /// `activated_ms` or `retired_ms`); false when it was not in `from`.
    pub async fn move_workload_authority(
        &mut self,
        id: &str,
        from: &str,
        to: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let done = self
            .write()
            .await?
            .execute(
                "UPDATE workload_authorities SET state = $3,
                 activated_ms = CASE WHEN $3 = 'active' THEN $4 ELSE activated_ms END,
                 retired_ms = CASE WHEN $3 = 'retired' THEN $4 ELSE retired_ms END
                 WHERE id = $1 AND state = $2",
                params![id, from, to, now_ms],
            )
            .await?;
        Ok(done == 1)
    }

    /// Bumps the bundle sequence of `trust_domain`; the new value.
    pub async fn bump_workload_bundle(
        &mut self,
        trust_domain: &str,
        now_ms: i64,
    ) -> Result<i64, StoreError> {
        Ok(self
            .write()
            .await?
            .query_opt(
                "INSERT INTO workload_bundles (trust_domain, sequence, updated_ms)
                 VALUES ($1, 1, $2)
                 ON CONFLICT (trust_domain) DO UPDATE
                 SET sequence = workload_bundles.sequence + 1, updated_ms = $2
                 RETURNING sequence",
                params![trust_domain, now_ms],
                |r| r.int("sequence"),
            )
            .await?
            .unwrap_or(1))
    }

    /// Records an issued SVID.
    pub async fn insert_workload_svid(&mut self, s: &WorkloadSvidRow) -> Result<(), StoreError> {
        let done = self
            .write()
            .await?
            .execute(
                "INSERT INTO workload_svids (serial, entry_id, node, authority_id, issued_ms,
                 not_after_ms, revoked_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT DO NOTHING",
                params![
                    &s.serial,
                    &s.entry_id,
                    &s.node,
                    &s.authority_id,
                    s.issued_ms,
                    s.not_after_ms,
                    s.revoked_ms
                ],
            )
            .await?;
        inserted(done)
    }

    /// Revokes the unexpired SVIDs of `entry_id`; how many.
    pub async fn revoke_workload_svids_of_entry(
        &mut self,
        entry_id: &str,
        now_ms: i64,
    ) -> Result<u64, StoreError> {
        self.write()
            .await?
            .execute(
                "UPDATE workload_svids SET revoked_ms = $2
                 WHERE entry_id = $1 AND revoked_ms IS NULL AND not_after_ms > $2",
                params![entry_id, now_ms],
            )
            .await
    }

    /// Revokes the unexpired SVIDs issued to `node`; how many.
    pub async fn revoke_workload_svids_of_node(
        &mut self,
        node: &str,
        now_ms: i64,
    ) -> Result<u64, StoreError> {
        self.write()
            .await?
            .execute(
                "UPDATE workload_svids SET revoked_ms = $2
                 WHERE node = $1 AND revoked_ms IS NULL AND not_after_ms > $2",
                params![node, now_ms],
            )
            .await
    }

    /// Deletes SVID records that expired before `now_ms` (a CRL no longer
    /// needs them); how many.
    pub async fn purge_workload_svids(&mut self, now_ms: i64) -> Result<u64, StoreError> {
        self.write()
            .await?
            .execute(
                "DELETE FROM workload_svids WHERE not_after_ms <= $1",
                params![now_ms],
            )
            .await
    }

    /// Adds a federated trust domain; [`StoreError::Conflict`] when known.
    pub async fn insert_workload_federation(
        &mut self,
        f: &WorkloadFederationRow,
    ) -> Result<(), StoreError> {
        let done = self
            .write()
            .await?
            .execute(
                "INSERT INTO workload_federations (trust_domain, bundle_url, bundle_json,
                 sequence, fetched_ms, created_ms)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT DO NOTHING",
                params![
                    &f.trust_domain,
                    &f.bundle_url,
                    &f.bundle_json,
                    f.sequence,
                    f.fetched_ms,
                    f.created_ms
                ],
            )
            .await?;
        inserted(done)
    }

    /// Stores a freshly fetched bundle of `trust_domain`; false when the
    /// domain is gone.
    pub async fn set_workload_federation_bundle(
        &mut self,
        trust_domain: &str,
        bundle_json: &str,
        sequence: Option<i64>,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let done = self
            .write()
            .await?
            .execute(
                "UPDATE workload_federations SET bundle_json = $2, sequence = $3, fetched_ms = $4
                 WHERE trust_domain = $1",
                params![trust_domain, bundle_json, sequence, now_ms],
            )
            .await?;
        Ok(done == 1)
    }

    /// Removes a federated trust domain; false when unknown.
    pub async fn delete_workload_federation(
        &mut self,
        trust_domain: &str,
    ) -> Result<bool, StoreError> {
        let done = self
            .write()
            .await?
            .execute(
                "DELETE FROM workload_federations WHERE trust_domain = $1",
                params![trust_domain],
            )
            .await?;
        Ok(done == 1)
    }
}
