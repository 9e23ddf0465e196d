//! Device posture (issue 16): facts about a device, each with its source
//! and the time it was observed, and inventory records waiting for the
//! device they name. The service decides which facts are fresh; this layer
//! only keeps them.

use super::storable;
use crate::conn::{params, Fields};
use crate::{ReadTx, StoreError, WriteTx};

/// One fact about a device, from one source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostureFactRow {
    /// The device identity's id.
    pub device_id: String,
    /// `managed`, `compliant`, `disk_encrypted`, `owner`, `os_version`,
    /// `platform`, `platform_version`, `browser`, `browser_version`.
    pub fact: String,
    /// `client_hints`, `import` or `admin`.
    pub source: String,
    /// The value as text (`true`/`false` for yes-no facts).
    pub value: String,
    /// When it was observed, ms.
    pub observed_ms: i64,
}

/// One fact of an inventory record not yet matched to a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryFactRow {
    /// The identifier the record names (an authenticator serial).
    pub identifier: String,
    /// As [`PostureFactRow::fact`].
    pub fact: String,
    /// The value as text.
    pub value: String,
    /// When it was imported, ms.
    pub observed_ms: i64,
}

fn fact_from_row(r: &dyn Fields) -> Result<PostureFactRow, StoreError> {
    Ok(PostureFactRow {
        device_id: r.text("device_id")?,
        fact: r.text("fact")?,
        source: r.text("source")?,
        value: r.text("value")?,
        observed_ms: r.int("observed_ms")?,
    })
}

fn inventory_from_row(r: &dyn Fields) -> Result<InventoryFactRow, StoreError> {
    Ok(InventoryFactRow {
        identifier: r.text("identifier")?,
        fact: r.text("fact")?,
        value: r.text("value")?,
        observed_ms: r.int("observed_ms")?,
    })
}

impl ReadTx {
    /// Every fact about the device `device_id`, by fact then source.
    pub async fn posture_facts(
        &mut self,
        device_id: &str,
    ) -> Result<Vec<PostureFactRow>, StoreError> {
        if !storable(device_id) {
            return Ok(Vec::new());
        }
        self.db()?
            .query_all(
                "SELECT * FROM device_posture WHERE device_id = $1 ORDER BY fact, source",
                params![device_id],
                fact_from_row,
            )
            .await
    }

    /// The devices whose enterprise attestation carried `serial`, oldest
    /// first, whatever their status.
    pub async fn devices_by_serial(
        &mut self,
        serial: &str,
    ) -> Result<Vec<crate::DeviceRow>, StoreError> {
        if !storable(serial) {
            return Ok(Vec::new());
        }
        self.db()?
            .query_all(
                "SELECT d.*, i.name AS name FROM devices d
                 JOIN identities i ON i.id = d.identity_id
                 WHERE d.serial = $1 ORDER BY d.created_ms, i.name",
                params![serial],
                super::devices::device_from_row,
            )
            .await
    }

    /// The waiting inventory record for `identifier` (its facts; empty
    /// when there is none).
    pub async fn inventory_record(
        &mut self,
        identifier: &str,
    ) -> Result<Vec<InventoryFactRow>, StoreError> {
        if !storable(identifier) {
            return Ok(Vec::new());
        }
        self.db()?
            .query_all(
                "SELECT * FROM device_inventory WHERE identifier = $1 ORDER BY fact",
                params![identifier],
                inventory_from_row,
            )
            .await
    }
}

impl WriteTx {
    /// Stores `f`, replacing the same device's fact from the same source.
    pub async fn put_posture_fact(&mut self, f: &PostureFactRow) -> Result<(), StoreError> {
        self.write()
            .await?
            .execute(
                "INSERT INTO device_posture (device_id, fact, source, value, observed_ms)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (device_id, fact, source)
                 DO UPDATE SET value = excluded.value, observed_ms = excluded.observed_ms",
                params![&f.device_id, &f.fact, &f.source, &f.value, f.observed_ms],
            )
            .await?;
        Ok(())
    }

    /// Stores an inventory fact waiting for its device, replacing the
    /// same identifier's same fact.
    pub async fn put_inventory_fact(&mut self, f: &InventoryFactRow) -> Result<(), StoreError> {
        self.write()
            .await?
            .execute(
                "INSERT INTO device_inventory (identifier, fact, value, observed_ms)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (identifier, fact)
                 DO UPDATE SET value = excluded.value, observed_ms = excluded.observed_ms",
                params![&f.identifier, &f.fact, &f.value, f.observed_ms],
            )
            .await?;
        Ok(())
    }

    /// Forgets the inventory record for `identifier` (it found its
    /// device); how many facts it had.
    pub async fn delete_inventory_record(&mut self, identifier: &str) -> Result<u64, StoreError> {
        self.write()
            .await?
            .execute(
                "DELETE FROM device_inventory WHERE identifier = $1",
                params![identifier],
            )
            .await
    }
}
