//! Devices (issue 16): the registry row beside a device's identity. The
//! identity (kind `device`) carries the name, status and audit trail; this
//! row carries what only a device has: its owner, the credential that binds
//! it, how that key was proven, and whether the organisation trusts it.
//! Every read joins the identity for the device's name.

use super::storable;
use crate::conn::{params, Fields};
use crate::{ReadTx, StoreError, WriteTx};

/// A stored device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRow {
    /// The device identity's id.
    pub identity_id: String,
    /// The device identity's name (`dev-…`), what people and the CLI name
    /// it by. Read from the identity; ignored on insert (the identity is
    /// inserted first, with its name).
    pub name: String,
    /// The person it belongs to; `None`: the organisation's.
    pub owner_id: Option<String>,
    /// What its owner calls it.
    pub label: String,
    /// The platform it reported when enrolled (`Windows`, `macOS`, …).
    pub platform: String,
    /// `platform` (a browser's device) or `node` (a host).
    pub attachment: String,
    /// The credential that binds it, a credential of the owner.
    pub credential_id: Option<Vec<u8>>,
    /// The authenticator model, canonical 8-4-4-4-12 form.
    pub aaguid: String,
    /// The metadata's description of the model, when attested.
    pub model: String,
    /// The attestation statement format of the binding credential.
    pub attestation_format: String,
    /// `not_applicable`, `verified`, `unverified:<reason>`.
    pub attestation_trust: String,
    /// `hardware`, `device-bound` or `unknown`.
    pub key_storage: String,
    /// The authenticator's serial from enterprise attestation.
    pub serial: Option<String>,
    /// `trusted`, `untrusted` or `decommissioned`.
    pub status: String,
    /// Why it has that status, for people.
    pub trust_reason: String,
    /// Enrolment time, ms.
    pub created_ms: i64,
    /// The last proof of the device (a sign-in with its credential), ms.
    pub last_seen_ms: Option<i64>,
    /// When it was decommissioned, ms.
    pub decommissioned_ms: Option<i64>,
}

pub(super) fn device_from_row(r: &dyn Fields) -> Result<DeviceRow, StoreError> {
    Ok(DeviceRow {
        identity_id: r.text("identity_id")?,
        name: r.text("name")?,
        owner_id: r.opt_text("owner_id")?,
        label: r.text("label")?,
        platform: r.text("platform")?,
        attachment: r.text("attachment")?,
        credential_id: r.opt_blob("credential_id")?,
        aaguid: r.text("aaguid")?,
        model: r.text("model")?,
        attestation_format: r.text("attestation_format")?,
        attestation_trust: r.text("attestation_trust")?,
        key_storage: r.text("key_storage")?,
        serial: r.opt_text("serial")?,
        status: r.text("status")?,
        trust_reason: r.text("trust_reason")?,
        created_ms: r.int("created_ms")?,
        last_seen_ms: r.opt_int("last_seen_ms")?,
        decommissioned_ms: r.opt_int("decommissioned_ms")?,
    })
}

/// The columns every read selects: the row and its identity's name.
const SELECT: &str = "SELECT d.*, i.name AS name FROM devices d
     JOIN identities i ON i.id = d.identity_id";

impl ReadTx {
    /// The device with this identity id.
    pub async fn device(&mut self, identity_id: &str) -> Result<Option<DeviceRow>, StoreError> {
        if !storable(identity_id) {
            return Ok(None);
        }
        self.db()?
            .query_opt(
                &format!("{SELECT} WHERE d.identity_id = $1"),
                params![identity_id],
                device_from_row,
            )
            .await
    }

    /// The device named `name` (its identity's exact name: device names
    /// are minted, never typed in another spelling).
    pub async fn device_by_name(&mut self, name: &str) -> Result<Option<DeviceRow>, StoreError> {
        if !storable(name) {
            return Ok(None);
        }
        self.db()?
            .query_opt(
                &format!("{SELECT} WHERE i.name = $1"),
                params![name],
                device_from_row,
            )
            .await
    }

    /// The device bound by `credential_id`, whatever its status: a
    /// session opened with that credential was proven on it.
    pub async fn device_by_credential(
        &mut self,
        credential_id: &[u8],
    ) -> Result<Option<DeviceRow>, StoreError> {
        self.db()?
            .query_opt(
                &format!("{SELECT} WHERE d.credential_id = $1"),
                params![credential_id],
                device_from_row,
            )
            .await
    }

    /// The devices of `owner_id`, oldest first, decommissioned ones too.
    pub async fn devices_of_owner(&mut self, owner_id: &str) -> Result<Vec<DeviceRow>, StoreError> {
        if !storable(owner_id) {
            return Ok(Vec::new());
        }
        self.db()?
            .query_all(
                &format!("{SELECT} WHERE d.owner_id = $1 ORDER BY d.created_ms, i.name"),
                params![owner_id],
                device_from_row,
            )
            .await
    }

    /// Every device, oldest first.
    pub async fn all_devices(&mut self) -> Result<Vec<DeviceRow>, StoreError> {
        self.db()?
            .query_all(
                &format!("{SELECT} ORDER BY d.created_ms, i.name"),
                params![],
                device_from_row,
            )
            .await
    }
}

impl WriteTx {
    /// Stores a device's row; its identity (kind `device`) must be stored
    /// first. [`StoreError::Conflict`] when the identity already has a
    /// device row or the credential already binds a device.
    pub async fn insert_device(&mut self, d: &DeviceRow) -> Result<(), StoreError> {
        let done = self
            .write()
            .await?
            .execute(
                "INSERT INTO devices (identity_id, owner_id, label, platform, attachment,
                 credential_id, aaguid, model, attestation_format, attestation_trust,
                 key_storage, serial, status, trust_reason, created_ms, last_seen_ms,
                 decommissioned_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15,
                 $16, $17)
                 ON CONFLICT DO NOTHING",
                params![
                    &d.identity_id,
                    &d.owner_id,
                    &d.label,
                    &d.platform,
                    &d.attachment,
                    &d.credential_id,
                    &d.aaguid,
                    &d.model,
                    &d.attestation_format,
                    &d.attestation_trust,
                    &d.key_storage,
                    &d.serial,
                    &d.status,
                    &d.trust_reason,
                    d.created_ms,
                    d.last_seen_ms,
                    d.decommissioned_ms
                ],
            )
            .await?;
        super::inserted(done)
    }

    /// Sets a device's status and the reason, when it is not decommissioned
    /// (a decommissioned device never comes back): false otherwise.
    /// Decommissioning also stamps `decommissioned_ms`.
    pub async fn set_device_status(
        &mut self,
        identity_id: &str,
        status: &str,
        reason: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let decommissioned = (status == "decommissioned").then_some(now_ms);
        let done = self
            .write()
            .await?
            .execute(
                "UPDATE devices SET status = $2, trust_reason = $3,
                 decommissioned_ms = $4
                 WHERE identity_id = $1 AND status <> 'decommissioned'",
                params![identity_id, status, reason, decommissioned],
            )
            .await?;
        Ok(done == 1)
    }

    /// Renames a device; false when there is none.
    pub async fn rename_device(
        &mut self,
        identity_id: &str,
        label: &str,
    ) -> Result<bool, StoreError> {
        let done = self
            .write()
            .await?
            .execute(
                "UPDATE devices SET label = $2 WHERE identity_id = $1",
                params![identity_id, label],
            )
            .await?;
        Ok(done == 1)
    }

    /// Records a proof of the device (a sign-in with its credential) and
    /// the platform it reported then, when it reported one.
    pub async fn touch_device(
        &mut self,
        identity_id: &str,
        platform: Option<&str>,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let done = self
            .write()
            .await?
            .execute(
                "UPDATE devices SET last_seen_ms = $2, platform = COALESCE($3, platform)
                 WHERE identity_id = $1",
                params![identity_id, now_ms, platform],
            )
            .await?;
        Ok(done == 1)
    }
}
