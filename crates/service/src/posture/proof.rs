//! Client hints at a device proof: a sign-in with a device's credential
//! records what the browser claimed (platform, platform version, browser),
//! in the sign-in's transaction. Claims only: attestation wins. A platform
//! hint that contradicts the attested platform is recorded as
//! `device.hint_conflict` and none of that proof's hints are used (a
//! browser lying about its platform says nothing true about its version).

use std::collections::BTreeMap;

use keybound_audit::{Outcome, Severity};
use keybound_store::{DeviceRow, PostureFactRow, StoreError, WriteTx};

use super::resolve::{decides, is_stale};
use super::{ClientHints, SOURCE_CLIENT_HINTS};
use crate::record::Record;
use crate::{ClientContext, EventKind, Service};

/// The facts `hints` claim, by name.
fn claimed(hints: &ClientHints) -> Vec<(&'static str, String)> {
    let mut facts = Vec::new();
    if let Some(p) = &hints.platform {
        facts.push(("platform", p.clone()));
    }
    if let Some(v) = &hints.platform_version {
        facts.push(("platform_version", v.clone()));
    }
    if let Some((brand, version)) = &hints.browser {
        facts.push(("browser", brand.clone()));
        facts.push(("browser_version", version.clone()));
    }
    facts
}

/// The device's platform when its attestation proved it (a verified
/// format that exists on one platform only), so a hint may not contradict
/// it. A platform read from the User-Agent at enrolment is a claim like
/// any hint, even on an attested device: a verified `packed` statement
/// says nothing about the operating system.
fn attested_platform(device: &DeviceRow) -> Option<&'static str> {
    if device.attestation_trust != "verified" {
        return None;
    }
    crate::devices::platform_of_format(&device.attestation_format)
}

impl Service {
    /// Records the client hints of a sign-in with `credential_id`, when
    /// that credential binds a trusted or untrusted device: changed or
    /// refreshed-from-stale facts are stored with `device.posture`; a
    /// platform contradicting the attested one is `device.hint_conflict`
    /// and nothing is stored. Nothing happens for other credentials or
    /// without hints. Runs in the sign-in's transaction.
    pub(crate) async fn record_device_proof(
        &self,
        tx: &mut WriteTx,
        credential_id: &[u8],
        ctx: &ClientContext,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        if ctx.hints.is_empty() {
            return Ok(());
        }
        let Some(device) = tx.device_by_credential(credential_id).await? else {
            return Ok(());
        };
        if !decides(&device) {
            return Ok(());
        }
        let mut event = self.event(EventKind::DevicePosture, ctx);
        event.subject = Some(device.name.clone());
        event.subject_kind = Some("device".to_owned());
        if let (Some(attested), Some(hinted)) = (attested_platform(&device), &ctx.hints.platform) {
            if !attested.eq_ignore_ascii_case(hinted) {
                event.kind = EventKind::DeviceHintConflict.as_str().to_owned();
                event.outcome = Some(Outcome::Failure);
                event.severity = Some(Severity::Warning);
                event.reason = Some("client hints contradict the attested platform".into());
                event
                    .details
                    .insert("attested_platform".into(), attested.to_owned());
                event
                    .details
                    .insert("hinted_platform".into(), hinted.clone());
                tx.record(event).await?;
                return Ok(());
            }
        }
        let max_age = self.config.posture_max_age_ms;
        let stored = tx.posture_facts(&device.identity_id).await?;
        let mut changed = BTreeMap::new();
        for (fact, value) in claimed(&ctx.hints) {
            let before = stored
                .iter()
                .find(|f| f.fact == fact && f.source == SOURCE_CLIENT_HINTS);
            let same = before.is_some_and(|f| f.value == value && !is_stale(f, now_ms, max_age));
            tx.put_posture_fact(&PostureFactRow {
                device_id: device.identity_id.clone(),
                fact: fact.to_owned(),
                source: SOURCE_CLIENT_HINTS.to_owned(),
                value: value.clone(),
                observed_ms: now_ms,
            })
            .await?;
            if !same {
                changed.insert(fact.to_owned(), value);
            }
        }
        if changed.is_empty() {
            return Ok(());
        }
        event.outcome = Some(Outcome::Success);
        event.reason = Some(format!("{SOURCE_CLIENT_HINTS}: {} facts", changed.len()));
        event
            .details
            .insert("source".into(), SOURCE_CLIENT_HINTS.into());
        event.details.extend(changed);
        tx.record(event).await?;
        Ok(())
    }
}
