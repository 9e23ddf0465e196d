//! keybound end to end in process, for the targets that fuzz what a client
//! sends: the real router over a fresh in-memory SQLite store for every
//! input, with a fixed clock and a seeded RNG, so an input means the same
//! thing on every run (a crash reproduces from its file alone) and the
//! challenges the service hands out are the same ones the seed corpus
//! answered (`make-seeds` builds it through these same scenes).
//!
//! The property every target checks: no panic and no 5xx, whatever the
//! client sends.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use keybound_server::{router, AppState, MAX_BODY};
use keybound_service::{Clock, Config, Service};
use keybound_store::Store;
use keybound_webauthn::OriginPolicy;
use rand_chacha::rand_core::SeedableRng;
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::passkey::Passkey;
use crate::{ORIGIN, RP_ID};

/// Every input runs at this instant.
pub const NOW_MS: i64 = 1_800_000_000_000;

struct FixedClock;

impl Clock for FixedClock {
    fn now_ms(&self) -> i64 {
        NOW_MS
    }
}

/// The runtime every input runs on (one thread: inputs run one at a time).
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime")
    })
}

/// How a fuzzed request deviates from what the pages send: the first
/// byte of an input.
#[derive(Debug, Clone, Copy, Default)]
pub struct Flags(pub u8);

impl Flags {
    /// No cookies at all (a request from another browser or a script).
    pub fn no_cookies(self) -> bool {
        self.0 & 0x01 != 0
    }
    /// The browser is the one signed in as `ada` (a session cookie).
    pub fn signed_in(self) -> bool {
        self.0 & 0x02 != 0
    }
    /// The server runs with open registration.
    pub fn open_registration(self) -> bool {
        self.0 & 0x04 != 0
    }
    /// No `Content-Type: application/json`.
    pub fn no_content_type(self) -> bool {
        self.0 & 0x08 != 0
    }
    /// `Origin` and `Sec-Fetch-Site` of another site.
    pub fn cross_site(self) -> bool {
        self.0 & 0x10 != 0
    }
    /// Username-less sign-in (no name in the assertion options).
    pub fn username_less(self) -> bool {
        self.0 & 0x20 != 0
    }
}

/// A browser: the cookies the server set, sent back.
#[derive(Debug, Clone, Default)]
pub struct Browser {
    cookies: Vec<(String, String)>,
}

/// One keybound server in process.
pub struct App {
    router: Router,
    /// The service behind it (invitations, the store).
    pub service: Arc<Service>,
}

/// What a response said.
pub struct Reply {
    /// Its status.
    pub status: StatusCode,
    /// Its body.
    pub body: Vec<u8>,
}

impl Reply {
    /// The body as JSON (`Null` when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

impl App {
    /// A fresh server on an empty in-memory database.
    pub async fn new(open_registration: bool) -> App {
        let store = Store::open("sqlite::memory:").await.expect("store");
        let origins = OriginPolicy::exact([ORIGIN]).expect("origin");
        let mut config = Config::new(RP_ID, origins, [0x5a; 32]);
        config.open_registration = open_registration;
        let service = Arc::new(Service::new(
            store,
            config,
            Arc::new(FixedClock),
            Box::new(rand_chacha::ChaCha20Rng::seed_from_u64(12)),
        ));
        App {
            router: router(AppState::new(service.clone(), false)),
            service,
        }
    }

    /// Sends a request from `browser` (its cookies unless `flags` drop
    /// them, JSON and same-origin headers unless `flags` change them),
    /// keeps the cookies the response sets, and checks the property every
    /// target checks: no 5xx.
    pub async fn send(
        &self,
        browser: &mut Browser,
        method: &str,
        path: &str,
        body: Vec<u8>,
        flags: Flags,
    ) -> Option<Reply> {
        let mut request = Request::builder().method(method).uri(path);
        if !flags.no_cookies() && !browser.cookies.is_empty() {
            let cookie: Vec<String> = browser
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            request = request.header(header::COOKIE, cookie.join("; "));
        }
        if method == "POST" && !flags.no_content_type() {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        let (origin, site) = if flags.cross_site() {
            ("https://evil.example", "cross-site")
        } else {
            (ORIGIN, "same-origin")
        };
        request = request
            .header(header::ORIGIN, origin)
            .header("sec-fetch-site", site)
            .header(header::USER_AGENT, "keybound-fuzz");
        // A path the fuzzer garbled past what a URI may hold is not a
        // request a client can send.
        let mut request = request.body(Body::from(body)).ok()?;
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([192, 0, 2, 1], 40_000))));
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .unwrap_or_else(|e| match e {});
        let status = response.status();
        for set in response.headers().get_all(header::SET_COOKIE) {
            let Some((pair, _)) = set.to_str().ok().and_then(|s| s.split_once(';')) else {
                continue;
            };
            if let Some((k, v)) = pair.split_once('=') {
                browser.cookies.retain(|(name, _)| name != k);
                if !v.is_empty() {
                    browser.cookies.push((k.to_owned(), v.to_owned()));
                }
            }
        }
        let body = axum::body::to_bytes(response.into_body(), MAX_BODY * 4)
            .await
            .expect("response body")
            .to_vec();
        assert!(
            !status.is_server_error(),
            "{method} {path}: {status}: {}",
            String::from_utf8_lossy(&body)
        );
        Some(Reply { status, body })
    }

    /// POSTs JSON the way the pages do.
    pub async fn post(&self, browser: &mut Browser, path: &str, body: &Value) -> Reply {
        self.send(
            browser,
            "POST",
            path,
            body.to_string().into_bytes(),
            Flags::default(),
        )
        .await
        .expect("a well-formed request")
    }
}

/// The passkey `ada` enrolled with.
pub fn ada_passkey() -> Passkey {
    Passkey::new(1)
}

/// The passkey `bob` enrols with.
pub fn bob_passkey() -> Passkey {
    Passkey::new(2)
}

/// The world every target starts from: `ada` (an administrator when
/// `admin`) enrolled with [`ada_passkey`] from `ada`'s browser, which is
/// signed in at tier 2 (device-bound, user verified); `bob` invited, his
/// invitation token returned.
pub struct Scene {
    /// The server.
    pub app: App,
    /// `ada`'s browser, signed in.
    pub ada: Browser,
    /// `ada`'s user handle (base64url), as her passkey holds it.
    pub ada_user_handle: String,
    /// `bob`'s open invitation.
    pub bob_token: String,
}

impl Scene {
    /// Builds the scene through the service and the HTTP API.
    pub async fn new(open_registration: bool, admin: bool) -> Scene {
        let app = App::new(open_registration).await;
        let token = app
            .service
            .invite("ada", admin, &keybound_service::Operator::local("fuzz"))
            .await
            .expect("invite ada");
        let mut ada = Browser::default();
        let options = app
            .post(
                &mut ada,
                "/attestation/options",
                &json!({ "token": token.value }),
            )
            .await
            .json();
        let ada_user_handle = options["user"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let response = ada_passkey().register(&options);
        let done = app.post(&mut ada, "/attestation/result", &response).await;
        assert_eq!(done.status, StatusCode::OK, "ada enrols");
        let bob = app
            .service
            .invite("bob", false, &keybound_service::Operator::local("fuzz"))
            .await
            .expect("invite bob");
        Scene {
            app,
            ada,
            ada_user_handle,
            bob_token: bob.value,
        }
    }

    /// The browser a fuzzed request comes from: `ada`'s (signed in), or a
    /// fresh one.
    pub fn browser(&self, flags: Flags) -> Browser {
        if flags.signed_in() {
            self.ada.clone()
        } else {
            Browser::default()
        }
    }

    /// Registration options for `bob`'s invitation, asked for by `browser`:
    /// the ceremony a fuzzed `/attestation/result` answers.
    pub async fn bob_registration(&self, browser: &mut Browser) -> Value {
        self.app
            .post(
                browser,
                "/attestation/options",
                &json!({ "token": self.bob_token }),
            )
            .await
            .json()
    }

    /// Sign-in options for `ada` (or username-less), asked for by
    /// `browser`: the ceremony a fuzzed `/assertion/result` answers.
    pub async fn ada_sign_in(&self, browser: &mut Browser, username_less: bool) -> Value {
        let name = if username_less { "" } else { "ada" };
        self.app
            .post(
                browser,
                "/assertion/options",
                &json!({ "username": name, "userVerification": "required" }),
            )
            .await
            .json()
    }
}

/// Bytes as a URI query: what may stand in one as is, the rest
/// percent-encoded, so the fuzzer reaches any decoded text while `&`, `=`
/// and `%` keep their meaning.
pub fn as_query(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len() * 3);
    for &b in data {
        if b.is_ascii_alphanumeric() || b"-._~!$'()*+,;=:@/?&%".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
