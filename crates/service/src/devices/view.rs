//! What people see of devices: the owner on `/me`, administrators in the
//! console, the operator in the CLI, and the device behind a session for
//! whoever judges a request (pages, posture, forward-auth).

use keybound_store::DeviceRow;
use keybound_webauthn::b64;

use crate::tokens::hash_token;
use crate::{Actor, Admin, Service, ServiceError};

/// A device as every view shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeviceView {
    /// Its name (`dev-…`), what the CLI and the console name it by.
    pub name: String,
    /// Its owner's name; `None`: the organisation's.
    pub owner: Option<String>,
    /// What its owner calls it.
    pub label: String,
    /// The platform it reported (`Windows`, `macOS`, … or empty).
    pub platform: String,
    /// `platform` (a browser's device) or `node` (a host).
    pub attachment: String,
    /// `trusted`, `untrusted` or `decommissioned`.
    pub status: String,
    /// Why it has that status.
    pub trust_reason: String,
    /// The metadata's description of the authenticator model.
    pub model: String,
    /// The authenticator model, 8-4-4-4-12.
    pub aaguid: String,
    /// The attestation statement format of its credential.
    pub attestation_format: String,
    /// `not_applicable`, `verified` or `unverified:<reason>`.
    pub attestation_trust: String,
    /// `hardware`, `device-bound` or `unknown`.
    pub key_storage: String,
    /// The authenticator's serial from enterprise attestation.
    pub serial: Option<String>,
    /// Enrolment, ms.
    pub created_ms: i64,
    /// The last sign-in with its credential, ms.
    pub last_seen_ms: Option<i64>,
    /// When it was decommissioned, ms.
    pub decommissioned_ms: Option<i64>,
    /// The credential that binds it, base64url.
    pub credential_id: Option<String>,
}

impl DeviceView {
    fn of(row: DeviceRow, owner: Option<String>) -> Self {
        DeviceView {
            name: row.name,
            owner,
            label: row.label,
            platform: row.platform,
            attachment: row.attachment,
            status: row.status,
            trust_reason: row.trust_reason,
            model: row.model,
            aaguid: row.aaguid,
            attestation_format: row.attestation_format,
            attestation_trust: row.attestation_trust,
            key_storage: row.key_storage,
            serial: row.serial,
            created_ms: row.created_ms,
            last_seen_ms: row.last_seen_ms,
            decommissioned_ms: row.decommissioned_ms,
            credential_id: row.credential_id.as_deref().map(b64::encode),
        }
    }

    /// Whether the device is trusted now.
    pub fn is_trusted(&self) -> bool {
        self.status == super::status::TRUSTED
    }
}

impl Service {
    /// The signed-in person's devices, oldest first, decommissioned ones
    /// included (so "I lost this device" leaves a trace they can see).
    /// [`ServiceError::Forbidden`] when the session is not live.
    pub async fn my_devices(&self, session_token: &str) -> Result<Vec<DeviceView>, ServiceError> {
        let mut tx = self.kernel.store.read().await?;
        let (_, identity) = self.signed_in(&mut tx, session_token).await?;
        let rows = tx.devices_of_owner(&identity.id).await?;
        Ok(rows
            .into_iter()
            .map(|r| DeviceView::of(r, Some(identity.name.clone())))
            .collect())
    }

    /// The device a live session was proven on: the device whose
    /// credential opened it, whatever its status (the caller decides what
    /// `untrusted` or `decommissioned` means for the request). `None` when
    /// the session was opened with a credential that binds no device;
    /// [`ServiceError::Forbidden`] when the session is not live.
    pub async fn device_of_session(
        &self,
        session_token: &str,
    ) -> Result<Option<DeviceView>, ServiceError> {
        let mut tx = self.kernel.store.read().await?;
        let session = tx
            .live_session(&hash_token(session_token), self.now_ms())
            .await?
            .ok_or(ServiceError::Forbidden)?;
        self.device_of_credential(&mut tx, &session.credential_id)
            .await
    }

    /// The device `credential_id` binds, as a view (for callers that hold
    /// a session row already, such as forward-auth).
    pub(crate) async fn device_of_credential(
        &self,
        tx: &mut keybound_store::ReadTx,
        credential_id: &[u8],
    ) -> Result<Option<DeviceView>, ServiceError> {
        let Some(row) = tx.device_by_credential(credential_id).await? else {
            return Ok(None);
        };
        let owner = match &row.owner_id {
            Some(id) => tx.identity_by_id(id).await?.map(|i| i.name),
            None => None,
        };
        Ok(Some(DeviceView::of(row, owner)))
    }

    /// Every device, for the console.
    pub async fn console_devices(&self, admin: &Admin) -> Result<Vec<DeviceView>, ServiceError> {
        self.devices(Actor::Admin(admin)).await
    }

    /// Every device, oldest first (`keybound device list`, the console).
    pub async fn devices(&self, viewer: Actor<'_>) -> Result<Vec<DeviceView>, ServiceError> {
        let mut tx = self.kernel.store.read().await?;
        if let Actor::Admin(admin) = viewer {
            self.still_admin(&mut tx, admin.identity()).await?;
        }
        let rows = tx.all_devices().await?;
        let mut owners = std::collections::HashMap::new();
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let owner = match &row.owner_id {
                Some(id) => {
                    if !owners.contains_key(id) {
                        let name = tx.identity_by_id(id).await?.map(|i| i.name);
                        owners.insert(id.clone(), name);
                    }
                    owners.get(id).cloned().flatten()
                }
                None => None,
            };
            out.push(DeviceView::of(row, owner));
        }
        Ok(out)
    }

    /// One device by name (`keybound device show NAME`); none:
    /// [`ServiceError::NotFound`].
    pub async fn device(&self, viewer: Actor<'_>, name: &str) -> Result<DeviceView, ServiceError> {
        let mut tx = self.kernel.store.read().await?;
        let row = self.device_for(&mut tx, viewer, name).await?;
        let owner = match &row.owner_id {
            Some(id) => tx.identity_by_id(id).await?.map(|i| i.name),
            None => None,
        };
        Ok(DeviceView::of(row, owner))
    }
}
