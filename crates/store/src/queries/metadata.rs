//! FIDO metadata BLOBs: each accepted one is kept by its serial number,
//! so every node judges authenticators by the same, newest BLOB.

use super::inserted;
use crate::conn::params;
use crate::{ReadTx, StoreError, WriteTx};

impl ReadTx {
    /// The serial of the current metadata BLOB (cheap: callers cache the
    /// parsed BLOB and only need to know whether it changed).
    pub async fn latest_metadata_no(&mut self) -> Result<Option<u64>, StoreError> {
        let no = self
            .db()?
            .query_opt("SELECT MAX(no) AS no FROM metadata_blobs", params![], |r| {
                r.opt_int("no")
            })
            .await?
            .flatten();
        no.map(|n| u64::try_from(n).map_err(|_| StoreError::Corrupt("metadata no".into())))
            .transpose()
    }

    /// The BLOB with serial `no`: (JWT, import time).
    pub async fn metadata_blob(&mut self, no: u64) -> Result<Option<(Vec<u8>, i64)>, StoreError> {
        let no = i64::try_from(no).map_err(|_| StoreError::Corrupt("metadata no".into()))?;
        self.db()?
            .query_opt(
                "SELECT jwt, imported_ms FROM metadata_blobs WHERE no = $1",
                params![no],
                |r| Ok((r.blob("jwt")?, r.int("imported_ms")?)),
            )
            .await
    }
}

impl WriteTx {
    /// Keeps an accepted metadata BLOB.
    pub async fn insert_metadata(
        &mut self,
        no: u64,
        next_update: &str,
        jwt: &[u8],
        imported_ms: i64,
    ) -> Result<(), StoreError> {
        let no = i64::try_from(no).map_err(|_| StoreError::Corrupt("metadata no".into()))?;
        let done = self
            .write()
            .await?
            .execute(
                "INSERT INTO metadata_blobs (no, next_update, jwt, imported_ms)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT DO NOTHING",
                params![no, next_update, jwt, imported_ms],
            )
            .await?;
        inserted(done)
    }
}
