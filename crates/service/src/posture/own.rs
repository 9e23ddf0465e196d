//! The posture of a person's own devices, for `/me`: found through their
//! session, so the page needs no authority beyond being signed in.

use super::view::{view, DevicePostureView};
use crate::{Service, ServiceError};

impl Service {
    /// The posture of each of the signed-in person's devices that is not
    /// decommissioned: their own devices only. [`ServiceError::Forbidden`]
    /// when the session is not live.
    pub async fn my_device_postures(
        &self,
        session_token: &str,
    ) -> Result<Vec<DevicePostureView>, ServiceError> {
        let now = self.now_ms();
        let mut tx = self.kernel.store.read().await?;
        let (_, identity) = self.signed_in(&mut tx, session_token).await?;
        let mut out = Vec::new();
        for device in tx.devices_of_owner(&identity.id).await? {
            if device.status == crate::devices::status::DECOMMISSIONED {
                continue;
            }
            let facts = tx.posture_facts(&device.identity_id).await?;
            out.push(view(
                &device.name,
                &facts,
                now,
                self.config.posture_max_age_ms,
            ));
        }
        Ok(out)
    }
}
