//! `keybound workload ca show|rotate`.

use clap::Subcommand;
use keybound_service::Service;

use crate::output;

#[derive(Subcommand, Debug)]
pub(crate) enum CaCommand {
    /// Show the bundle: the X.509 authorities, JWT keys, sequence.
    Show {
        /// Print the SPIFFE bundle document (JSON).
        #[arg(long)]
        json: bool,
    },
    /// Take the CA's next phase now: prepare the next authority (published,
    /// not signing) or, if one is prepared, activate it. The jobs runner
    /// does this on schedule; this is for a compromised or misissued key.
    Rotate,
}

pub(crate) async fn run(service: &Service, command: CaCommand) -> Result<(), String> {
    match command {
        CaCommand::Rotate => {
            let op = super::operator();
            let done = service
                .rotate_workload_ca(Some((&op).into()), true)
                .await
                .map_err(|e| super::error("ca rotate", e))?;
            if done.is_empty() {
                return output::write_out("nothing changed (another server just did it)\n");
            }
            output::write_out(&done.iter().map(|d| format!("{d}\n")).collect::<String>())
        }
        CaCommand::Show { json } => {
            if json {
                let doc = service
                    .workload_bundle_json()
                    .await
                    .map_err(|e| super::error("ca show", e))?;
                return output::write_out(&format!(
                    "{}\n",
                    output::json(
                        &serde_json::from_str::<serde_json::Value>(&doc)
                            .map_err(|e| e.to_string())?
                    )?
                ));
            }
            let bundle = service
                .workload_bundle()
                .await
                .map_err(|e| super::error("ca show", e))?;
            output::write_out(&format!(
                "trust domain: {}\nsequence: {}\nrefresh hint: {} s\nx509 authorities: {}\njwt authorities: {}\n",
                bundle.trust_domain,
                bundle.sequence,
                bundle.refresh_hint_s,
                bundle.x509_authorities.len(),
                bundle.jwt_authorities.len()
            ))
        }
    }
}
