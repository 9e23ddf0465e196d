//! Registration entries: which workloads on which nodes receive which
//! SPIFFE ID. The operator or an administrator adds and removes them; each
//! has an owner (an active person) so offboarding that person removes
//! them and revokes their SVIDs, in the offboarding's transaction.

use keybound_store::{IdentityKind, IdentityStatus, WorkloadEntryRow, WriteTx};

use crate::record::Record;
use crate::tokens::hex_id;
use crate::{Actor, ClientContext, EventKind, Refusal, Service, ServiceError};

use super::spiffe;

/// The longest X.509-SVID lifetime an entry may ask for, seconds (30 days:
/// short lifetimes are the point).
pub(crate) const MAX_X509_TTL_S: u32 = 30 * 86_400;
/// The longest JWT-SVID lifetime an entry may ask for, seconds (1 day).
pub(crate) const MAX_JWT_TTL_S: u32 = 86_400;

/// An entry to add, as the CLI or the console collected it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewEntry {
    /// `spiffe://<our trust domain>/<path>`.
    pub spiffe_id: String,
    /// A node's name, or `set:<label>`.
    pub parent: String,
    /// `unix:uid:<n>`, `unix:gid:<n>`, `unix:path:<abs path>`; at least one.
    pub selectors: Vec<String>,
    /// The owner's name (an active person).
    pub owner: String,
    /// X.509-SVID lifetime, seconds; 0: the default (`--svid-ttl`).
    pub x509_ttl_s: u32,
    /// JWT-SVID lifetime, seconds; 0: the default (`--jwt-svid-ttl`).
    pub jwt_ttl_s: u32,
    /// DNS SANs.
    pub dns_names: Vec<String>,
    /// The hint workloads see.
    pub hint: String,
    /// Federated trust domains whose bundles its workloads receive.
    pub federates_with: Vec<String>,
}

/// An entry as the CLI (`--json`) and the console show it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EntryView {
    /// Stable id.
    pub id: String,
    /// The SPIFFE ID.
    pub spiffe_id: String,
    /// A node's name, or `set:<label>`.
    pub parent: String,
    /// Selectors, sorted.
    pub selectors: Vec<String>,
    /// The owner's name.
    pub owner: String,
    /// X.509-SVID lifetime, seconds.
    pub x509_ttl_s: u32,
    /// JWT-SVID lifetime, seconds.
    pub jwt_ttl_s: u32,
    /// DNS SANs.
    pub dns_names: Vec<String>,
    /// Hint.
    pub hint: String,
    /// Federated trust domains.
    pub federates_with: Vec<String>,
    /// Bumped at each change.
    pub revision: i64,
    /// Created, ms.
    pub created_ms: i64,
}

/// A stored TTL as the u32 the wire carries (stored values came from one).
pub(crate) fn ttl(stored: i64) -> u32 {
    u32::try_from(stored).unwrap_or(u32::MAX)
}

impl EntryView {
    fn of(row: WorkloadEntryRow, owner: String) -> EntryView {
        EntryView {
            selectors: spiffe::from_json(&row.selectors),
            dns_names: spiffe::from_json(&row.dns_names),
            federates_with: spiffe::from_json(&row.federates_with),
            x509_ttl_s: ttl(row.x509_ttl_s),
            jwt_ttl_s: ttl(row.jwt_ttl_s),
            id: row.id,
            spiffe_id: row.spiffe_id,
            parent: row.parent,
            owner,
            hint: row.hint,
            revision: row.revision,
            created_ms: row.created_ms,
        }
    }
}

/// Checks and normalizes `new` against `trust_domain` and the default TTLs.
fn checked(
    new: &NewEntry,
    trust_domain: &str,
    defaults: &super::WorkloadSettings,
) -> Result<NewEntry, ServiceError> {
    let bad_field = || ServiceError::Rejected(Refusal::WorkloadInvalidEntryField);
    let x509_ttl_s = match new.x509_ttl_s {
        0 => defaults.svid_ttl_s,
        n if n <= MAX_X509_TTL_S => n,
        _ => return Err(bad_field()),
    };
    let jwt_ttl_s = match new.jwt_ttl_s {
        0 => defaults.jwt_svid_ttl_s,
        n if n <= MAX_JWT_TTL_S => n,
        _ => return Err(bad_field()),
    };
    let federates_with = spiffe::bounded_list(&new.federates_with, spiffe::MAX_FEDERATES, |td| {
        match spiffe::trust_domain(td) {
            Ok(td) if td != trust_domain => Ok(td),
            _ => Err(bad_field()),
        }
    })?;
    Ok(NewEntry {
        spiffe_id: spiffe::workload_id(&new.spiffe_id, trust_domain)?,
        parent: spiffe::parent(&new.parent)?,
        selectors: spiffe::selectors(&new.selectors)?,
        owner: new.owner.clone(),
        x509_ttl_s,
        jwt_ttl_s,
        dns_names: spiffe::bounded_list(&new.dns_names, spiffe::MAX_DNS_NAMES, spiffe::dns_name)?,
        hint: spiffe::hint(&new.hint)?,
        federates_with,
    })
}

impl Service {
    /// Adds a registration entry (`keybound workload entry add`). Refused,
    /// with the reason audited: a malformed or foreign SPIFFE ID, one under
    /// `/keybound/node/`, no or bad selectors, a bad parent or field, an
    /// owner who is not an active person, the same entry twice.
    pub async fn add_workload_entry(
        &self,
        actor: Actor<'_>,
        new: &NewEntry,
        ctx: &ClientContext,
    ) -> Result<EntryView, ServiceError> {
        let attempt = self.workload_event(
            EventKind::WorkloadEntryAdd,
            ctx,
            actor.name(),
            &clip(&new.spiffe_id),
        );
        let entry = match checked(new, self.trust_domain(), &self.config.workloads) {
            Ok(entry) => entry,
            Err(ServiceError::Rejected(refusal)) => {
                return Err(self.record_refusal(attempt, refusal, None).await)
            }
            Err(e) => return Err(e),
        };
        let mut tx = self.kernel.store.begin().await?;
        if let Actor::Admin(admin) = actor {
            self.still_admin(&mut tx, admin.identity()).await?;
        }
        let owner = tx.identity_by_name(&entry.owner).await?;
        let Some(owner) =
            owner.filter(|o| o.kind == IdentityKind::Person && o.status == IdentityStatus::Active)
        else {
            drop(tx);
            return Err(self
                .record_refusal(attempt, Refusal::WorkloadOwnerNotActive, None)
                .await);
        };
        let now = self.now_ms();
        let row = WorkloadEntryRow {
            id: hex_id(self.random()),
            spiffe_id: entry.spiffe_id.clone(),
            parent: entry.parent.clone(),
            selectors: spiffe::to_json(&entry.selectors),
            x509_ttl_s: i64::from(entry.x509_ttl_s),
            jwt_ttl_s: i64::from(entry.jwt_ttl_s),
            dns_names: spiffe::to_json(&entry.dns_names),
            hint: entry.hint.clone(),
            federates_with: spiffe::to_json(&entry.federates_with),
            owner_id: owner.id.clone(),
            revision: 1,
            created_ms: now,
            updated_ms: now,
        };
        match tx.insert_workload_entry(&row).await {
            Ok(()) => {}
            Err(keybound_store::StoreError::Conflict) => {
                drop(tx);
                return Err(self
                    .record_refusal(attempt, Refusal::WorkloadEntryExists, None)
                    .await);
            }
            Err(e) => return Err(e.into()),
        }
        let mut event = attempt;
        // The entry by its id, for `audit reconcile`.
        event
            .details
            .insert(crate::kernel::reconcile::ENTRY_ID.into(), row.id.clone());
        event.reason = Some(format!(
            "entry {} parent {} selectors {} owner {}",
            row.id,
            row.parent,
            entry.selectors.join(","),
            owner.name
        ));
        tx.record(event).await?;
        tx.commit().await?;
        Ok(EntryView::of(row, owner.name))
    }

    /// Every entry (`keybound workload entry list`, the console).
    pub async fn workload_entries(&self, actor: Actor<'_>) -> Result<Vec<EntryView>, ServiceError> {
        let mut tx = self.kernel.store.read().await?;
        if let Actor::Admin(admin) = actor {
            self.still_admin(&mut tx, admin.identity()).await?;
        }
        let mut out = Vec::new();
        for row in tx.workload_entries().await? {
            let owner = owner_name(&mut tx, &row.owner_id).await?;
            out.push(EntryView::of(row, owner));
        }
        Ok(out)
    }

    /// The entry `id`; none: [`ServiceError::NotFound`].
    pub async fn workload_entry(
        &self,
        actor: Actor<'_>,
        id: &str,
    ) -> Result<EntryView, ServiceError> {
        let mut tx = self.kernel.store.read().await?;
        if let Actor::Admin(admin) = actor {
            self.still_admin(&mut tx, admin.identity()).await?;
        }
        let row = tx.workload_entry(id).await?.ok_or(ServiceError::NotFound)?;
        let owner = owner_name(&mut tx, &row.owner_id).await?;
        Ok(EntryView::of(row, owner))
    }

    /// Removes the entry `id` and revokes its unexpired SVIDs (the CRL
    /// lists them until they expire); its node drops it at the next sync.
    pub async fn remove_workload_entry(
        &self,
        actor: Actor<'_>,
        id: &str,
        ctx: &ClientContext,
    ) -> Result<(), ServiceError> {
        let mut tx = self.kernel.store.begin().await?;
        if let Actor::Admin(admin) = actor {
            self.still_admin(&mut tx, admin.identity()).await?;
        }
        let row = tx.workload_entry(id).await?.ok_or(ServiceError::NotFound)?;
        self.remove_entry_in(&mut tx, &row, actor.name(), "removed", ctx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes `row` in `tx`, revokes its SVIDs and records
    /// `workload.entry.remove` with `why`.
    pub(crate) async fn remove_entry_in(
        &self,
        tx: &mut WriteTx,
        row: &WorkloadEntryRow,
        actor: &str,
        why: &str,
        ctx: &ClientContext,
    ) -> Result<(), ServiceError> {
        let now = self.now_ms();
        if !tx.delete_workload_entry(&row.id).await? {
            return Err(ServiceError::NotFound);
        }
        let revoked = tx.revoke_workload_svids_of_entry(&row.id, now).await?;
        let mut event =
            self.workload_event(EventKind::WorkloadEntryRemove, ctx, actor, &row.spiffe_id);
        // Tasks of an agent that proved itself with this SPIFFE ID end with
        // the identity it proved (issue 18).
        let ended = self
            .end_tasks_for_spiffe_ids(
                tx,
                std::slice::from_ref(&row.spiffe_id),
                "workload_entry_removed",
                &event,
            )
            .await?;
        event.reason = Some(format!("entry {} {why}; {revoked} SVIDs revoked", row.id));
        event
            .details
            .insert(crate::kernel::reconcile::ENTRY_ID.into(), row.id.clone());
        if ended > 0 {
            event
                .details
                .insert("tasks_ended".into(), ended.to_string());
        }
        tx.record(event).await?;
        Ok(())
    }

    /// Removes every entry `owner_id` answers for, in the offboarding's
    /// transaction; how many.
    pub(crate) async fn remove_entries_of(
        &self,
        tx: &mut WriteTx,
        owner_id: &str,
        actor: &str,
        ctx: &ClientContext,
    ) -> Result<usize, ServiceError> {
        let rows = tx.workload_entries_of_owner(owner_id).await?;
        for row in &rows {
            self.remove_entry_in(tx, row, actor, "its owner was offboarded", ctx)
                .await?;
        }
        Ok(rows.len())
    }
}

async fn owner_name(
    tx: &mut keybound_store::ReadTx,
    owner_id: &str,
) -> Result<String, ServiceError> {
    Ok(tx
        .identity_by_id(owner_id)
        .await?
        .map(|i| i.name)
        .unwrap_or_default())
}

/// Client text cut to 256 characters for an audit event's subject.
pub(crate) fn clip(text: &str) -> String {
    text.chars().take(256).collect()
}
