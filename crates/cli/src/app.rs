//! The composition root: builds the store, the service, the jobs and the
//! listener from settings the commands have resolved. Nothing else in the
//! binary opens a database or starts a task.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use keybound_service::{Config, PolicyLoad, Service, SystemClock};
use keybound_store::Store;
use keybound_webauthn::OriginPolicy;
use rand_core::TryRngCore;

use crate::checks;
use crate::jobs::{self, Jobs};
use crate::lifecycle::{self, DatabaseLock};
use crate::mds_fetch::Fetcher;
use crate::policy_dir;
use crate::settings::{
    redact_password, DeviceSettings, Group, HttpSettings, KeySettings, LifecycleSettings,
    LifetimeSettings, LimitSettings, MetadataRefresh, MetadataSource, ObserveSettings,
    OidcSettings, PeopleSettings, PolicySettings, RegistrationSettings, SiteSettings,
    StoreSettings, TierSettings, TlsSettings, TpmSettings, WorkloadSettings,
};

/// What the service is built from. A command leaves out (as `Default`)
/// the groups it does not take, which then hold their defaults.
#[derive(Debug)]
pub(crate) struct ServiceSettings {
    pub(crate) store: StoreSettings,
    pub(crate) site: SiteSettings,
    pub(crate) people: PeopleSettings,
    pub(crate) registration: RegistrationSettings,
    pub(crate) tiers: TierSettings,
    pub(crate) limits: LimitSettings,
    pub(crate) lifetimes: LifetimeSettings,
    pub(crate) keys: KeySettings,
    pub(crate) oidc: OidcSettings,
    pub(crate) devices: DeviceSettings,
    pub(crate) workloads: WorkloadSettings,
    pub(crate) tpm: TpmSettings,
    pub(crate) audit: crate::settings::AuditSettings,
}

impl Default for ServiceSettings {
    fn default() -> Self {
        ServiceSettings {
            store: StoreSettings::defaults(),
            site: SiteSettings::defaults(),
            people: PeopleSettings::defaults(),
            registration: RegistrationSettings::defaults(),
            tiers: TierSettings::defaults(),
            limits: LimitSettings::defaults(),
            lifetimes: LifetimeSettings::defaults(),
            keys: KeySettings::defaults(),
            oidc: OidcSettings::defaults(),
            devices: DeviceSettings::defaults(),
            workloads: WorkloadSettings::defaults(),
            tpm: TpmSettings::defaults(),
            audit: crate::settings::AuditSettings::defaults(),
        }
    }
}

/// Opens the database and builds the service over it.
pub(crate) async fn service(settings: &ServiceSettings) -> Result<Service, String> {
    let url = settings.store.database_url()?;
    let store = Store::open_with(&url, settings.store.durability())
        .await
        .map_err(|e| format!("{}: {e}", redact_password(&url)))?;
    let mut rng = rand_core::OsRng.unwrap_err();
    let mut fresh = [0u8; 32];
    rand_core::RngCore::fill_bytes(&mut rng, &mut fresh);
    let secret = store
        .secret("enumeration", &fresh)
        .await
        .map_err(|e| e.to_string())?
        .try_into()
        .map_err(|_| "stored secret has the wrong length".to_owned())?;
    let config = config(settings, secret)?;
    Ok(Service::new(
        store,
        config,
        Arc::new(SystemClock),
        Box::new(rng),
    ))
}

/// [`service`] on a database that must already exist: the commands other
/// than `serve` and `init` never create one (run from the wrong directory
/// or without the server's flags they would otherwise work on a new,
/// empty database). The error says where they looked and which flag to
/// pass.
pub(crate) async fn existing_service(settings: &ServiceSettings) -> Result<Service, String> {
    existing_database(&settings.store).await?;
    service(settings).await
}

/// The URL of the database `store` names, if it has been set up (by
/// `serve` or `init`); otherwise an error that says where the command
/// looked and which flag to pass. Creates nothing.
pub(crate) async fn existing_database(store: &StoreSettings) -> Result<String, String> {
    let url = store.located_url()?;
    let mut shown = redact_password(&url);
    // A relative path is where the command ran from: say where that is.
    if let Some(path) = url.strip_prefix("sqlite://") {
        if std::path::Path::new(path).is_relative() {
            if let Ok(dir) = std::env::current_dir() {
                shown.push_str(&format!(" (under {})", dir.display()));
            }
        }
    }
    match Store::initialised(&url).await {
        Ok(true) => Ok(url),
        Ok(false) => Err(format!(
            "no keybound database at {shown}: pass --data-dir DIR or --database-url URL as \
             `keybound serve` runs with them (or set KEYBOUND_DATA_DIR or \
             KEYBOUND_DATABASE_URL); `keybound init` creates a new one"
        )),
        Err(e) => Err(format!("{shown}: {e}")),
    }
}

/// The start checks ([`checks`]) over `serve`'s settings: what would start
/// and then fail in a browser.
pub(crate) fn checked(settings: &ServeSettings) -> Result<checks::Report, String> {
    let site = &settings.service.site;
    let origins = site.origins()?;
    let deployment = checks::Deployment {
        rp_id: site.rp_id()?,
        origins: &origins,
        allow_insecure_origin: site.allow_insecure_origin(),
        tls: settings.tls.files()?.is_some(),
        proxy_declared: !settings.http.trusted_proxies().is_empty(),
    };
    let mut report = checks::site(&deployment);
    if let Some(domain) = settings.http.cookie_domain() {
        report
            .problems
            .extend(checks::cookie_domain_problem(deployment.rp_id, domain));
    }
    if !report.problems.is_empty() {
        return Ok(report);
    }
    let config = config(&settings.service, [0; 32])?;
    let mut report = checks::check(&deployment, &config);
    if let Err(e) = policy_dir::load(settings.policy.dir()) {
        report.problems.push(e);
    }
    Ok(report)
}

/// The service's configuration: each group's values over the service's
/// defaults.
pub(crate) fn config(settings: &ServiceSettings, secret: [u8; 32]) -> Result<Config, String> {
    let origins = OriginPolicy::exact(settings.site.origins()?).map_err(|e| e.to_string())?;
    let mut config = Config::new(settings.site.rp_id()?, origins, secret);
    settings.people.apply(&mut config)?;
    settings.registration.apply(&mut config.policy);
    settings.tiers.apply(&mut config)?;
    settings.limits.apply(&mut config.rate_limits);
    let url = settings.store.located_url()?;
    let postgres = keybound_store::sqlite_file(&url).is_none();
    config.shared_limits = settings.limits.shared(postgres);
    settings.lifetimes.apply(&mut config);
    settings.keys.apply(&mut config);
    settings.oidc.apply(&mut config)?;
    settings.devices.apply(&mut config);
    settings.workloads.apply(&mut config, &url)?;
    settings.tpm.apply(&mut config)?;
    settings.audit.apply(&mut config)?;
    // A retired signing key stays published as long as the longest token
    // it signed lives: with the OIDC lifetimes, not a guess.
    config.key_rotation.max_token_lifetime_ms = config.oidc.longest_signed_token_ms();
    Ok(config)
}

/// Everything `serve` runs with.
#[derive(Debug)]
pub(crate) struct ServeSettings {
    pub(crate) service: ServiceSettings,
    pub(crate) http: HttpSettings,
    pub(crate) metadata: MetadataSource,
    pub(crate) refresh: MetadataRefresh,
    pub(crate) lifecycle: LifecycleSettings,
    pub(crate) tls: TlsSettings,
    pub(crate) observe: ObserveSettings,
    pub(crate) policy: PolicySettings,
}

/// Runs the server until SIGTERM or SIGINT: the service, its jobs and its
/// listener; then stops gracefully (see [`lifecycle::stop_on_signal`]).
pub(crate) async fn serve(settings: ServeSettings) -> Result<ExitCode, String> {
    let report = checked(&settings)?;
    report.print();
    if !report.problems.is_empty() {
        return Ok(ExitCode::FAILURE);
    }
    let ServeSettings {
        service: parts,
        http,
        metadata,
        refresh,
        lifecycle,
        tls,
        observe,
        policy,
    } = settings;
    // First, so the recorder counts from the store's opening on.
    let metrics = crate::metrics::start(observe.metrics_listen()).await?;
    if metadata.url().is_some() && !parts.tiers.has_mds_root() {
        return Err("--mds-url needs --mds-root (the FIDO root the BLOB must chain to)".into());
    }
    let refresh_every = refresh.every()?;
    let grace = lifecycle.shutdown_grace()?;
    let delay = lifecycle.shutdown_delay()?;
    let tls = tls.files()?.map(keybound_server::Tls::load).transpose()?;
    let _lock = match keybound_store::sqlite_file(&parts.store.database_url()?) {
        Some(db) => Some(DatabaseLock::serving(&db)?),
        None => None,
    };
    let service = Arc::new(service(&parts).await?);
    let site = &parts.site;
    let origins = site.origins()?;
    let listen = site.listen()?;
    let secure = origins.iter().all(|o| o.starts_with("https://"));
    let durability = parts.store.durability();
    let proxies = http.trusted_proxies();
    // Looked at before the load, so a change while loading is reloaded.
    let seen = policy.dir().map(policy_dir::fingerprint);
    let loaded = policy_dir::load(policy.dir())?;
    let policy_dir_shown = policy.dir().map(|d| d.display().to_string());
    let policy_set = loaded.hash().to_owned();
    // The defaults alone are what the service starts with, and the start
    // record names their hash; an operator's set is a load of its own.
    let policies = policy.dir().is_some().then_some(loaded);
    service
        .record_start(&[
            ("policy_set", policy_set),
            (
                "policy_dir",
                policy_dir_shown.clone().unwrap_or_else(|| "none".into()),
            ),
            ("listen", listen.to_string()),
            ("durability", format!("{durability:?}")),
            ("secure_cookies", secure.to_string()),
            ("trusted_proxies", format!("{proxies:?}")),
            ("tls", tls.is_some().to_string()),
        ])
        .await
        .map_err(|e| format!("cannot record the start in the audit log: {e}"))?;
    if let Some(policies) = policies {
        service
            .install_policies(policies, PolicyLoad::Start, policy_dir_shown.as_deref())
            .await
            .map_err(|e| format!("cannot record the policy load in the audit log: {e}"))?;
    }
    service
        .retier_for_policy()
        .await
        .map_err(|e| format!("cannot bring tiers in line with the policy: {e}"))?;
    let mut state = keybound_server::AppState::new(service.clone(), secure)
        .with_trusted_proxies(proxies.iter().cloned().collect())
        .with_cookie_domain(http.cookie_domain().map(str::to_owned));
    if tls.is_some() {
        state = state.with_https();
    }
    let readiness = state.readiness();
    let app = keybound_server::router(state);
    // From here on SIGTERM and SIGINT stop gracefully (before, while the
    // database opens, they end the process at once as usual).
    let stop_signals = lifecycle::StopSignals::install()?;
    lifecycle::on_hangup(tls.clone())?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    // A closed stdout (a supervisor that stopped reading) must not take the
    // server down, so these lines ignore write errors.
    let mut out = std::io::stdout();
    // The socket is not a URL people can open (with RP ID localhost,
    // http://127.0.0.1 runs no ceremony): the first origin is.
    let _ = writeln!(
        out,
        "keybound listening on {local}{} (RP ID {})",
        if tls.is_some() { " with TLS" } else { "" },
        site.rp_id()?
    );
    let _ = writeln!(out, "open: {}", origins.first().map_or("", String::as_str));
    let _ = writeln!(out, "origins: {}", origins.join(", "));
    let _ = writeln!(
        out,
        "data: {} (durability: {durability:?})",
        redact_password(&parts.store.database_url()?),
    );
    if let Some(metrics) = &metrics {
        let _ = writeln!(out, "metrics: http://{}/metrics", metrics.local);
    }
    let _ = writeln!(
        out,
        "invite the first admin: keybound admin invite NAME --admin"
    );
    let _ = out.flush();

    let mut jobs = Jobs::new();
    jobs.every(jobs::PURGE_EVERY, jobs::Purge(service.clone()));
    jobs.every(jobs::ROTATE_KEYS_EVERY, jobs::RotateKeys(service.clone()));
    jobs.every(jobs::EXPIRE_TASKS_EVERY, jobs::ExpireTasks(service.clone()));
    jobs.every(
        jobs::FLUSH_TASK_USES_EVERY,
        jobs::FlushTaskUses(service.clone()),
    );
    jobs.every(
        jobs::workloads::rotate_ca_every(&service),
        jobs::workloads::RotateCa(service.clone()),
    );
    jobs.every(
        jobs::workloads::FETCH_BUNDLES_EVERY,
        jobs::workloads::FetchBundles {
            service: service.clone(),
            client: jobs::workloads::bundle_client()?,
        },
    );
    jobs.every(
        crate::backchannel::DELIVER_EVERY,
        crate::backchannel::DeliverLogouts {
            service: service.clone(),
            sender: crate::backchannel::Sender::new()?,
        },
    );
    jobs.every(
        keybound_service::forward::FOLLOW_EVERY,
        jobs::FollowChanges(service.clone()),
    );
    if service.config().shared_limits {
        jobs.every(
            keybound_service::SHARE_EVERY,
            jobs::ShareLimits(service.clone()),
        );
    }
    let sealer = jobs::audit::holder_id(&service);
    jobs.every(
        jobs::audit::seal_every(&service),
        jobs::audit::SealAuditLog {
            service: service.clone(),
            holder: sealer.clone(),
        },
    );
    if let Some(url) = metadata.url() {
        jobs.every(
            refresh_every,
            jobs::RefreshMetadata {
                service: service.clone(),
                url: url.to_owned(),
                fetcher: Fetcher::default(),
            },
        );
    }
    if let (Some(dir), Some(seen)) = (policy.dir(), seen) {
        jobs.every(
            policy_dir::RELOAD_EVERY,
            policy_dir::ReloadPolicies {
                service: service.clone(),
                dir: dir.to_owned(),
                seen,
            },
        );
    }
    let local_node = match parts.workloads.workload_socket() {
        Some(socket) => Some(crate::node::serve_local(service.clone(), socket).await?),
        None => None,
    };
    let (close, closed) = tokio::sync::oneshot::channel::<()>();
    let connections = http.connections();
    // A task of its own, so the grace timer runs while it blocks.
    let drain = tokio::spawn(async move {
        let served = keybound_server::serve_with(
            listener,
            app,
            connections,
            proxies.into_iter().collect(),
            tls,
            async {
                let _ = closed.await;
            },
        )
        .await;
        if let Some(local_node) = local_node {
            local_node.stop().await;
        }
        jobs.stop().await;
        // Another node seals from its next run, not after the lease lapses.
        if let Err(e) = service.release_audit_lease(&sealer).await {
            tracing::warn!(error = %e, "could not give the audit sealer's lease up");
        }
        let closed = service.store().close().await;
        served.map_err(|e| e.to_string())?;
        closed.map_err(|e| format!("cannot flush the database: {e}"))
    });
    let stop = lifecycle::Stop {
        readiness,
        delay,
        grace,
    };
    lifecycle::stop_on_signal(stop_signals, stop, close, drain).await
}
