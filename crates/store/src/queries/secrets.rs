//! Secrets the nodes share (the key decoy answers derive from): made once, by
//! whichever node asks first, and the same for every node after.

use crate::conn::params;
use crate::{StoreError, WriteTx};

impl WriteTx {
    /// The secret called `name`, stored from `fresh` if it does not exist.
    pub(crate) async fn secret(&mut self, name: &str, fresh: &[u8]) -> Result<Vec<u8>, StoreError> {
        self.write()
            .await?
            .execute(
                "INSERT INTO secrets (name, value) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                params![name, fresh],
            )
            .await?;
        self.db()?
            .query_opt(
                "SELECT value FROM secrets WHERE name = $1",
                params![name],
                |r| r.blob("value"),
            )
            .await?
            .ok_or_else(|| StoreError::Corrupt("secret vanished".into()))
    }
}
