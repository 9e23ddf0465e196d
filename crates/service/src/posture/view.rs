//! A device's posture for people: every fact with its source, age and
//! whether it is stale, beside the posture a decision would use. What
//! `keybound device show` and the pages print.

use keybound_policy::Posture;
use keybound_store::PostureFactRow;

use super::resolve::{is_stale, resolve_posture};
use crate::{Actor, Service, ServiceError};

/// One stored fact as people see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostureFact {
    /// `managed`, `compliant`, `disk_encrypted`, `owner`, `os_version`,
    /// `platform`, `platform_version`, `browser`, `browser_version`.
    pub fact: String,
    /// `admin`, `import` or `client_hints`.
    pub source: String,
    /// The value as recorded.
    pub value: String,
    /// When it was observed, ms.
    pub observed_ms: i64,
    /// How old it is now, ms.
    pub age_ms: i64,
    /// Older than `--device-posture-max-age`: ignored in decisions.
    pub stale: bool,
}

/// A device's posture: the facts and what a decision makes of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevicePostureView {
    /// The device's name.
    pub device: String,
    /// Every fact, by fact then source.
    pub facts: Vec<PostureFact>,
    /// The posture `context.device.posture` holds now (fresh facts only).
    pub effective: Posture,
}

/// The view of `facts` at `now_ms`.
pub(crate) fn view(
    device: &str,
    facts: &[PostureFactRow],
    now_ms: i64,
    max_age_ms: i64,
) -> DevicePostureView {
    DevicePostureView {
        device: device.to_owned(),
        facts: facts
            .iter()
            .map(|f| PostureFact {
                fact: f.fact.clone(),
                source: f.source.clone(),
                value: f.value.clone(),
                observed_ms: f.observed_ms,
                age_ms: now_ms.saturating_sub(f.observed_ms).max(0),
                stale: is_stale(f, now_ms, max_age_ms),
            })
            .collect(),
        effective: resolve_posture(facts, now_ms, max_age_ms),
    }
}

impl Service {
    /// The posture of the device named `name`, read-only: for `keybound
    /// device show` and the console. Unknown device:
    /// [`ServiceError::NotFound`].
    pub async fn device_posture(
        &self,
        _viewer: Actor<'_>,
        name: &str,
    ) -> Result<DevicePostureView, ServiceError> {
        let now = self.now_ms();
        let mut tx = self.kernel.store.read().await?;
        let device = tx
            .device_by_name(name)
            .await?
            .ok_or(ServiceError::NotFound)?;
        let facts = tx.posture_facts(&device.identity_id).await?;
        Ok(view(
            &device.name,
            &facts,
            now,
            self.config.posture_max_age_ms,
        ))
    }

    /// The posture of a device the caller already holds the row of (a
    /// person's own devices on `/me`): no authority beyond that.
    pub async fn posture_of(
        &self,
        device: &keybound_store::DeviceRow,
    ) -> Result<DevicePostureView, ServiceError> {
        let now = self.now_ms();
        let mut tx = self.kernel.store.read().await?;
        let facts = tx.posture_facts(&device.identity_id).await?;
        Ok(view(
            &device.name,
            &facts,
            now,
            self.config.posture_max_age_ms,
        ))
    }

    /// The device named `name` as a policy would see it now, for `keybound
    /// policy check --device`. Unknown or decommissioned device:
    /// [`ServiceError::NotFound`].
    pub async fn access_device(
        &self,
        _viewer: Actor<'_>,
        name: &str,
    ) -> Result<keybound_policy::DeviceContext, ServiceError> {
        let now = self.now_ms();
        let mut tx = self.kernel.store.read().await?;
        let device = tx
            .device_by_name(name)
            .await?
            .ok_or(ServiceError::NotFound)?;
        let facts = tx.posture_facts(&device.identity_id).await?;
        super::device_context(&device, &facts, now, self.config.posture_max_age_ms)
            .ok_or(ServiceError::NotFound)
    }
}
