//! Where the FIDO metadata BLOB is fetched from (`serve`, `mds fetch`),
//! and how often the server fetches it again.

use std::time::Duration;

use clap::Args;
use serde::{Deserialize, Serialize};

use super::required;

/// Where to fetch the FIDO metadata BLOB from.
#[derive(Args, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
#[command(next_help_heading = "Metadata")]
pub(crate) struct MetadataSource {
    /// Where to fetch the FIDO metadata BLOB from (e.g.
    /// `https://mds3.fidoalliance.org/`); off unless set.
    #[arg(long, env = "KEYBOUND_MDS_URL", value_name = "URL")]
    mds_url: Option<String>,
}

impl MetadataSource {
    /// The URL, if fetching is on.
    pub(crate) fn url(&self) -> Option<&str> {
        self.mds_url.as_deref()
    }
}

/// How often the server fetches the BLOB again.
#[derive(Args, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
#[command(next_help_heading = "Metadata")]
pub(crate) struct MetadataRefresh {
    /// Seconds between metadata fetches.
    #[arg(
        long,
        env = "KEYBOUND_MDS_REFRESH",
        value_name = "SECONDS",
        default_value = "86400"
    )]
    mds_refresh: Option<u64>,
}

impl MetadataRefresh {
    /// The interval between fetches (at least a second).
    pub(crate) fn every(&self) -> Result<Duration, String> {
        let seconds = required(&self.mds_refresh, "mds_refresh")?;
        Ok(Duration::from_secs((*seconds).max(1)))
    }
}
