//! From stored facts to the posture a decision uses: fresh facts only, the
//! most authoritative source first. Pure: the clock and the age limit come
//! in as arguments.

use keybound_policy::{version_numbers, DeviceContext, Posture};
use keybound_store::{DeviceRow, PostureFactRow};

use super::{SOURCE_ADMIN, SOURCE_CLIENT_HINTS, SOURCE_IMPORT};

/// Whether a device with this row takes part in decisions: trusted or
/// untrusted; a decommissioned device never does.
pub(crate) fn decides(device: &DeviceRow) -> bool {
    device.status == "trusted" || device.status == "untrusted"
}

/// Whether `fact` is older than `max_age_ms` at `now_ms`.
pub(crate) fn is_stale(fact: &PostureFactRow, now_ms: i64, max_age_ms: i64) -> bool {
    now_ms.saturating_sub(fact.observed_ms) > max_age_ms
}

/// When the first of `facts` still fresh at `now_ms` turns stale
/// (`i64::MAX` when none will): a cached decision input built from them
/// must be rebuilt by then.
pub(crate) fn fresh_until(facts: &[PostureFactRow], now_ms: i64, max_age_ms: i64) -> i64 {
    facts
        .iter()
        .filter(|f| !is_stale(f, now_ms, max_age_ms))
        .map(|f| f.observed_ms.saturating_add(max_age_ms).saturating_add(1))
        .min()
        .unwrap_or(i64::MAX)
}

/// The freshest-source value of `fact` among `sources` (in order of
/// authority), ignoring stale ones.
fn pick<'a>(
    facts: &'a [PostureFactRow],
    fact: &str,
    sources: &[&str],
    now_ms: i64,
    max_age_ms: i64,
) -> Option<&'a PostureFactRow> {
    sources.iter().find_map(|source| {
        facts
            .iter()
            .find(|f| f.fact == fact && f.source == *source && !is_stale(f, now_ms, max_age_ms))
    })
}

/// The posture `facts` give at `now_ms`.
pub fn resolve_posture(facts: &[PostureFactRow], now_ms: i64, max_age_ms: i64) -> Posture {
    let vouched = [SOURCE_ADMIN, SOURCE_IMPORT];
    let yes = |fact: &str| {
        pick(facts, fact, &vouched, now_ms, max_age_ms).is_some_and(|f| f.value == "true")
    };
    let hinted = |fact: &str| {
        pick(facts, fact, &[SOURCE_CLIENT_HINTS], now_ms, max_age_ms)
            .map(|f| f.value.clone())
            .unwrap_or_default()
    };
    // The OS version: an administrator's, an MDM's, else what the browser
    // reported as its platform version.
    let os = pick(facts, "os_version", &vouched, now_ms, max_age_ms)
        .map(|f| (f.value.clone(), f.source.clone()))
        .or_else(|| {
            pick(
                facts,
                "platform_version",
                &[SOURCE_CLIENT_HINTS],
                now_ms,
                max_age_ms,
            )
            .map(|f| (f.value.clone(), f.source.clone()))
        })
        .unwrap_or_default();
    let (os_major, os_minor) = version_numbers(&os.0);
    let browser_version = hinted("browser_version");
    Posture {
        managed: yes("managed"),
        compliant: yes("compliant"),
        disk_encrypted: yes("disk_encrypted"),
        os_version: os.0,
        os_major,
        os_minor,
        os_source: os.1,
        platform_version: hinted("platform_version"),
        browser: hinted("browser"),
        browser_major: version_numbers(&browser_version).0,
        browser_version,
    }
}

/// The device as Cedar sees it, or `None` when it takes no part in
/// decisions (decommissioned). Trust, key storage and the attested model
/// come from the registry row alone; the platform is the enrolled one,
/// else the fresh one the browser reported.
pub fn device_context(
    device: &DeviceRow,
    facts: &[PostureFactRow],
    now_ms: i64,
    max_age_ms: i64,
) -> Option<DeviceContext> {
    if !decides(device) {
        return None;
    }
    let platform = if device.platform.is_empty() {
        pick(
            facts,
            "platform",
            &[SOURCE_CLIENT_HINTS],
            now_ms,
            max_age_ms,
        )
        .map(|f| f.value.clone())
        .unwrap_or_default()
    } else {
        device.platform.clone()
    };
    let attested = device.attestation_trust == "verified";
    Some(DeviceContext {
        id: device.name.clone(),
        trusted: device.status == "trusted",
        kind: device.attachment.clone(),
        platform,
        key_storage: device.key_storage.clone(),
        attested_model: if attested {
            device.model.clone()
        } else {
            String::new()
        },
        posture: resolve_posture(facts, now_ms, max_age_ms),
    })
}
