//! Setting values that are checked as they are read, the same way from a
//! flag, a `KEYBOUND_*` variable (both through `FromStr` or clap's
//! `ValueEnum`) and the configuration file (through `Deserialize`), so a
//! value refused on one path is refused on every path with one message.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A whole number in `MIN..=MAX`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u64", into = "u64")]
pub(crate) struct Bounded<const MIN: u64, const MAX: u64>(u64);

/// A tier: 1 any passkey, 2 device-bound with user verification, 3
/// certified hardware.
pub(crate) type Tier = Bounded<1, 3>;

/// Seconds for a connection timeout: at least one, at most an hour.
pub(crate) type TimeoutSeconds = Bounded<1, 3600>;

impl<const MIN: u64, const MAX: u64> Bounded<MIN, MAX> {
    /// The number.
    pub(crate) fn get(self) -> u64 {
        self.0
    }
}

impl<const MIN: u64, const MAX: u64> TryFrom<u64> for Bounded<MIN, MAX> {
    type Error = String;

    fn try_from(n: u64) -> Result<Self, String> {
        if (MIN..=MAX).contains(&n) {
            Ok(Bounded(n))
        } else {
            Err(format!("{n} is not in {MIN}..={MAX}"))
        }
    }
}

impl<const MIN: u64, const MAX: u64> From<Bounded<MIN, MAX>> for u64 {
    fn from(b: Bounded<MIN, MAX>) -> u64 {
        b.0
    }
}

impl<const MIN: u64, const MAX: u64> FromStr for Bounded<MIN, MAX> {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let n: u64 = text.parse().map_err(|e| format!("{text:?}: {e}"))?;
        Bounded::try_from(n)
    }
}

impl<const MIN: u64, const MAX: u64> fmt::Display for Bounded<MIN, MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A higher minimum tier for a group (role): `GROUP=TIER` as a flag or
/// variable, `GROUP = TIER` in the file's `[group_min_tier]` table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct GroupTier {
    pub(crate) group: String,
    pub(crate) tier: Tier,
}

impl FromStr for GroupTier {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        text.split_once('=')
            .and_then(|(group, tier)| {
                Some(GroupTier {
                    group: group.trim().to_owned(),
                    tier: tier.trim().parse().ok()?,
                })
            })
            .filter(|g| !g.group.is_empty())
            .ok_or_else(|| format!("{text:?}: expected GROUP=1..3"))
    }
}

/// `group_min_tier` as the file writes it: a table of group to tier.
pub(crate) mod group_table {
    use super::*;

    /// The groups as a table (the merge compares tables key by key).
    pub(crate) fn serialize<S: Serializer>(
        groups: &Option<Vec<GroupTier>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        groups
            .as_ref()
            .map(|g| {
                g.iter()
                    .map(|g| (g.group.as_str(), g.tier))
                    .collect::<BTreeMap<_, _>>()
            })
            .serialize(s)
    }

    /// A table of group to tier, each tier checked.
    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Vec<GroupTier>>, D::Error> {
        let table = Option::<BTreeMap<String, Tier>>::deserialize(d)?;
        Ok(table.map(|t| {
            t.into_iter()
                .map(|(group, tier)| GroupTier { group, tier })
                .collect()
        }))
    }
}

/// A reverse proxy's address or CIDR range, checked as the server reads
/// it and kept as written (the file and the merge see the text).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub(crate) struct ProxyRange {
    text: String,
    parsed: keybound_server::TrustedProxies,
}

impl ProxyRange {
    /// The range, as the server matches it.
    pub(crate) fn parsed(&self) -> &keybound_server::TrustedProxies {
        &self.parsed
    }
}

impl TryFrom<String> for ProxyRange {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        let parsed = text.parse()?;
        Ok(ProxyRange { text, parsed })
    }
}

impl From<ProxyRange> for String {
    fn from(p: ProxyRange) -> String {
        p.text
    }
}

impl FromStr for ProxyRange {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        ProxyRange::try_from(text.to_owned())
    }
}

/// What an acknowledged write survives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Durability {
    /// A power cut: fsync before every acknowledgement, shared by group
    /// commit.
    Full,
    /// A killed process, not a power cut or a database crash.
    Relaxed,
}

impl From<Durability> for keybound_store::Durability {
    fn from(d: Durability) -> Self {
        match d {
            Durability::Full => keybound_store::Durability::Full,
            Durability::Relaxed => keybound_store::Durability::Relaxed,
        }
    }
}

/// The attestation registration asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Attestation {
    /// No attestation (tier 3 needs one).
    None,
    /// Possibly anonymised by the client.
    Indirect,
    /// The authenticator's own.
    Direct,
    /// Uniquely identifying (managed deployments).
    Enterprise,
}

impl From<Attestation> for keybound_webauthn::AttestationConveyancePreference {
    fn from(a: Attestation) -> Self {
        use keybound_webauthn::AttestationConveyancePreference as P;
        match a {
            Attestation::None => P::None,
            Attestation::Indirect => P::Indirect,
            Attestation::Direct => P::Direct,
            Attestation::Enterprise => P::Enterprise,
        }
    }
}
