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
    target: Target,
    authenticator: Authenticator,
    cookies: Vec<(String, String)>,
    /// Registered credentials, by name.
    pub credentials: Vec<(String, Credential)>,
}

impl Agent {
    /// A fresh agent (empty cookie jar) sharing `http`'s connection pool.
    pub fn new(http: reqwest::Client, target: Target) -> Agent {
        Agent {
            http,
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

fn field(v: Option<&Value>) -> Result<Vec<u8>, Failed> {
    v.and_then(Value::as_str)
        .and_then(|s| keybound_webauthn::b64::decode(s).ok())
        .ok_or_else(|| Failed(format!("missing or not base64url: {v:?}")))
}
