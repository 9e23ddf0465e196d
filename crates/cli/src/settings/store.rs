//! Where the data lives and what a write survives: every subcommand takes
//! these, so admin commands work on the database of a running server.

use std::path::PathBuf;

use clap::Args;
use serde::{Deserialize, Serialize};

use super::required;
use super::values::Durability;

/// The database.
#[derive(Args, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
#[command(next_help_heading = "Database")]
pub(crate) struct StoreSettings {
    /// Where the embedded database lives.
    #[arg(
        long,
        env = "KEYBOUND_DATA_DIR",
        value_name = "DIR",
        default_value = "keybound-data",
        global = true
    )]
    data_dir: Option<PathBuf>,
    /// Database URL: `sqlite://FILE` (one node) or `postgres://…` (any
    /// number of nodes on one database); default: DATA_DIR/keybound.db.
    #[arg(long, env = "KEYBOUND_DATABASE_URL", value_name = "URL", global = true)]
    database_url: Option<String>,
    /// What an acknowledged write survives.
    #[arg(
        long,
        env = "KEYBOUND_DURABILITY",
        value_name = "LEVEL",
        value_enum,
        default_value = "full",
        global = true
    )]
    durability: Option<Durability>,
}

impl StoreSettings {
    /// The database URL; for the embedded default, creates the data
    /// directory first (`serve` and `init`, which may create the database).
    pub(crate) fn database_url(&self) -> Result<String, String> {
        if self.database_url.is_none() {
            let dir = required(&self.data_dir, "data_dir")?;
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        self.located_url()
    }

    /// The database URL, creating nothing: where the other commands look.
    pub(crate) fn located_url(&self) -> Result<String, String> {
        if let Some(url) = &self.database_url {
            return Ok(url.clone());
        }
        let dir = required(&self.data_dir, "data_dir")?;
        Ok(format!("sqlite://{}", dir.join("keybound.db").display()))
    }

    /// What a commit survives (the store's default unless set).
    pub(crate) fn durability(&self) -> keybound_store::Durability {
        self.durability.map(Into::into).unwrap_or_default()
    }
}

/// A database URL fit for a log line: a password in it becomes `***`.
pub(crate) fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{user}:***@{host}"),
            None => authority.to_owned(),
        },
        None => authority.to_owned(),
    };
    let path = match path.split_once('?') {
        Some((path, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some(("password", _)) => "password=***".to_owned(),
                    _ => pair.to_owned(),
                })
                .collect();
            format!("{path}?{}", query.join("&"))
        }
        None => path.to_owned(),
    };
    format!("{scheme}://{authority}{path}")
}
