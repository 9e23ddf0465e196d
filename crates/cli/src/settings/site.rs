//! Where people reach the server: its address, RP ID and origins. `serve`
//! listens there; `admin invite` prints its links with them.

use std::net::SocketAddr;

use clap::{ArgAction, Args};
use serde::{Deserialize, Serialize};

use super::required;

/// The server's address and WebAuthn identity.
#[derive(Args, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
#[command(next_help_heading = "Site")]
pub(crate) struct SiteSettings {
    /// Address to listen on (with RP ID localhost, also the default
    /// origin's port).
    #[arg(
        long,
        env = "KEYBOUND_LISTEN",
        value_name = "ADDR",
        default_value = "127.0.0.1:8080"
    )]
    listen: Option<SocketAddr>,
    /// The WebAuthn RP ID.
    #[arg(
        long,
        env = "KEYBOUND_RP_ID",
        value_name = "ID",
        default_value = "localhost"
    )]
    rp_id: Option<String>,
    /// Allowed origin (repeatable); default from the listen address and RP
    /// ID.
    #[arg(
        long = "origin",
        env = "KEYBOUND_ORIGIN",
        value_name = "URL",
        value_delimiter = ','
    )]
    origins: Option<Vec<String>>,
    /// Accept origins browsers will not run passkeys on safely: http
    /// origins other than http://localhost, and https origins this plain
    /// listener serves with neither TLS nor a declared proxy. For tests
    /// and demos only; the start is refused without it.
    #[arg(long, env = "KEYBOUND_ALLOW_INSECURE_ORIGIN", action = ArgAction::SetTrue)]
    allow_insecure_origin: Option<bool>,
}

impl SiteSettings {
    /// The address to listen on.
    pub(crate) fn listen(&self) -> Result<SocketAddr, String> {
        required(&self.listen, "listen").copied()
    }

    /// The RP ID.
    pub(crate) fn rp_id(&self) -> Result<&str, String> {
        required(&self.rp_id, "rp_id").map(String::as_str)
    }

    /// Whether insecure origins were explicitly allowed.
    pub(crate) fn allow_insecure_origin(&self) -> bool {
        self.allow_insecure_origin.unwrap_or(false)
    }

    /// The origins given, or the one the listen address and RP ID imply:
    /// `http://localhost:PORT` for `localhost`, else `https://RP_ID`.
    pub(crate) fn origins(&self) -> Result<Vec<String>, String> {
        Ok(match &self.origins {
            Some(origins) if !origins.is_empty() => origins.clone(),
            _ if self.rp_id()? == "localhost" => {
                vec![format!("http://localhost:{}", self.listen()?.port())]
            }
            _ => vec![format!("https://{}", self.rp_id()?)],
        })
    }
}
