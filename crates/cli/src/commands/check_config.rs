//! `keybound check-config`: the start checks of `serve` without serving
//! (and without opening the database): every `serve` flag and the config
//! file, the same checks, "ok" and the resolved site, or the problems and
//! exit status 1.

use std::process::ExitCode;

use clap::Args;

use crate::app;
use crate::commands::serve::Serve;
use crate::settings::{redact_password, Sources};

/// Check the settings `serve` would run with, and print the site.
#[derive(Args, Debug)]
pub(crate) struct CheckConfig {
    #[command(flatten)]
    serve: Serve,
}

impl CheckConfig {
    /// Resolves and checks; prints the result.
    pub(crate) async fn run(self, sources: &Sources) -> Result<ExitCode, String> {
        let settings = self.serve.settings(sources)?;
        let report = app::checked(&settings)?;
        report.print();
        if !report.problems.is_empty() {
            return Ok(ExitCode::FAILURE);
        }
        let site = &settings.service.site;
        let origins = site.origins()?;
        println!("ok");
        println!("open: {}", origins.first().map_or("", String::as_str));
        println!("RP ID: {}", site.rp_id()?);
        println!("origins: {}", origins.join(", "));
        println!("listen: {}", site.listen()?);
        println!(
            "data: {}",
            redact_password(&settings.service.store.located_url()?)
        );
        Ok(ExitCode::SUCCESS)
    }
}
