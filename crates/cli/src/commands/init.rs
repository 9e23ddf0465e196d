//! `keybound init`: creates the database (and brings its schema up to
//! date). With `serve`, the only command that may create one: the others
//! refuse and say where they looked.

use std::process::ExitCode;

use clap::Args;

use crate::app::{self, ServiceSettings};
use crate::settings::{redact_password, Sources, StoreSettings};

/// Create the database (or bring an existing one's schema up to date).
#[derive(Args, Debug)]
pub(crate) struct Init {
    #[command(flatten)]
    store: StoreSettings,
}

impl Init {
    /// Opens (creating) the database and says what it did.
    pub(crate) async fn run(self, sources: &Sources) -> Result<ExitCode, String> {
        let settings = ServiceSettings {
            store: sources.resolve(self.store)?,
            ..ServiceSettings::default()
        };
        let url = settings.store.located_url()?;
        let existed = keybound_store::Store::initialised(&url)
            .await
            .unwrap_or(false);
        app::service(&settings).await?;
        let shown = redact_password(&url);
        if existed {
            println!("database at {shown} is up to date");
        } else {
            println!("created the database at {shown}");
            println!("next: keybound serve (with the same --data-dir or --database-url)");
        }
        Ok(ExitCode::SUCCESS)
    }
}
