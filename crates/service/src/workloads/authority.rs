//! The workload CA's X.509 authorities: made (a self-signed root per trust
//! domain, or an intermediate under `--ca-cert/--ca-key`), their keys
//! sealed under the operator's key (`seal`), loaded once per server, and
//! moved through their phases (`rotation`) by whichever server's jobs
//! runner gets there first — every step one conditional statement under
//! the writer lock with its event, no leader.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use keybound_ca::{Authority, Parent, TrustDomain};
use keybound_store::{StoreError, WorkloadAuthorityRow, WriteTx};

use crate::record::Record;
use crate::tokens::hex_id;
use crate::{ClientContext, EventKind, Service, ServiceError};

use super::rotation::{self, state, Step};

/// A server's loaded authorities, by id (their keys opened once).
#[derive(Default)]
pub(crate) struct Authorities(Mutex<HashMap<String, Arc<Authority>>>);

fn internal(what: &str) -> impl Fn(keybound_ca::Error) -> ServiceError + '_ {
    move |e| ServiceError::Internal(format!("{what}: {}", e.reason()))
}

impl Service {
    /// The key-encryption key, or why there is none.
    fn kek(&self) -> Result<&[u8; 32], ServiceError> {
        self.config
            .workloads
            .ca_key_encryption_key
            .as_ref()
            .ok_or_else(|| {
                ServiceError::Internal(
                    "the workload CA needs --ca-key-encryption-key-file (required on PostgreSQL)"
                        .into(),
                )
            })
    }

    /// The authority of `row`, its key opened (cached per server).
    pub(crate) fn load_authority(
        &self,
        row: &WorkloadAuthorityRow,
    ) -> Result<Arc<Authority>, ServiceError> {
        let mut cache = self
            .workloads
            .authorities
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(loaded) = cache.get(&row.id) {
            return Ok(loaded.clone());
        }
        let pkcs8 =
            zeroize::Zeroizing::new(super::seal::open(self.kek()?, &row.id, &row.key_sealed)?);
        let loaded = Arc::new(
            Authority::from_parts(&row.cert_der, &pkcs8).map_err(internal("a stored authority"))?,
        );
        cache.insert(row.id.clone(), loaded.clone());
        Ok(loaded)
    }

    /// Makes a new authority in `state` and stores it in `tx` with the
    /// bundle's next sequence; `None` when another server made one first.
    async fn make_authority(
        &self,
        tx: &mut WriteTx,
        state: &str,
    ) -> Result<Option<WorkloadAuthorityRow>, ServiceError> {
        let kek = *self.kek()?;
        let td_name = self.trust_domain().to_owned();
        let td = TrustDomain::parse(&td_name)
            .map_err(|e| ServiceError::Internal(format!("trust domain: {}", e.reason())))?;
        let now = self.now_ms();
        let nb_s = now / 1000;
        let na_s = nb_s.saturating_add(i64::from(self.config.workloads.ca_ttl_s));
        let pkcs8 = keybound_ca::generate_p256_pkcs8().map_err(internal("CA key"))?;
        let serial = keybound_ca::random_serial(&mut **self.kernel.rng());
        let (authority, upstream) = match &self.config.workloads.upstream {
            None => (
                Authority::new_root(&td, nb_s, na_s, serial, &pkcs8)
                    .map_err(internal("CA root"))?,
                Vec::new(),
            ),
            Some(up) => (
                Authority::new_intermediate(
                    &td,
                    Parent::External {
                        cert_der: &up.cert_der,
                        key_pkcs8: &up.key_pkcs8,
                    },
                    nb_s,
                    na_s,
                    serial,
                    &pkcs8,
                )
                .map_err(internal("CA intermediate under --ca-cert"))?,
                vec![keybound_webauthn::b64::encode(&up.cert_der)],
            ),
        };
        let id = hex_id(self.random());
        let sealed = super::seal::seal(&kek, &id, self.random(), &pkcs8)?;
        let sequence = tx.bump_workload_bundle(&td_name, now).await?;
        let row = WorkloadAuthorityRow {
            id,
            trust_domain: td_name,
            state: state.to_owned(),
            cert_der: authority.cert_der().to_vec(),
            upstream: super::spiffe::to_json(&upstream),
            key_sealed: sealed,
            not_before_ms: authority.not_before_s().saturating_mul(1000),
            not_after_ms: authority.not_after_s().saturating_mul(1000),
            sequence,
            created_ms: now,
            activated_ms: (state == state::ACTIVE).then_some(now),
            retired_ms: None,
        };
        match tx.insert_workload_authority(&row).await {
            Ok(()) => Ok(Some(row)),
            Err(StoreError::Conflict) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Makes `step` in `tx` with its event; false when another server made
    /// it first (nothing to do).
    async fn apply_step(
        &self,
        tx: &mut WriteTx,
        step: &Step,
        actor: &str,
        ctx: &ClientContext,
    ) -> Result<bool, ServiceError> {
        let now = self.now_ms();
        let td = self.trust_domain().to_owned();
        let (kind, reason) = match step {
            Step::Bootstrap | Step::Prepare => {
                let to = if *step == Step::Bootstrap {
                    state::ACTIVE
                } else {
                    state::PREPARED
                };
                let Some(row) = self.make_authority(tx, to).await? else {
                    return Ok(false);
                };
                let kind = if to == state::ACTIVE {
                    EventKind::WorkloadCaActivate
                } else {
                    EventKind::WorkloadCaPrepare
                };
                (
                    kind,
                    format!(
                        "authority {} {to} (first of the trust domain: {}), valid until {} ms, bundle sequence {}",
                        row.id,
                        *step == Step::Bootstrap,
                        row.not_after_ms,
                        row.sequence
                    ),
                )
            }
            Step::Activate { prepared, active } => {
                if let Some(active) = active {
                    if !tx
                        .move_workload_authority(active, state::ACTIVE, state::SUPERSEDED, now)
                        .await?
                    {
                        return Ok(false);
                    }
                }
                if !tx
                    .move_workload_authority(prepared, state::PREPARED, state::ACTIVE, now)
                    .await?
                {
                    return Ok(false);
                }
                let sequence = tx.bump_workload_bundle(&td, now).await?;
                (
                    EventKind::WorkloadCaActivate,
                    format!(
                        "authority {prepared} active, {} superseded; bundle sequence {sequence}",
                        active.as_deref().unwrap_or("none")
                    ),
                )
            }
            Step::Retire { id } => {
                if !tx
                    .move_workload_authority(id, state::SUPERSEDED, state::RETIRED, now)
                    .await?
                {
                    return Ok(false);
                }
                let sequence = tx.bump_workload_bundle(&td, now).await?;
                (
                    EventKind::WorkloadCaRetire,
                    format!("authority {id} left the bundle; bundle sequence {sequence}"),
                )
            }
        };
        let mut event = self.workload_event(kind, ctx, actor, &format!("spiffe://{td}"));
        event.reason = Some(reason);
        tx.record(event).await?;
        Ok(true)
    }

    /// The steps due now (or, with `force`, the next phase now) for this
    /// trust domain, as `tx` sees the authorities.
    async fn due_steps(&self, tx: &mut WriteTx, force: bool) -> Result<Vec<Step>, ServiceError> {
        let rows: Vec<WorkloadAuthorityRow> = tx
            .workload_authorities(self.trust_domain())
            .await?
            .into_iter()
            .filter(|a| a.state != state::RETIRED)
            .collect();
        let mut last = HashMap::new();
        for row in rows.iter().filter(|a| a.state == state::SUPERSEDED) {
            last.insert(row.id.clone(), tx.workload_last_svid_expiry(&row.id).await?);
        }
        Ok(rotation::due(&rows, self.now_ms(), force, |id| {
            last.get(id).copied().flatten()
        }))
    }

    /// Runs the CA rotation as far as it is due (the jobs runner, on any
    /// server), or one phase further now with `force`
    /// (`keybound workload ca rotate`, by `actor`). What changed, for
    /// people.
    pub async fn rotate_workload_ca(
        &self,
        actor: Option<crate::Actor<'_>>,
        force: bool,
    ) -> Result<Vec<String>, ServiceError> {
        let mut tx = self.kernel.store.begin().await?;
        let name = match actor {
            Some(crate::Actor::Admin(admin)) => {
                self.still_admin(&mut tx, admin.identity()).await?;
                admin.identity().name.clone()
            }
            Some(crate::Actor::Operator(op)) => op.name().to_owned(),
            None => "jobs".to_owned(),
        };
        let steps = self.due_steps(&mut tx, force).await?;
        let mut done = Vec::new();
        for step in &steps {
            if self
                .apply_step(&mut tx, step, &name, &ClientContext::default())
                .await?
            {
                done.push(format!("{step:?}"));
            }
        }
        tx.commit().await?;
        Ok(done)
    }

    /// The active authority, made now in `tx` when none signs or the
    /// active one expired while every server slept ("made on first use";
    /// an agent that slept past the CA's expiry recovers here).
    pub(crate) async fn active_authority_in(
        &self,
        tx: &mut WriteTx,
    ) -> Result<(WorkloadAuthorityRow, Arc<Authority>), ServiceError> {
        for _ in 0..3 {
            let now = self.now_ms();
            let rows = tx.workload_authorities(self.trust_domain()).await?;
            if let Some(active) = rows
                .iter()
                .find(|a| a.state == state::ACTIVE && a.not_after_ms > now.saturating_add(1000))
            {
                let loaded = self.load_authority(active)?;
                return Ok((active.clone(), loaded));
            }
            let mut steps = self.due_steps(tx, false).await?;
            if steps.is_empty() || steps == [Step::Prepare] {
                // Active but expired: prepare and activate now.
                steps = vec![Step::Prepare];
            }
            for step in steps {
                self.apply_step(tx, &step, "jobs", &ClientContext::default())
                    .await?;
            }
        }
        Err(ServiceError::Internal(
            "no active workload authority".into(),
        ))
    }
}
