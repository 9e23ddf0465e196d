//! `keybound serve`: every setting group.

use std::process::ExitCode;

use clap::Args;

use crate::app::{self, ServeSettings, ServiceSettings};
use crate::settings::{
    DeviceSettings, HttpSettings, KeySettings, LifecycleSettings, LifetimeSettings, LimitSettings,
    MetadataRefresh, MetadataSource, ObserveSettings, OidcSettings, PeopleSettings, PolicySettings,
    RegistrationSettings, SiteSettings, Sources, StoreSettings, TierSettings, TlsSettings,
    TpmSettings, WorkloadSettings,
};

/// Run the relying-party server.
#[derive(Args, Debug)]
pub(crate) struct Serve {
    #[command(flatten)]
    site: SiteSettings,
    #[command(flatten)]
    store: StoreSettings,
    #[command(flatten)]
    people: PeopleSettings,
    #[command(flatten)]
    registration: RegistrationSettings,
    #[command(flatten)]
    tiers: TierSettings,
    #[command(flatten)]
    metadata: MetadataSource,
    #[command(flatten)]
    refresh: MetadataRefresh,
    #[command(flatten)]
    limits: LimitSettings,
    #[command(flatten)]
    lifetimes: LifetimeSettings,
    #[command(flatten)]
    http: HttpSettings,
    #[command(flatten)]
    lifecycle: LifecycleSettings,
    #[command(flatten)]
    tls: TlsSettings,
    #[command(flatten)]
    observe: ObserveSettings,
    #[command(flatten)]
    keys: KeySettings,
    #[command(flatten)]
    policy: PolicySettings,
    #[command(flatten)]
    oidc: OidcSettings,
    #[command(flatten)]
    devices: DeviceSettings,
    #[command(flatten)]
    workloads: WorkloadSettings,
    #[command(flatten)]
    tpm: TpmSettings,
    #[command(flatten)]
    audit: crate::settings::AuditSettings,
}

impl Serve {
    /// Resolves every group against the file and serves.
    pub(crate) async fn run(self, sources: &Sources) -> Result<ExitCode, String> {
        app::serve(self.settings(sources)?).await
    }

    /// The log and metrics settings as given (main installs the log
    /// before the command runs).
    pub(crate) fn observe(&self) -> &ObserveSettings {
        &self.observe
    }

    /// Every group resolved against the file (`check-config` checks these).
    pub(crate) fn settings(self, sources: &Sources) -> Result<ServeSettings, String> {
        Ok(ServeSettings {
            service: ServiceSettings {
                store: sources.resolve(self.store)?,
                site: sources.resolve(self.site)?,
                people: sources.resolve(self.people)?,
                registration: sources.resolve(self.registration)?,
                tiers: sources.resolve(self.tiers)?,
                limits: sources.resolve(self.limits)?,
                lifetimes: sources.resolve(self.lifetimes)?,
                keys: sources.resolve(self.keys)?,
                oidc: sources.resolve(self.oidc)?,
                devices: sources.resolve(self.devices)?,
                workloads: sources.resolve(self.workloads)?,
                tpm: sources.resolve(self.tpm)?,
                audit: sources.resolve(self.audit)?,
            },
            http: sources.resolve(self.http)?,
            metadata: sources.resolve(self.metadata)?,
            refresh: sources.resolve(self.refresh)?,
            lifecycle: sources.resolve(self.lifecycle)?,
            tls: sources.resolve(self.tls)?,
            observe: sources.resolve(self.observe)?,
            policy: sources.resolve(self.policy)?,
        })
    }
}
