//! The import use case: inventory records onto devices, in one
//! transaction with one `device.import` event (the counts) and one
//! `device.posture` per device whose facts changed. Records are matched by
//! device name, else by the serial enterprise attestation recorded at
//! enrolment; a record that matches nothing waits in the inventory table
//! until a device with that serial enrols ([`Service::link_inventory`]).

use std::collections::BTreeMap;

use keybound_audit::Outcome;
use keybound_store::{DeviceRow, InventoryFactRow, PostureFactRow, StoreError, WriteTx};

use super::import::InventoryRecord;
use super::resolve::{decides, is_stale};
use super::SOURCE_IMPORT;
use crate::record::Record;
use crate::{Actor, ClientContext, EventKind, Service, ServiceError};

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportSummary {
    /// Records in the file.
    pub records: usize,
    /// Records that named at least one device.
    pub matched: usize,
    /// Records kept for a device that has not enrolled yet.
    pub waiting: usize,
    /// Records that named only decommissioned devices (not applied).
    pub decommissioned: usize,
    /// Devices whose posture changed, by name.
    pub changed: Vec<String>,
}

impl Service {
    /// Applies `records` (from [`super::import::parse_inventory`]) as the
    /// actor: all of them or, if anything fails, none.
    ///
    /// Errors: [`ServiceError::Internal`] when the store fails (nothing is
    /// imported).
    pub async fn import_inventory(
        &self,
        actor: Actor<'_>,
        records: &[InventoryRecord],
    ) -> Result<ImportSummary, ServiceError> {
        let now = self.now_ms();
        let ctx = ClientContext::default();
        let mut summary = ImportSummary {
            records: records.len(),
            ..ImportSummary::default()
        };
        let mut tx = self.kernel.store.begin().await?;
        for record in records {
            let mut devices = Vec::new();
            if let Some(d) = tx.device_by_name(&record.identifier).await? {
                devices.push(d);
            } else {
                devices = tx.devices_by_serial(&record.identifier).await?;
            }
            if devices.is_empty() {
                tx.delete_inventory_record(&record.identifier).await?;
                for (fact, value) in record.facts() {
                    tx.put_inventory_fact(&InventoryFactRow {
                        identifier: record.identifier.clone(),
                        fact: fact.to_owned(),
                        value,
                        observed_ms: now,
                    })
                    .await?;
                }
                summary.waiting += 1;
                continue;
            }
            let live: Vec<&DeviceRow> = devices.iter().filter(|d| decides(d)).collect();
            if live.is_empty() {
                summary.decommissioned += 1;
                continue;
            }
            summary.matched += 1;
            for device in live {
                let facts: Vec<(String, String, i64)> = record
                    .facts()
                    .into_iter()
                    .map(|(f, v)| (f.to_owned(), v, now))
                    .collect();
                if self
                    .apply_import(&mut tx, device, &facts, &ctx, actor.name(), now)
                    .await?
                {
                    summary.changed.push(device.name.clone());
                }
            }
        }
        let mut event = self.event(EventKind::DeviceImport, &ctx);
        event.actor = Some(actor.name().to_owned());
        event.outcome = Some(Outcome::Success);
        event.reason = Some(format!(
            "{} records: {} matched, {} waiting, {} changed devices",
            summary.records,
            summary.matched,
            summary.waiting,
            summary.changed.len()
        ));
        for (key, n) in [
            ("records", summary.records),
            ("matched", summary.matched),
            ("waiting", summary.waiting),
            ("decommissioned", summary.decommissioned),
            ("changed", summary.changed.len()),
        ] {
            event.details.insert(key.into(), n.to_string());
        }
        tx.record(event).await?;
        tx.commit().await?;
        Ok(summary)
    }

    /// Gives the device named `name` the inventory record waiting for its
    /// serial, if any, in a transaction of its own; whether there was one.
    /// Enrolment links in its own transaction (`link_inventory_in`); this
    /// is for a serial recorded some other way.
    ///
    /// Errors: [`ServiceError::NotFound`] for an unknown device.
    pub async fn link_inventory(&self, name: &str) -> Result<bool, ServiceError> {
        let mut tx = self.kernel.store.begin().await?;
        let device = tx
            .device_by_name(name)
            .await?
            .ok_or(ServiceError::NotFound)?;
        let linked = self
            .link_inventory_in(&mut tx, &device, &ClientContext::default())
            .await?;
        tx.commit().await?;
        Ok(linked)
    }

    /// Moves the inventory record waiting for `device`'s serial onto it as
    /// `import` facts (keeping when they were imported, so their age is
    /// the import's), with `device.posture`; whether there was one.
    pub(crate) async fn link_inventory_in(
        &self,
        tx: &mut WriteTx,
        device: &DeviceRow,
        ctx: &ClientContext,
    ) -> Result<bool, StoreError> {
        let Some(serial) = device.serial.as_deref() else {
            return Ok(false);
        };
        let waiting = tx.inventory_record(serial).await?;
        if waiting.is_empty() {
            return Ok(false);
        }
        let facts: Vec<(String, String, i64)> = waiting
            .into_iter()
            .map(|f| (f.fact, f.value, f.observed_ms))
            .collect();
        let now = self.now_ms();
        self.apply_import(tx, device, &facts, ctx, "inventory", now)
            .await?;
        tx.delete_inventory_record(serial).await?;
        Ok(true)
    }

    /// Stores `facts` (fact, value, observed) as `import` facts of
    /// `device`, with `device.posture` when any changed (a new value, or a
    /// stale one made fresh); whether any did.
    async fn apply_import(
        &self,
        tx: &mut WriteTx,
        device: &DeviceRow,
        facts: &[(String, String, i64)],
        ctx: &ClientContext,
        actor: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let max_age = self.config.posture_max_age_ms;
        let stored = tx.posture_facts(&device.identity_id).await?;
        let mut changed = BTreeMap::new();
        for (fact, value, observed_ms) in facts {
            let same = stored.iter().any(|f| {
                f.fact == *fact
                    && f.source == SOURCE_IMPORT
                    && f.value == *value
                    && !is_stale(f, now, max_age)
            });
            tx.put_posture_fact(&PostureFactRow {
                device_id: device.identity_id.clone(),
                fact: fact.clone(),
                source: SOURCE_IMPORT.to_owned(),
                value: value.clone(),
                observed_ms: *observed_ms,
            })
            .await?;
            if !same {
                changed.insert(fact.clone(), value.clone());
            }
        }
        if changed.is_empty() {
            return Ok(false);
        }
        let mut event = self.event(EventKind::DevicePosture, ctx);
        event.actor = Some(actor.to_owned());
        event.subject = Some(device.name.clone());
        event.subject_kind = Some("device".to_owned());
        event.outcome = Some(Outcome::Success);
        event.reason = Some(format!("{SOURCE_IMPORT}: {} facts", changed.len()));
        event.details.insert("source".into(), SOURCE_IMPORT.into());
        event.details.extend(changed);
        tx.record(event).await?;
        Ok(true)
    }
}

/// Facts an administrator may set, and whether each is yes-no.
const ADMIN_FACTS: [(&str, bool); 5] = [
    ("managed", true),
    ("compliant", true),
    ("disk_encrypted", true),
    ("owner", false),
    ("os_version", false),
];

impl Service {
    /// Sets `fact` of the device named `name` as the actor (source
    /// `admin`, the most authoritative), with `device.posture`. Yes-no
    /// facts take `true`/`false`; text is bounded and checked as an
    /// import's is.
    ///
    /// Errors: [`ServiceError::NotFound`] for an unknown or decommissioned
    /// device; [`ServiceError::Rejected`] for an unknown fact or a bad
    /// value.
    pub async fn set_posture_fact(
        &self,
        actor: Actor<'_>,
        name: &str,
        fact: &str,
        value: &str,
    ) -> Result<(), ServiceError> {
        let Some((fact, yes_no)) = ADMIN_FACTS.iter().find(|(f, _)| *f == fact).copied() else {
            return Err(ServiceError::Rejected(crate::Refusal::PostureFactInvalid));
        };
        let ok = if yes_no {
            value == "true" || value == "false"
        } else {
            // Checked as an import's field is: one CSV record of it.
            let record = format!("identifier,{fact}\nx,{value}\n");
            !value.is_empty()
                && !value.contains([',', '"', '\n', '\r'])
                && super::import::parse_inventory(record.as_bytes()).is_ok()
        };
        if !ok {
            return Err(ServiceError::Rejected(crate::Refusal::PostureFactInvalid));
        }
        let now = self.now_ms();
        let mut tx = self.kernel.store.begin().await?;
        let device = tx
            .device_by_name(name)
            .await?
            .filter(decides)
            .ok_or(ServiceError::NotFound)?;
        let mut event = self.event(EventKind::DevicePosture, &ClientContext::default());
        event.actor = Some(actor.name().to_owned());
        event.subject = Some(device.name.clone());
        event.subject_kind = Some("device".to_owned());
        event.outcome = Some(Outcome::Success);
        event.reason = Some(format!("{}: {fact}", super::SOURCE_ADMIN));
        event
            .details
            .insert("source".into(), super::SOURCE_ADMIN.into());
        event.details.insert(fact.to_owned(), value.to_owned());
        tx.put_posture_fact(&PostureFactRow {
            device_id: device.identity_id.clone(),
            fact: fact.to_owned(),
            source: super::SOURCE_ADMIN.to_owned(),
            value: value.to_owned(),
            observed_ms: now,
        })
        .await?;
        tx.record(event).await?;
        tx.commit().await?;
        Ok(())
    }
}
