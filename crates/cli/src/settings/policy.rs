//! Access policies: the directory of the operator's Cedar policies
//! (docs/manual/policy.md), loaded with the shipped defaults.

use std::path::{Path, PathBuf};

use clap::Args;
use serde::{Deserialize, Serialize};

/// Policies.
#[derive(Args, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
#[command(next_help_heading = "Policy")]
pub(crate) struct PolicySettings {
    /// A directory of Cedar policies (`*.cedar`), validated against the
    /// schema and loaded with the defaults at start; `serve` and
    /// `check-config` refuse an invalid one. While serving, a change is
    /// picked up within a second; an invalid change is refused (and
    /// logged) and the last valid set kept. Without it only the defaults
    /// apply: the admin rule, OIDC for active identities, and every route
    /// behind forward-auth denied.
    #[arg(long, env = "KEYBOUND_POLICY_DIR", value_name = "DIR")]
    policy_dir: Option<PathBuf>,
}

impl PolicySettings {
    /// The directory, if one is set.
    pub(crate) fn dir(&self) -> Option<&Path> {
        self.policy_dir.as_deref()
    }
}
