//! One virtual user agent: an HTTP client with its own cookie jar and a
//! software authenticator, running whole ceremonies against the FIDO2
//! conformance API (`/attestation/*`, `/assertion/*`).

use keybound_soft_authenticator::{Algorithm, Authenticator, Ceremony, Credential};
use reqwest::header::{CONTENT_TYPE, COOKIE, SET_COOKIE};
use serde_json::{json, Value};

/// Where the server is and who it thinks it is.
#[derive(Debug, Clone)]
pub struct Target {
    /// Base URL, e.g. `http://127.0.0.1:8080`.
    pub url: String,
    /// The server's RP ID (`--rp-id`).
    pub rp_id: String,
    /// The origin the server accepts (`--origin`).
    pub origin: String,
}

/// A ceremony that did not end in `"status": "ok"`.
#[derive(Debug)]
pub struct Failed(pub String);

/// A user agent with one authenticator and the credentials it made.
pub struct Agent {
    http: reqwest::Client,
    /// The same pool's settings, but a redirect is an answer, not followed.
    no_redirects: reqwest::Client,
    target: Target,
    authenticator: Authenticator,
    cookies: Vec<(String, String)>,
    /// Registered credentials, by name.
    pub credentials: Vec<(String, Credential)>,
}

impl Agent {
    /// A fresh agent (empty cookie jar) sharing `http`'s connection pool.
    pub fn new(http: reqwest::Client, no_redirects: reqwest::Client, target: Target) -> Agent {
        Agent {
            http,
            no_redirects,
            target,
            authenticator: Authenticator::default(),
            cookies: Vec::new(),
            credentials: Vec::new(),
        }
    }

    async fn post(&mut self, path: &str, body: &Value) -> Result<Value, Failed> {
        let cookie: Vec<String> = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let response = self
            .http
            .post(format!("{}{path}", self.target.url))
            .header(CONTENT_TYPE, "application/json")
            .header(COOKIE, cookie.join("; "))
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| Failed(format!("{path}: {e}")))?;
        let status = response.status();
        for set in response.headers().get_all(SET_COOKIE) {
            let Some((pair, _)) = set.to_str().unwrap_or_default().split_once(';') else {
                continue;
            };
            if let Some((k, v)) = pair.split_once('=') {
                self.cookies.retain(|(name, _)| name != k);
                self.cookies.push((k.to_owned(), v.to_owned()));
            }
        }
        let bytes = response
            .bytes()
            .await
            .map_err(|e| Failed(format!("{path}: {e}")))?;
        let reply: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status.is_success() && reply.get("status").and_then(Value::as_str) == Some("ok") {
            Ok(reply)
        } else {
            Err(Failed(format!("{path}: {status} {reply}")))
        }
    }

    /// Registers `name` (the server must run with `--open-registration`).
    pub async fn register(&mut self, name: &str) -> Result<(), Failed> {
        self.cookies.clear();
        let options = self
            .post(
                "/attestation/options",
                &json!({"username": name, "displayName": name}),
            )
            .await?;
        let user = field(options.pointer("/user/id"))?;
        let challenge = field(options.get("challenge"))?;
        let (credential, answer) = self.authenticator.register(
            Algorithm::Es256,
            &Ceremony {
                rp_id: &self.target.rp_id,
                origin: &self.target.origin,
                challenge: &challenge,
            },
            &user,
        );
        self.post("/attestation/result", &answer).await?;
        self.credentials.push((name.to_owned(), credential));
        Ok(())
    }

    /// Signs in with credential `which`: by name, or username-less (the
    /// server finds the account from the user handle).
    pub async fn sign_in(&mut self, which: usize, by_name: bool) -> Result<(), Failed> {
        let name = match self.credentials.get(which) {
            Some((name, _)) if by_name => name.clone(),
            Some(_) => String::new(),
            None => return Err(Failed("no credential registered".into())),
        };
        // A fresh browser each time: no session cookie, so no step-up path.
        self.cookies.clear();
        let options = self
            .post("/assertion/options", &json!({"username": name}))
            .await?;
        let challenge = field(options.get("challenge"))?;
        let Some((_, credential)) = self.credentials.get_mut(which) else {
            return Err(Failed("no credential registered".into()));
        };
        let answer = self.authenticator.assert(
            credential,
            &Ceremony {
                rp_id: &self.target.rp_id,
                origin: &self.target.origin,
                challenge: &challenge,
            },
        );
        self.post("/assertion/result", &answer).await?;
        Ok(())
    }
}

/// An OpenID Connect public client the agent signs in to (registered
/// beforehand with `keybound oidc client add NAME --public`).
#[derive(Debug, Clone)]
pub struct OidcClient {
    /// Its `client_id`.
    pub client_id: String,
    /// One of its registered redirect URIs.
    pub redirect_uri: String,
}

impl Agent {
    /// One authorization code flow for `client` on the agent's live
    /// session: `/oauth2/authorize` (PKCE S256) and the code exchanged at
    /// `/oauth2/token`; what the token endpoint costs a relying party.
    pub async fn code_flow(&mut self, client: &OidcClient) -> Result<(), Failed> {
        let mut bytes = [0u8; 32];
        aws_lc_rs::rand::fill(&mut bytes).map_err(|_| Failed("rng".into()))?;
        let verifier = keybound_webauthn::b64::encode(&bytes);
        let challenge = keybound_webauthn::b64::encode(
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes()).as_ref(),
        );
        let query = url_form(&[
            ("response_type", "code"),
            ("client_id", &client.client_id),
            ("redirect_uri", &client.redirect_uri),
            ("scope", "openid"),
            ("state", "load"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ]);
        let cookie: Vec<String> = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let response = self
            .no_redirects
            .get(format!("{}/oauth2/authorize?{query}", self.target.url))
            .header(COOKIE, cookie.join("; "))
            .send()
            .await
            .map_err(|e| Failed(format!("authorize: {e}")))?;
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let code = location
            .split_once('?')
            .map(|(_, q)| q)
            .unwrap_or_default()
            .split('&')
            .find_map(|pair| pair.strip_prefix("code="))
            .ok_or_else(|| Failed(format!("authorize: {} to {location:?}", response.status())))?
            .to_owned();
        let body = url_form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &client.redirect_uri),
            ("client_id", &client.client_id),
            ("code_verifier", &verifier),
        ]);
        let response = self
            .http
            .post(format!("{}/oauth2/token", self.target.url))
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .map_err(|e| Failed(format!("token: {e}")))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| Failed(format!("token: {e}")))?;
        let reply: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status.is_success() && reply.get("id_token").is_some() {
            Ok(())
        } else {
            Err(Failed(format!("token: {status} {reply}")))
        }
    }
}

/// `application/x-www-form-urlencoded` of `pairs`.
fn url_form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", percent(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Percent-encodes everything but the unreserved characters.
fn percent(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn field(v: Option<&Value>) -> Result<Vec<u8>, Failed> {
    v.and_then(Value::as_str)
        .and_then(|s| keybound_webauthn::b64::decode(s).ok())
        .ok_or_else(|| Failed(format!("missing or not base64url: {v:?}")))
}
