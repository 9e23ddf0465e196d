//! Device posture (issue 16): what is known of a device's state, each fact
//! with its source and the time it was observed, and the device as Cedar
//! sees it (`context.device`).
//!
//! Sources, most authoritative first: `admin` (an administrator said so),
//! `import` (an MDM export, `keybound device import`), `client_hints` (what
//! the browser claimed at the device's last proof). A fact older than
//! [`crate::Config::posture_max_age_ms`] is stale: shown as such, never
//! decided on. Client hints are claims: they never set `trusted`,
//! `key_storage` or the attested model, and never the yes-no facts
//! (`managed`, `compliant`, `disk_encrypted`), which only an MDM or an
//! administrator can vouch for.

pub mod hints;
pub mod import;
mod inventory;
mod own;
mod proof;
mod resolve;
mod view;

pub use hints::ClientHints;
pub use import::{parse_inventory, ImportError, InventoryRecord};
pub use inventory::ImportSummary;
pub use resolve::{device_context, resolve_posture};
pub use view::{DevicePostureView, PostureFact};

use keybound_policy::DeviceContext;
use keybound_store::{ReadTx, StoreError};

/// Source: an administrator set the fact.
pub const SOURCE_ADMIN: &str = "admin";
/// Source: an MDM export imported with `keybound device import`.
pub const SOURCE_IMPORT: &str = "import";
/// Source: User-Agent Client Hints at a device proof.
pub const SOURCE_CLIENT_HINTS: &str = "client_hints";

/// Default for `--device-posture-max-age`: 30 days.
pub const DEFAULT_POSTURE_MAX_AGE_MS: i64 = 30 * 24 * 60 * 60 * 1000;

/// The device a session opened with `credential_id` was proven on, as
/// Cedar sees it: `None` when the credential binds no device or the device
/// is decommissioned (its sessions are ended anyway). With it, when the
/// first fact it was built from turns stale (`i64::MAX`: never), so a
/// cache can rebuild it then.
pub(crate) async fn session_device(
    tx: &mut ReadTx,
    credential_id: &[u8],
    now_ms: i64,
    max_age_ms: i64,
) -> Result<(Option<DeviceContext>, i64), StoreError> {
    let Some(device) = tx.device_by_credential(credential_id).await? else {
        return Ok((None, i64::MAX));
    };
    if !resolve::decides(&device) {
        return Ok((None, i64::MAX));
    }
    let facts = tx.posture_facts(&device.identity_id).await?;
    Ok((
        device_context(&device, &facts, now_ms, max_age_ms),
        resolve::fresh_until(&facts, now_ms, max_age_ms),
    ))
}
