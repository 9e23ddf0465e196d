//! `keybound oidc client add|list|remove`: the relying parties the OpenID
//! Connect provider serves, on the database of a server set up before
//! (never a new one). `add` prints the `client_id` and, for a
//! confidential client, its secret: once, as only its hash is kept.

use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use keybound_service::names::text::escape;
use keybound_service::{
    ClientContext, ClientRegistration, OidcClient, Operator, Refusal, Service, ServiceError,
};
use serde::Serialize;

use crate::app::{self, ServiceSettings};
use crate::output::{self, Format, Table};
use crate::settings::{Sources, StoreSettings};

/// Manage OpenID Connect clients (the apps that sign people in here).
#[derive(Args, Debug)]
pub(crate) struct Oidc {
    #[command(flatten)]
    store: StoreSettings,
    #[command(subcommand)]
    command: OidcCommand,
}

#[derive(Subcommand, Debug)]
enum OidcCommand {
    /// Registered clients.
    #[command(subcommand)]
    Client(ClientCommand),
}

/// The ID token signing algorithm a client asks for.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum IdTokenAlg {
    /// ECDSA P-256 with SHA-256 (the default).
    #[value(name = "ES256")]
    Es256,
    /// RSASSA-PKCS1-v1_5 with SHA-256, for older libraries.
    #[value(name = "RS256")]
    Rs256,
}

/// How a confidential client authenticates at the token endpoint.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum AuthMethod {
    /// HTTP Basic (the default).
    #[value(name = "client_secret_basic")]
    Basic,
    /// `client_id` and `client_secret` in the form body.
    #[value(name = "client_secret_post")]
    Post,
    /// A JWT signed with the client's own key (`--jwks-file`): no secret.
    #[value(name = "private_key_jwt")]
    PrivateKeyJwt,
}

#[derive(Subcommand, Debug)]
enum ClientCommand {
    /// Register a client; prints its client_id and, unless --public, its
    /// secret (shown once).
    Add {
        /// The client's name (unique).
        name: String,
        /// An exact redirect URI (repeatable): https, or http on loopback.
        #[arg(long = "redirect-uri", value_name = "URI", required = true)]
        redirect_uris: Vec<String>,
        /// A public client (a single-page or native app): no secret, PKCE
        /// alone protects its codes.
        #[arg(long)]
        public: bool,
        /// How a confidential client authenticates at the token endpoint.
        #[arg(long, value_name = "METHOD")]
        token_auth_method: Option<AuthMethod>,
        /// The client's JWK Set (public keys only), for private_key_jwt.
        #[arg(long, value_name = "FILE")]
        jwks_file: Option<std::path::PathBuf>,
        /// Where back-channel logout tokens are sent.
        #[arg(long, value_name = "URI")]
        backchannel_logout_uri: Option<String>,
        /// Where RP-initiated logout may return (repeatable).
        #[arg(long = "post-logout-redirect-uri", value_name = "URI")]
        post_logout_redirect_uris: Vec<String>,
        /// Give this client a pairwise `sub` (unlinkable across clients).
        #[arg(long)]
        pairwise: bool,
        /// The ID token signing algorithm.
        #[arg(long, value_name = "ALG", default_value = "ES256")]
        id_token_alg: IdTokenAlg,
        /// Print JSON instead of lines.
        #[arg(long)]
        json: bool,
    },
    /// List the registered clients.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Remove a client: its codes and tokens stop working at once.
    Remove {
        /// The client's name.
        name: String,
    },
}

fn operator() -> Operator {
    Operator::local("cli")
}

impl Oidc {
    /// Opens the existing database and runs the command.
    pub(crate) async fn run(self, sources: &Sources) -> Result<ExitCode, String> {
        let settings = ServiceSettings {
            store: sources.resolve(self.store)?,
            ..ServiceSettings::default()
        };
        let service = app::existing_service(&settings).await?;
        let OidcCommand::Client(command) = self.command;
        match command {
            ClientCommand::Add {
                name,
                redirect_uris,
                public,
                token_auth_method,
                jwks_file,
                backchannel_logout_uri,
                post_logout_redirect_uris,
                pairwise,
                id_token_alg,
                json,
            } => {
                let jwks =
                    match jwks_file {
                        Some(path) => Some(std::fs::read_to_string(&path).map_err(|e| {
                            format!("cannot read --jwks-file {}: {e}", path.display())
                        })?),
                        None => None,
                    };
                let registration = ClientRegistration {
                    name,
                    redirect_uris,
                    public,
                    auth_method: token_auth_method.map(|m| {
                        match m {
                            AuthMethod::Basic => "client_secret_basic",
                            AuthMethod::Post => "client_secret_post",
                            AuthMethod::PrivateKeyJwt => "private_key_jwt",
                        }
                        .to_owned()
                    }),
                    backchannel_logout_uri,
                    post_logout_redirect_uris,
                    pairwise,
                    id_token_alg: Some(
                        match id_token_alg {
                            IdTokenAlg::Es256 => "ES256",
                            IdTokenAlg::Rs256 => "RS256",
                        }
                        .to_owned(),
                    ),
                    jwks,
                };
                add(&service, registration, Format::json_if(json)).await?;
            }
            ClientCommand::List { json } => list(&service, Format::json_if(json)).await?,
            ClientCommand::Remove { name } => remove(&service, &name).await?,
        }
        Ok(ExitCode::SUCCESS)
    }
}

/// A client as `oidc client list --json` prints it (and `add --json`,
/// with the secret).
#[derive(Serialize)]
struct Listed {
    name: String,
    client_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_secret: Option<String>,
    public: bool,
    token_endpoint_auth_method: String,
    redirect_uris: Vec<String>,
    post_logout_redirect_uris: Vec<String>,
    backchannel_logout_uri: Option<String>,
    pairwise: bool,
    id_token_alg: String,
    created_at: String,
}

impl Listed {
    fn of(c: &OidcClient, secret: Option<String>) -> Listed {
        Listed {
            name: c.name.clone(),
            client_id: c.client_id.clone(),
            client_secret: secret,
            public: c.public,
            token_endpoint_auth_method: c.auth_method.clone(),
            redirect_uris: c.redirect_uris.clone(),
            post_logout_redirect_uris: c.post_logout_redirect_uris.clone(),
            backchannel_logout_uri: c.backchannel_logout_uri.clone(),
            pairwise: c.pairwise,
            id_token_alg: c.id_token_alg.clone(),
            created_at: output::iso(c.created_ms),
        }
    }
}

async fn add(
    service: &Service,
    registration: ClientRegistration,
    format: Format,
) -> Result<(), String> {
    let name = registration.name.clone();
    let added = match service
        .add_oidc_client(
            (&operator()).into(),
            registration,
            &ClientContext::default(),
        )
        .await
    {
        Ok(added) => added,
        Err(ServiceError::Rejected(reason)) => return Err(refused(&name, reason)),
        Err(e) => return Err(e.to_string()),
    };
    let listed = Listed::of(&added.client, added.secret.clone());
    match format {
        Format::Json => output::write_out(&format!("{}\n", output::json(&listed)?)),
        Format::Table => {
            let mut text = format!("client_id: {}\n", listed.client_id);
            if let Some(secret) = &listed.client_secret {
                text.push_str(&format!("client_secret: {secret}\n"));
            }
            output::write_out(&text)?;
            if listed.client_secret.is_some() {
                eprintln!(
                    "the secret is shown once: keybound keeps only its hash. \
                     Remove the client and add it again to get a new one."
                );
            }
            Ok(())
        }
    }
}

fn refused(name: &str, reason: Refusal) -> String {
    match reason {
        Refusal::NameTaken => format!("a client called '{name}' is already registered"),
        Refusal::InvalidName => format!(
            "'{name}' cannot be a client name: 1-64 characters without spaces or control \
             characters"
        ),
        Refusal::OidcInvalidRedirectUri => "a redirect URI must be absolute, https (or http \
             on a loopback address such as 127.0.0.1 or localhost), with no fragment"
            .to_owned(),
        Refusal::OidcInvalidClientJwks => "--jwks-file must be a JWK Set ({\"keys\": [...]}) \
             of 1 to 8 public EC P-256, RSA (2048 bits or more) or Ed25519 keys, with no \
             private members"
            .to_owned(),
        Refusal::OidcUnsupportedAlgorithm => {
            "this server cannot sign ID tokens with that algorithm yet; use ES256".to_owned()
        }
        other => format!("refused: {other}"),
    }
}

async fn list(service: &Service, format: Format) -> Result<(), String> {
    let clients: Vec<Listed> = service
        .oidc_clients((&operator()).into())
        .await
        .map_err(|e| e.to_string())?
        .iter()
        .map(|c| Listed::of(c, None))
        .collect();
    output::print(format, &clients, |clients| {
        let mut table = Table::new(&["NAME", "CLIENT ID", "TYPE", "REDIRECT URIS", "CREATED"]);
        for c in clients {
            let kind = if c.public { "public" } else { "confidential" };
            table.row([
                c.name.as_str(),
                &c.client_id,
                kind,
                &c.redirect_uris.join(" "),
                &c.created_at,
            ]);
        }
        table
    })
}

async fn remove(service: &Service, name: &str) -> Result<(), String> {
    match service
        .remove_oidc_client((&operator()).into(), name, &ClientContext::default())
        .await
    {
        Ok(removed) => {
            println!(
                "removed client '{}' ({})",
                escape(&removed.name),
                removed.client_id
            );
            Ok(())
        }
        Err(ServiceError::NotFound) => Err(format!(
            "no client called '{name}'; `keybound oidc client list` lists them"
        )),
        Err(e) => Err(e.to_string()),
    }
}
