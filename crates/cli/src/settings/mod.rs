//! Every setting, declared once.
//!
//! A setting is one field of one group. The group derives both its clap
//! arguments (the flag, its `KEYBOUND_*` variable, its default and help)
//! and its serde form (the configuration file's key, the field's name),
//! so a new setting is one field here and one line where it is applied.
//! A subcommand flattens the groups it uses, and takes only their flags;
//! the file may hold every group's keys whichever subcommand reads it.
//!
//! Precedence: a flag, then its `KEYBOUND_*` variable (clap reads both),
//! then the `--config` file, then the default in the field's clap
//! attribute. Every field is an `Option` so a group can say which values
//! were given; [`Sources::resolve`] puts the clap-parsed group over the
//! file's one, field by field, keeping the file's value wherever clap
//! only supplied its default.

mod audit;
mod devices;
mod file;
mod http;
mod keys;
mod lifecycle;
mod lifetimes;
mod limits;
mod metadata;
mod node;
mod observe;
mod oidc;
mod people;
mod policy;
mod site;
mod store;
mod tls;
mod tpm;
mod trust;
mod values;
mod workloads;

use std::collections::BTreeSet;
use std::fmt::Debug;
use std::path::Path;
use std::sync::OnceLock;

use clap::parser::ValueSource;
use clap::ArgMatches;
use serde::de::{DeserializeOwned, MapAccess};
use serde::Serialize;
use serde_json::Value;

pub(crate) use audit::AuditSettings;
pub(crate) use devices::DeviceSettings;
pub(crate) use http::HttpSettings;
pub(crate) use keys::KeySettings;
pub(crate) use lifecycle::LifecycleSettings;
pub(crate) use lifetimes::LifetimeSettings;
pub(crate) use limits::LimitSettings;
pub(crate) use metadata::{MetadataRefresh, MetadataSource};
pub(crate) use node::{Attestation, NodeSettings};
pub(crate) use observe::{LogFormat, ObserveSettings};
pub(crate) use oidc::OidcSettings;
pub(crate) use people::PeopleSettings;
pub(crate) use policy::PolicySettings;
pub(crate) use site::SiteSettings;
pub(crate) use store::{redact_password, StoreSettings};
pub(crate) use tls::TlsSettings;
pub(crate) use tpm::TpmSettings;
pub(crate) use trust::{RegistrationSettings, TierSettings};
pub(crate) use workloads::WorkloadSettings;

/// A group of settings: clap arguments and a part of the file at once.
pub(crate) trait Group:
    clap::Args + clap::FromArgMatches + Serialize + DeserializeOwned + Default + Debug
{
    /// This group's values in the file.
    fn in_file(file: &FileSettings) -> &Self;

    /// The group as clap makes it from no arguments and no environment:
    /// every default set. What a command that does not take the group
    /// runs with.
    fn defaults() -> Self {
        let command = Self::augment_args(clap::Command::new("defaults"))
            .mut_args(|arg| arg.env(None::<&'static str>));
        command
            .try_get_matches_from(["defaults"])
            .ok()
            .and_then(|matches| Self::from_arg_matches(&matches).ok())
            .unwrap_or_default()
    }
}

/// A value that has a default: once clap has parsed a group (or made its
/// [`Group::defaults`]), such a field is never `None`.
fn required<'a, T>(value: &'a Option<T>, key: &str) -> Result<&'a T, String> {
    value
        .as_ref()
        .ok_or_else(|| format!("no value for {key} (not parsed by clap?)"))
}

/// Lists every group once: the file's shape, which group a key belongs
/// to, and the keys an unknown one is told about.
macro_rules! groups {
    ($($field:ident: $group:ty),* $(,)?) => {
        /// Every group's values as the configuration file gives them
        /// (`None` for a key it does not set).
        #[derive(Debug, Default)]
        pub(crate) struct FileSettings {
            $($field: $group,)*
        }

        $(impl Group for $group {
            fn in_file(file: &FileSettings) -> &Self {
                &file.$field
            }
        })*

        /// Every key the file may hold, in the groups' order.
        fn all_keys() -> &'static [&'static str] {
            static KEYS: OnceLock<Vec<&'static str>> = OnceLock::new();
            KEYS.get_or_init(|| [$(file::keys::<$group>()),*].concat())
        }

        /// Reads the value of `key` (a known key) into its group.
        fn absorb_key<'de, A: MapAccess<'de>>(
            file: &mut FileSettings,
            key: &str,
            map: &mut A,
        ) -> Result<(), A::Error> {
            $(if file::keys::<$group>().contains(&key) {
                let value: $group = file::one_key(key, map)?;
                file.$field = overlay(&file.$field, &value, |_| true)
                    .map_err(serde::de::Error::custom)?;
                return Ok(());
            })*
            Err(serde::de::Error::unknown_field(key, all_keys()))
        }
    };
}

groups! {
    store: StoreSettings,
    site: SiteSettings,
    people: PeopleSettings,
    registration: RegistrationSettings,
    tiers: TierSettings,
    limits: LimitSettings,
    lifetimes: LifetimeSettings,
    http: HttpSettings,
    metadata: MetadataSource,
    refresh: MetadataRefresh,
    lifecycle: LifecycleSettings,
    tls: TlsSettings,
    observe: ObserveSettings,
    keys: KeySettings,
    policy: PolicySettings,
    oidc: OidcSettings,
    devices: DeviceSettings,
    workloads: WorkloadSettings,
    node: NodeSettings,
    tpm: TpmSettings,
    audit: AuditSettings,
}

/// Where settings come from besides the groups clap parsed: the file, and
/// which arguments clap found on the command line or in the environment.
#[derive(Debug, Default)]
pub(crate) struct Sources {
    file: FileSettings,
    given: BTreeSet<String>,
}

impl Sources {
    /// Reads `config` (the `--config` file, if any) and notes which
    /// arguments of `matches` were given rather than defaulted.
    pub(crate) fn new(config: Option<&Path>, matches: &ArgMatches) -> Result<Self, String> {
        let file = match config {
            Some(path) => file::read(path)?,
            None => FileSettings::default(),
        };
        Ok(Sources {
            file,
            given: given(matches),
        })
    }

    /// `flags` (as clap parsed them, defaults included) over the file's
    /// values of the same group: a flag or variable wins, then the file,
    /// then the default.
    pub(crate) fn resolve<G: Group>(&self, flags: G) -> Result<G, String> {
        overlay(&flags, G::in_file(&self.file), |key| {
            !self.given.contains(key)
        })
    }
}

/// The ids of the arguments given on the command line or in the
/// environment, at every level of the subcommand path.
fn given(matches: &ArgMatches) -> BTreeSet<String> {
    let mut given = BTreeSet::new();
    let mut level = Some(matches);
    while let Some(m) = level {
        for id in m.ids() {
            // Global arguments are copied to every level, some of which do
            // not define them (clap's debug checks refuse those look-ups).
            let defined_here = m.try_get_raw(id.as_str()).is_ok();
            if defined_here
                && matches!(
                    m.value_source(id.as_str()),
                    Some(ValueSource::CommandLine | ValueSource::EnvVariable)
                )
            {
                given.insert(id.as_str().to_owned());
            }
        }
        level = m.subcommand().map(|(_, sub)| sub);
    }
    given
}

/// `under` with each value `over` sets (not `None`) for which `takes`
/// says yes. Groups are compared as JSON objects keyed by field name, the
/// name clap gives their arguments and the file its keys.
fn overlay<G: Serialize + DeserializeOwned>(
    under: &G,
    over: &G,
    takes: impl Fn(&str) -> bool,
) -> Result<G, String> {
    let object = |g: &G| match serde_json::to_value(g) {
        Ok(Value::Object(fields)) => Ok(fields),
        Ok(_) => Err("a settings group is not a struct".to_owned()),
        Err(e) => Err(e.to_string()),
    };
    let mut merged = object(under)?;
    for (key, value) in object(over)? {
        if !value.is_null() && takes(&key) {
            merged.insert(key, value);
        }
    }
    serde_json::from_value(Value::Object(merged)).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests;
