//! The pages as a person uses them: headless Chromium (Debian's `chromium`)
//! with a CDP virtual authenticator, against the real server binary.
//! Screenshots of every page go to `target/tmp/browser/<test>/` (printed at
//! the end), at 1280 and 390 px wide and in dark mode; they are artefacts
//! of the run, not part of the repository. Every page shot is also checked
//! with axe-core (WCAG 2.2 A and AA rules) in light and dark mode: a
//! serious or critical violation fails the test, and so does a page wider
//! than a 390 px phone.
//!
//! Without a Chromium binary the tests say so loudly and pass, except under
//! CI (`CI` set), where a missing browser fails them. axe-core is fetched
//! with npm into the target directory once per run; without npm or the
//! registry the checks are skipped loudly, except under CI.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

mod support;

#[path = "browser/dbsc.rs"]
mod dbsc;
#[path = "browser/devices.rs"]
mod devices;
#[path = "browser/forward.rs"]
mod forward;
#[path = "browser/tasks.rs"]
mod tasks;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chromiumoxide::browser::{Browser, BrowserConfig};
use chromiumoxide::cdp::browser_protocol::emulation::{
    ClearDeviceMetricsOverrideParams, MediaFeature, SetDeviceMetricsOverrideParams,
    SetEmulatedMediaParams,
};
use chromiumoxide::cdp::browser_protocol::page::{
    AddScriptToEvaluateOnNewDocumentParams, RemoveScriptToEvaluateOnNewDocumentParams,
};
use chromiumoxide::cdp::browser_protocol::web_authn::{
    AddCredentialParams, AddVirtualAuthenticatorParams, AuthenticatorId, AuthenticatorProtocol,
    AuthenticatorTransport, Credential, EnableParams, EventCredentialDeleted,
    EventCredentialUpdated, GetCredentialsParams, RemoveCredentialParams,
    SetAutomaticPresenceSimulationParams, VirtualAuthenticatorOptions,
};
use chromiumoxide::page::ScreenshotParams;
use chromiumoxide::Page;
use futures::StreamExt;
use support::Server;

const WAIT: Duration = Duration::from_secs(20);

fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("KEYBOUND_CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ]
    .into_iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
}

/// The server on a port chosen up front, since the origin names it.
fn serve(extra: &[&str]) -> (Server, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let origin = format!("http://localhost:{port}");
    let server = Server::start_on(&format!("127.0.0.1:{port}"), "localhost", &origin, extra);
    (server, origin)
}

/// axe-core's source, fetched once per run with npm into the target
/// directory (`None`, after a loud message, where that is impossible and
/// this is not CI).
fn axe() -> Option<&'static str> {
    static AXE: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    AXE.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("axe");
        let script = dir.join("node_modules/axe-core/axe.min.js");
        if !script.exists() {
            let _ = std::fs::create_dir_all(&dir);
            let installed = std::process::Command::new("npm")
                .args(["install", "--no-audit", "--no-fund", "--silent", "--prefix"])
                .arg(&dir)
                .arg("axe-core@4")
                .status();
            if !installed.is_ok_and(|s| s.success()) {
                let message = "could not install axe-core with npm";
                if std::env::var_os("CI").is_some() {
                    panic!("{message}: the accessibility checks must run in CI");
                }
                eprintln!(
                    "\n{}\n!!! SKIPPING the accessibility checks: {message}\n{}\n",
                    "!".repeat(78),
                    "!".repeat(78)
                );
                return None;
            }
        }
        std::fs::read_to_string(&script).ok()
    })
    .as_deref()
}

/// The widths every page is shot and checked at: a laptop and a phone.
const WIDTHS: [i64; 2] = [1280, 390];

fn invite(server: &Server, name: &str) -> String {
    let (ok, url) = server.cli(&["admin", "invite", name]);
    assert!(ok, "invite {name}");
    url.trim().to_owned()
}

/// CDP's standard base64 as the base64url the pages and server use.
fn b64url(cdp: &str) -> String {
    cdp.replace('+', "-")
        .replace('/', "_")
        .trim_end_matches('=')
        .to_owned()
}

struct Chrome {
    browser: Browser,
    handler: tokio::task::JoinHandle<()>,
    page: Page,
    /// Virtual authenticators: each one a device.
    devices: Vec<AuthenticatorId>,
    origin: String,
    shots: PathBuf,
    taken: usize,
    /// Credential ids (base64url) the pages' signals made the provider forget.
    deleted: Arc<Mutex<Vec<String>>>,
    /// How many times a signal updated a credential's user details.
    updated: Arc<Mutex<usize>>,
    _profile: tempfile::TempDir,
}

impl Chrome {
    /// Chromium with one virtual authenticator, or `None` (after a loud
    /// message) where there is no Chromium and this is not CI.
    async fn launch(
        test: &str,
        origin: &str,
        authenticator: VirtualAuthenticatorOptions,
    ) -> Option<Chrome> {
        Chrome::launch_with(test, origin, authenticator, &[]).await
    }

    /// [`Chrome::launch`] with more command-line switches.
    async fn launch_with(
        test: &str,
        origin: &str,
        authenticator: VirtualAuthenticatorOptions,
        switches: &[String],
    ) -> Option<Chrome> {
        let Some(executable) = chromium() else {
            let message =
                "no Chromium found (install Debian's `chromium` or set KEYBOUND_CHROMIUM)";
            if std::env::var_os("CI").is_some() {
                panic!("{message}: the browser tests must run in CI");
            }
            eprintln!(
                "\n{}\n!!! SKIPPING browser test {test}: {message}\n{}\n",
                "!".repeat(78),
                "!".repeat(78)
            );
            return None;
        };
        let profile = tempfile::tempdir().unwrap();
        let config = BrowserConfig::builder()
            .chrome_executable(executable)
            .no_sandbox()
            .user_data_dir(profile.path())
            .window_size(1000, 900)
            .args([
                "--headless=new",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
            ])
            .args(switches.iter().map(String::as_str))
            .build()
            .unwrap();
        let (browser, mut events) = Browser::launch(config).await.unwrap();
        let handler = tokio::spawn(async move { while events.next().await.is_some() {} });
        let page = browser.new_page("about:blank").await.unwrap();
        page.execute(EnableParams::default()).await.unwrap();

        let deleted = Arc::new(Mutex::new(Vec::new()));
        let mut stream = page
            .event_listener::<EventCredentialDeleted>()
            .await
            .unwrap();
        let sink = deleted.clone();
        tokio::spawn(async move {
            while let Some(e) = stream.next().await {
                sink.lock().unwrap().push(b64url(e.credential_id.as_ref()));
            }
        });
        let updated = Arc::new(Mutex::new(0));
        let mut stream = page
            .event_listener::<EventCredentialUpdated>()
            .await
            .unwrap();
        let sink = updated.clone();
        tokio::spawn(async move {
            while stream.next().await.is_some() {
                *sink.lock().unwrap() += 1;
            }
        });

        let shots = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join("browser")
            .join(test);
        let _ = std::fs::remove_dir_all(&shots);
        std::fs::create_dir_all(&shots).unwrap();
        let mut chrome = Chrome {
            browser,
            handler,
            page,
            devices: Vec::new(),
            origin: origin.to_owned(),
            shots,
            taken: 0,
            deleted,
            updated,
            _profile: profile,
        };
        chrome.add_device(authenticator).await;
        Some(chrome)
    }

    /// Attaches another device; returns its index.
    async fn add_device(&mut self, options: VirtualAuthenticatorOptions) -> usize {
        let id = self
            .page
            .execute(AddVirtualAuthenticatorParams::new(options))
            .await
            .unwrap()
            .result
            .authenticator_id;
        self.devices.push(id);
        self.devices.len() - 1
    }

    /// Whether device `i` answers (a person touching it) or stays silent
    /// (a device out of reach).
    async fn reachable(&self, i: usize, yes: bool) {
        self.page
            .execute(SetAutomaticPresenceSimulationParams::new(
                self.devices[i].clone(),
                yes,
            ))
            .await
            .unwrap();
    }

    async fn goto(&self, url: &str) {
        let url = if url.starts_with("http") {
            url.to_owned()
        } else {
            format!("{}{url}", self.origin)
        };
        self.page.goto(url).await.unwrap();
    }

    async fn eval(&self, js: &str) -> Option<serde_json::Value> {
        self.page.evaluate(js).await.ok()?.into_value().ok()
    }

    /// Waits until the address (path and query) satisfies `want`.
    async fn wait_for_address(&self, what: &str, want: impl Fn(&str) -> bool) -> String {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let here = self
                .eval("location.pathname + location.search")
                .await
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            let ready = self
                .eval("document.readyState")
                .await
                .is_some_and(|v| v == "complete");
            if ready && want(&here) {
                return here;
            }
            if tokio::time::Instant::now() > deadline {
                let error = self.text("#error").await;
                panic!("waited for {what}; still at {here:?} (page error: {error:?})");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn wait_path(&self, path: &str) -> String {
        self.wait_for_address(path, |here| here.split('?').next() == Some(path))
            .await
    }

    /// The text of the first element matching `selector` ("" if none).
    async fn text(&self, selector: &str) -> String {
        let js = format!(
            "(document.querySelector({}) || {{textContent: ''}}).textContent",
            serde_json::to_string(selector).unwrap()
        );
        self.eval(&js)
            .await
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    async fn wait_text(&self, selector: &str, needle: &str) -> String {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let text = self.text(selector).await;
            if text.contains(needle) {
                return text;
            }
            if tokio::time::Instant::now() > deadline {
                panic!("{selector} never said {needle:?}; it says {text:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Clicks the first match of `selector`, retrying while the page is
    /// still replacing its document.
    async fn click(&self, selector: &str) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let attempt = match self.page.find_element(selector).await {
                Ok(element) => element.click().await.map(|_| ()),
                Err(e) => Err(e),
            };
            match attempt {
                Ok(()) => return,
                Err(e) if tokio::time::Instant::now() > deadline => panic!("{selector}: {e}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// Clicks something that navigates, and waits until the next document
    /// has loaded (whatever its address).
    async fn click_and_leave(&self, selector: &str) {
        self.eval("window.__kbLeaving = true").await;
        self.click(selector).await;
        let deadline = tokio::time::Instant::now() + WAIT;
        while self.eval("window.__kbLeaving === true").await != Some(false.into())
            || self.eval("document.readyState").await != Some("complete".into())
        {
            if tokio::time::Instant::now() > deadline {
                panic!("clicking {selector} never left the page");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Types into a field, retrying while the page is still settling: a
    /// script that re-renders the form between finding the node and typing
    /// into it makes Chromium forget the node id ("Could not find node with
    /// given id"), which is the page changing, not the test failing.
    async fn type_into(&self, selector: &str, text: &str) {
        let deadline = tokio::time::Instant::now() + WAIT;
        let clear = format!(
            "(() => {{ const e = document.querySelector({}); if (e) e.value = ''; }})()",
            serde_json::to_string(selector).unwrap()
        );
        loop {
            let attempt = match self.page.find_element(selector).await {
                Ok(element) => match element.click().await {
                    Ok(element) => element.type_str(text).await.map(|_| ()),
                    Err(e) => Err(e),
                },
                Err(e) => Err(e),
            };
            match attempt {
                Ok(()) => return,
                Err(e) if tokio::time::Instant::now() > deadline => panic!("{selector}: {e}"),
                Err(_) => {
                    self.eval(&clear).await;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }

    async fn count(&self, selector: &str) -> usize {
        let js = format!(
            "document.querySelectorAll({}).length",
            serde_json::to_string(selector).unwrap()
        );
        self.eval(&js)
            .await
            .and_then(|v| v.as_u64())
            .unwrap_or_default() as usize
    }

    /// Checks the page as it is now (axe-core in light and dark mode, no
    /// horizontal overflow on a phone) and shoots it at each of [`WIDTHS`]
    /// and in dark mode.
    async fn shot(&mut self, name: &str) {
        self.taken += 1;
        let n = self.taken;
        for dark in [false, true] {
            self.color_scheme(dark).await;
            self.audit(name, dark).await;
        }
        self.color_scheme(false).await;
        for width in WIDTHS {
            self.width(Some(width)).await;
            if width < 500 {
                let wide = self
                    .eval("document.documentElement.scrollWidth - window.innerWidth")
                    .await
                    .and_then(|v| v.as_i64())
                    .unwrap_or_default();
                assert!(
                    wide <= 0,
                    "{name}: {wide} px wider than a {width} px screen"
                );
            }
            self.save(&format!("{n:02}-{name}-{width}.png")).await;
        }
        self.width(Some(1280)).await;
        self.color_scheme(true).await;
        self.save(&format!("{n:02}-{name}-1280-dark.png")).await;
        self.color_scheme(false).await;
        self.width(None).await;
    }

    async fn save(&self, file: &str) {
        self.page
            .save_screenshot(
                ScreenshotParams::builder().full_page(true).build(),
                self.shots.join(file),
            )
            .await
            .unwrap();
    }

    /// Emulates a viewport `width` px wide (`None`: the window's own).
    async fn width(&self, width: Option<i64>) {
        match width {
            Some(width) => {
                self.page
                    .execute(SetDeviceMetricsOverrideParams::new(
                        width,
                        900,
                        1.0,
                        width < 500,
                    ))
                    .await
                    .unwrap();
            }
            None => {
                self.page
                    .execute(ClearDeviceMetricsOverrideParams::default())
                    .await
                    .unwrap();
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    /// `prefers-color-scheme: dark` or light.
    async fn color_scheme(&self, dark: bool) {
        let scheme = if dark { "dark" } else { "light" };
        self.page
            .execute(
                SetEmulatedMediaParams::builder()
                    .features(vec![MediaFeature::new("prefers-color-scheme", scheme)])
                    .build(),
            )
            .await
            .unwrap();
    }

    /// Runs axe-core's WCAG 2.2 A/AA rules on the page; any serious or
    /// critical violation fails the test, naming the rule and the nodes.
    async fn audit(&self, name: &str, dark: bool) {
        let Some(found) = self.violations().await else {
            return;
        };
        let mode = if dark { "dark" } else { "light" };
        assert_eq!(
            found,
            serde_json::json!([]),
            "axe-core on {name} ({mode} mode): {}",
            serde_json::to_string_pretty(&found).unwrap()
        );
    }

    /// axe-core's serious and critical WCAG 2.2 A/AA violations on the
    /// page (`None` where axe-core is not at hand).
    async fn violations(&self) -> Option<serde_json::Value> {
        let axe = axe()?;
        if self.eval("typeof window.axe").await != Some("object".into()) {
            self.page.evaluate_expression(axe).await.unwrap();
        }
        let found: serde_json::Value = self
            .page
            .evaluate_function(
                "async () => {
                   const r = await axe.run(document, {
                     runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'],
                   });
                   return r.violations
                     .filter((v) => v.impact === 'serious' || v.impact === 'critical')
                     .map((v) => ({
                       rule: v.id,
                       impact: v.impact,
                       help: v.help,
                       nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' ') + ': ' + n.failureSummary),
                     }));
                 }",
            )
            .await
            .unwrap()
            .into_value()
            .unwrap();
        Some(found)
    }

    /// Device `i`'s credentials, private keys included.
    async fn credentials(&self, i: usize) -> Vec<Credential> {
        self.page
            .execute(GetCredentialsParams::new(self.devices[i].clone()))
            .await
            .unwrap()
            .result
            .credentials
    }

    /// Takes a credential off device `i`.
    async fn remove_credential(&self, i: usize, credential: &Credential) {
        self.page
            .execute(RemoveCredentialParams::new(
                self.devices[i].clone(),
                credential.credential_id.clone(),
            ))
            .await
            .unwrap();
    }

    /// Puts a credential (taken earlier) back on device `i`.
    async fn put_back(&self, i: usize, credential: &Credential) {
        self.page
            .execute(AddCredentialParams::new(
                self.devices[i].clone(),
                credential.clone(),
            ))
            .await
            .unwrap();
    }

    /// Runs `js` before every page's own scripts from now on (until
    /// [`Chrome::with_autofill`] removes it): an older browser, emulated.
    async fn before_pages(&self, js: &str) -> String {
        self.page
            .execute(AddScriptToEvaluateOnNewDocumentParams::new(js))
            .await
            .unwrap()
            .result
            .identifier
            .into()
    }

    /// Loads pages as a browser without passkey autofill would.
    async fn without_autofill(&self) -> String {
        self.before_pages(
            "PublicKeyCredential.isConditionalMediationAvailable = async () => false;",
        )
        .await
    }

    async fn with_autofill(&self, script: String) {
        self.page
            .execute(RemoveScriptToEvaluateOnNewDocumentParams::new(script))
            .await
            .unwrap();
    }

    fn deleted(&self) -> Vec<String> {
        self.deleted.lock().unwrap().clone()
    }

    async fn close(mut self) {
        println!("screenshots: {}", self.shots.display());
        let _ = self.browser.close().await;
        let _ = self.browser.wait().await;
        self.handler.abort();
    }
}

fn passkey_authenticator() -> VirtualAuthenticatorOptions {
    let mut options = VirtualAuthenticatorOptions::new(
        AuthenticatorProtocol::Ctap2,
        AuthenticatorTransport::Internal,
    );
    options.has_resident_key = Some(true);
    options.has_user_verification = Some(true);
    options.is_user_verified = Some(true);
    options.automatic_presence_simulation = Some(true);
    // A synced passkey, as a phone's or a password manager's would be.
    options.default_backup_eligibility = Some(true);
    options.default_backup_state = Some(true);
    options
}

/// A hardware security key that holds passkeys (CTAP 2, PIN): one device,
/// no sync.
fn hardware_passkey() -> VirtualAuthenticatorOptions {
    let mut options =
        VirtualAuthenticatorOptions::new(AuthenticatorProtocol::Ctap2, AuthenticatorTransport::Usb);
    options.has_resident_key = Some(true);
    options.has_user_verification = Some(true);
    options.is_user_verified = Some(true);
    options.automatic_presence_simulation = Some(true);
    options
}

fn security_key() -> VirtualAuthenticatorOptions {
    let mut options =
        VirtualAuthenticatorOptions::new(AuthenticatorProtocol::U2f, AuthenticatorTransport::Usb);
    options.has_resident_key = Some(false);
    options.has_user_verification = Some(false);
    options.automatic_presence_simulation = Some(true);
    options
}

/// The whole life of a passkey in the pages: invitation, enrolment, every
/// way of signing in, a second passkey, rename, revoke, and the revoked one
/// refused with a clear message while the provider is told to forget it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passkey_life_in_the_browser() {
    let (server, origin) = serve(&[]);
    let Some(mut chrome) = Chrome::launch("passkey_life", &origin, passkey_authenticator()).await
    else {
        return;
    };

    // Invitation -> enrolment, which signs in.
    chrome.goto(&invite(&server, "ada")).await;
    chrome.wait_text("main", "Welcome, ada").await;
    chrome.shot("enroll").await;
    chrome.click("#enroll-passkey").await;
    chrome.wait_path("/me").await;
    chrome.wait_text("#notice", "Your passkey is ready").await;
    assert_eq!(chrome.text("#signed-in-as").await, "ada");
    assert_eq!(chrome.count("#credentials li").await, 1);
    assert!(chrome.text("#credentials").await.contains("Synced passkey"));
    assert!(chrome.text("#lacks-backup").await.contains("No backup yet"));
    chrome.shot("me-after-enrolment").await;
    let first = chrome.credentials(0).await.remove(0); // on the phone

    // Sign out; username-less sign-in with the button, in a browser
    // without autofill (where autofill exists it would answer first).
    let autofill_off = chrome.without_autofill().await;
    chrome.click("#sign-out").await;
    chrome.wait_path("/").await;
    chrome.wait_text("#notice", "signed out").await;
    let autocomplete = chrome
        .eval("document.querySelector('#username').autocomplete")
        .await;
    assert_eq!(autocomplete, Some("username webauthn".into()));
    chrome.shot("sign-in").await;
    chrome.click("#signin-passkey").await;
    chrome.wait_path("/me").await;
    assert_eq!(chrome.text("#signed-in-as").await, "ada");
    assert!(chrome.text("#credentials").await.contains("Last used"));

    // Sign out; passkey autofill on the username field signs in by itself.
    chrome.with_autofill(autofill_off).await;
    chrome.click_and_leave("#sign-out").await;
    chrome.wait_path("/me").await;
    assert_eq!(chrome.text("#signed-in-as").await, "ada");

    // A second passkey on the same device is refused by it (the page lists
    // the first in excludeCredentials) and the page says why; with a second
    // device at hand (the first out of reach) it is added.
    const PHONE: usize = 0;
    chrome.click("#add-passkey").await;
    chrome
        .wait_text("#error", "already holds a passkey for your account")
        .await;
    chrome.shot("add-on-same-device-refused").await;
    let key = chrome.add_device(hardware_passkey()).await;
    chrome.reachable(PHONE, false).await;
    chrome.click("#add-passkey").await;
    chrome.wait_text("#notice", "Passkey added").await;
    assert_eq!(chrome.count("#credentials li").await, 2);
    assert!(chrome
        .text("#credentials")
        .await
        .contains("Device-bound passkey"));
    let second = chrome.credentials(key).await.remove(0);
    let second_item = format!(
        "#credentials li[data-credential-id='{}']",
        b64url(second.credential_id.as_ref())
    );
    let updates_before = *chrome.updated.lock().unwrap();
    chrome
        .type_into(
            &format!("{second_item} input[name=nickname]"),
            "Security key",
        )
        .await;
    chrome
        .click(&format!("{second_item} form.rename button"))
        .await;
    chrome.wait_text("#notice", "Passkey renamed").await;
    assert_eq!(
        chrome.text(&format!("{second_item} .nickname")).await,
        "Security key"
    );
    chrome.shot("me-two-passkeys-renamed").await;
    wait_until("signalCurrentUserDetails after the rename", || {
        *chrome.updated.lock().unwrap() > updates_before
    })
    .await;

    // Revoke the first (the one this session signed in with): signed out.
    // Then the phone, which still holds it, tries to sign in: refused with
    // a clear message, and the page tells the provider to forget it.
    let first_id = b64url(first.credential_id.as_ref());
    chrome.reachable(PHONE, true).await;
    chrome.reachable(key, false).await;
    // Autofill stays off from here: it would answer the sign-in page at once.
    chrome.without_autofill().await;
    chrome
        .click(&format!(
            "#credentials li[data-credential-id='{first_id}'] form.revoke button"
        ))
        .await;
    // One passkey would be left, below the backup minimum: confirm.
    chrome.wait_text("main", "without a backup passkey").await;
    chrome.click("#confirm-revoke").await;
    chrome.wait_path("/").await;
    assert!(chrome.text("#notice").await.contains("Passkey revoked"));
    chrome.click("#signin-passkey").await;
    chrome
        .wait_text("#error", "no longer registered here")
        .await;
    chrome.shot("revoked-passkey-refused").await;
    wait_until("signalUnknownCredential for the revoked passkey", || {
        chrome.deleted().contains(&first_id)
    })
    .await;
    assert!(chrome.credentials(PHONE).await.is_empty());

    // The key's passkey still signs in; /me then tells the provider which
    // passkeys are still accepted, so a stale copy of the first goes too.
    chrome.reachable(key, true).await;
    chrome.click("#signin-passkey").await;
    chrome.wait_path("/me").await;
    chrome.put_back(PHONE, &first).await;
    chrome.deleted.lock().unwrap().clear();
    chrome.goto("/me").await;
    wait_until(
        "signalAllAcceptedCredentials hides the revoked passkey",
        || chrome.deleted().contains(&first_id),
    )
    .await;
    assert!(chrome.credentials(PHONE).await.is_empty());
    assert_eq!(chrome.credentials(key).await.len(), 1);
    assert_eq!(chrome.count("#credentials li").await, 1);
    chrome.shot("me-after-revocation").await;

    // Revoking the last passkey asks first.
    chrome.click("#credentials li form.revoke button").await;
    chrome.wait_text("main", "without a backup passkey").await;
    chrome.shot("confirm-last-revocation").await;
    chrome.click("#confirm-revoke").await;
    chrome.wait_path("/").await;
    chrome.wait_text("#notice", "Passkey revoked").await;

    let (_, audit) = server.cli(&["audit", "verify"]);
    assert!(audit.contains("verified"), "{audit}");
    chrome.close().await;
}

/// A U2F-style security key: no discoverable credential and no user
/// verification, so it enrols and then signs in by username.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_key_enrols_and_signs_in_by_username() {
    // A short ceremony timeout, so a prompt nobody answers ends quickly.
    let (server, origin) = serve(&["--challenge-ttl", "3"]);
    let Some(mut chrome) = Chrome::launch("security_key", &origin, security_key()).await else {
        return;
    };
    // And a browser without the Level 3 JSON helpers: the pages' fallback
    // does the conversions.
    chrome
        .before_pages(
            "delete PublicKeyCredential.parseCreationOptionsFromJSON;
             delete PublicKeyCredential.parseRequestOptionsFromJSON;
             delete PublicKeyCredential.prototype.toJSON;",
        )
        .await;
    chrome.goto(&invite(&server, "bob")).await;
    let helpers = chrome
        .eval("typeof PublicKeyCredential.parseCreationOptionsFromJSON + typeof PublicKeyCredential.prototype.toJSON")
        .await;
    assert_eq!(helpers, Some("undefinedundefined".into()));
    chrome.click("#enroll-passkey").await;
    chrome.wait_path("/me").await;
    assert!(chrome
        .text("#credentials")
        .await
        .contains("Device-bound passkey"));
    chrome.shot("me-security-key").await;
    let key = chrome.credentials(0).await;
    assert_eq!(key.len(), 1);
    assert!(
        !key[0].is_resident_credential,
        "a U2F key holds no discoverable credential"
    );

    chrome.click("#sign-out").await;
    chrome.wait_path("/").await;
    // The username-less button finds no passkey on a U2F key: the prompt
    // ends without one, and the page says what to do.
    chrome.click("#signin-passkey").await;
    chrome
        .wait_text("#error", "this device has no passkey for this site")
        .await;
    chrome.shot("no-passkey-on-this-device").await;
    chrome.type_into("#username", "bob").await;
    chrome.shot("sign-in-by-username").await;
    chrome.click("#signin-by-name").await;
    chrome.wait_path("/me").await;
    assert_eq!(chrome.text("#signed-in-as").await, "bob");
    chrome.shot("me-signed-in-with-key").await;

    let (_, export) = server.cli(&["audit", "export"]);
    assert!(export.lines().any(
        |l| l.contains("\"kind\":\"authentication\"") && l.contains("\"outcome\":\"success\"")
    ));
    chrome.close().await;
}

/// Invitation links that cannot be used explain why, in the browser.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unusable_invitations_explain_themselves() {
    let (server, origin) = serve(&[]);
    let Some(mut chrome) = Chrome::launch("invitations", &origin, passkey_authenticator()).await
    else {
        return;
    };
    chrome.without_autofill().await;
    let link = invite(&server, "cy");
    chrome.goto(&link).await;
    chrome.click("#enroll-passkey").await;
    chrome.wait_path("/me").await;
    chrome.click("#sign-out").await;
    chrome.wait_path("/").await;
    chrome.goto(&link).await;
    chrome.wait_text("main", "already been used").await;
    chrome.shot("used-invitation").await;
    chrome.goto("/enroll?token=not-a-real-token").await;
    chrome.wait_text("main", "not valid").await;
    chrome.shot("unknown-invitation").await;
    chrome.close().await;
}

async fn wait_until(what: &str, done: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !done() {
        if tokio::time::Instant::now() > deadline {
            panic!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Recovery in the pages: the person who lost their passkey asks on the
/// sign-in page, two administrators approve in the console (one of them
/// receives the grant), the person enrols a new passkey from it and signs
/// in, and the old passkey is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovery_approved_in_the_console() {
    let (server, origin) = serve(&["--recovery-approvals", "2"]);
    // Device-bound passkeys with UV: tier 2, as the console demands.
    let Some(mut chrome) = Chrome::launch("recovery", &origin, hardware_passkey()).await else {
        return;
    };
    chrome.without_autofill().await;
    for (name, admin) in [("a1", true), ("a2", true), ("ada", false)] {
        let args: Vec<&str> = if admin {
            vec!["admin", "invite", name, "--admin"]
        } else {
            vec!["admin", "invite", name]
        };
        let (ok, link) = server.cli(&args);
        assert!(ok);
        chrome.goto(link.trim()).await;
        chrome.click("#enroll-passkey").await;
        chrome.wait_path("/me").await;
        chrome.click("#sign-out").await;
        chrome.wait_path("/").await;
    }
    let credentials = chrome.credentials(0).await;
    assert_eq!(credentials.len(), 3);

    // ada's device is gone: her passkey is no longer on the authenticator.
    let ada_old = credentials
        .iter()
        .find(|c| c.user_name.as_deref() == Some("ada"))
        .unwrap()
        .clone();
    chrome.remove_credential(0, &ada_old).await;

    chrome.click("#lost-passkeys").await;
    chrome.wait_path("/recover").await;
    chrome.type_into("#recover-name", "ada").await;
    chrome.click("#recover-form button").await;
    chrome
        .wait_text("#recovery-requested", "administrators have been asked")
        .await;
    chrome.shot("recovery-requested").await;

    let mut link = String::new();
    for approver in ["a1", "a2"] {
        chrome.goto("/").await;
        chrome.type_into("#username", approver).await;
        chrome.click("#signin-by-name").await;
        chrome.wait_path("/me").await;
        chrome.click("#admin-console").await;
        chrome.wait_path("/admin").await;
        chrome
            .wait_text(".recovery[data-name='ada']", "ada asked")
            .await;
        chrome.shot(&format!("console-{approver}")).await;
        chrome
            .click(".recovery[data-name='ada'] form.approve button")
            .await;
        if approver == "a1" {
            chrome
                .wait_text("#notice", "More approvals are needed")
                .await;
        } else {
            link = chrome.wait_text("#recovery-link", "/enroll?token=").await;
            chrome.shot("recovery-grant").await;
        }
        chrome.goto("/me").await;
        chrome.click("#sign-out").await;
        chrome.wait_path("/").await;
    }

    // ada enrols a new passkey from the grant and is signed in.
    chrome.goto(link.trim()).await;
    chrome.click("#enroll-passkey").await;
    chrome.wait_path("/me").await;
    assert_eq!(chrome.text("#signed-in-as").await, "ada");
    chrome.shot("recovered").await;
    chrome.click("#sign-out").await;
    chrome.wait_path("/").await;

    // The old passkey turns up again: refused, and the provider is told.
    let everyone = chrome.credentials(0).await;
    for c in &everyone {
        chrome.remove_credential(0, c).await;
    }
    chrome.put_back(0, &ada_old).await;
    chrome.click("#signin-passkey").await;
    chrome
        .wait_text("#error", "no longer registered here")
        .await;
    chrome.shot("old-passkey-refused").await;

    let (_, audit) = server.cli(&["audit", "verify"]);
    assert!(audit.contains("verified"), "{audit}");
    let (_, alerts) = server.cli(&["audit", "alerts"]);
    // One request is an ordinary event, not an alert; the approvals are.
    assert!(alerts.contains("recovery.approve") && !alerts.contains("recovery.request"));
    chrome.close().await;
}

/// Issue 14: an enrolment the tier policy refuses says why, in words, and
/// the page asks the provider to drop the key it made; then the console's
/// pages, each checked with axe-core and shot at laptop and phone width.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_in_words_and_the_console_pages() {
    let (server, origin) = serve(&["--registration-min-tier", "2"]);
    let Some(mut chrome) = Chrome::launch("console", &origin, hardware_passkey()).await else {
        return;
    };
    chrome.without_autofill().await;
    const KEY: usize = 0;
    let (ok, link) = server.cli(&["admin", "invite", "root", "--admin"]);
    assert!(ok);
    chrome.goto(link.trim()).await;
    chrome.click("#enroll-passkey").await;
    chrome.wait_path("/me").await;
    chrome.shot("me-admin").await;
    assert!(
        !chrome
            .text("#credentials")
            .await
            .contains("Not used to sign in yet"),
        "enrolment signed in with it"
    );

    // A synced passkey is tier 1: refused, with the reason in words (not
    // "null"), and the provider is told to forget the key it made.
    let phone = chrome.add_device(passkey_authenticator()).await;
    chrome.reachable(KEY, false).await;
    chrome.goto(&invite(&server, "sy")).await;
    chrome.click("#enroll-passkey").await;
    let error = chrome.wait_text("#error", "security level").await;
    assert!(!error.contains("null"), "{error}");
    chrome.shot("enrolment-refused-tier").await;
    wait_until(
        "signalUnknownCredential after the refused enrolment",
        || !chrome.deleted().is_empty(),
    )
    .await;
    assert!(chrome.credentials(phone).await.is_empty());
    chrome.reachable(phone, false).await;
    chrome.reachable(KEY, true).await;

    // The console, page by page.
    chrome.goto("/admin").await;
    chrome.wait_path("/admin").await;
    chrome.wait_text("#people", "sy").await;
    chrome.shot("console-people").await;
    chrome
        .click("#people a[href='/admin/person?name=root']")
        .await;
    chrome.wait_path("/admin/person").await;
    chrome.wait_text("#sessions", "End session").await;
    chrome.shot("console-person").await;
    chrome.goto("/admin/invitations").await;
    chrome.wait_text("#invitations", "sy").await;
    chrome.shot("console-invitations").await;
    chrome.goto("/admin/recoveries").await;
    chrome.wait_text("main", "Pending recoveries").await;
    chrome.shot("console-recoveries").await;
    chrome.goto("/admin/audit?kind=registration").await;
    chrome.wait_text("#events", "registration").await;
    chrome.shot("console-audit").await;
    // Apps: a refused form comes back in words with what was typed; an
    // added confidential app shows its secret once.
    chrome.goto("/admin/apps").await;
    chrome.wait_text("main", "Add an app").await;
    chrome.type_into("#add-app input[name=name]", "wiki").await;
    chrome
        .type_into("#redirect-uris", "javascript:alert(1)")
        .await;
    chrome.click_and_leave("#add-app button[type=submit]").await;
    chrome.wait_text("#app-refused", "must be absolute").await;
    assert_eq!(
        chrome
            .eval("document.querySelector('#add-app input[name=name]').value")
            .await,
        Some("wiki".into())
    );
    chrome.shot("console-app-refused").await;
    chrome
        .eval("document.querySelector('#redirect-uris').value = 'https://wiki.example/cb'; true")
        .await;
    chrome.click_and_leave("#add-app button[type=submit]").await;
    chrome.wait_text("#secret-warning", "not shown again").await;
    let secret = chrome.text("#client-secret").await;
    assert!(secret.len() >= 32, "{secret}");
    chrome.shot("console-app-added").await;
    chrome.goto("/admin/apps").await;
    chrome.wait_text("#apps", "wiki").await;
    assert!(!chrome.text("main").await.contains(&secret));
    chrome.shot("console-apps").await;
    chrome.goto("/no/such/page").await;
    chrome.wait_text("main", "Page not found").await;
    chrome.shot("not-found").await;
    chrome.goto("/recover").await;
    chrome.wait_text("main", "must approve").await;
    chrome.shot("recover").await;

    // The checker itself: pale grey text on white is caught.
    chrome
        .eval(
            "const p = document.createElement('p'); p.textContent = 'pale';
             p.style.color = '#bbbbbb'; p.style.background = '#ffffff';
             document.querySelector('main').append(p); true",
        )
        .await;
    if let Some(found) = chrome.violations().await {
        assert!(found.to_string().contains("color-contrast"), "{found}");
    }
    chrome.close().await;
}

/// Enrolment and sign-in over https, keybound terminating TLS with a
/// certificate made here. Chromium refuses WebAuthn on a page with a
/// certificate error, so the certificate is made trusted (its key pinned
/// with `--ignore-certificate-errors-spki-list`), not its errors ignored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrolment_and_sign_in_over_https() {
    use base64::Engine;
    let ca = support::tls::TestCa::new();
    let files = tempfile::tempdir().unwrap();
    let leaf = ca.leaf();
    let (cert, key) = leaf.install(files.path());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let origin = format!("https://localhost:{port}");
    let server = Server::start_on(
        &format!("127.0.0.1:{port}"),
        "localhost",
        &origin,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    let pin = base64::engine::general_purpose::STANDARD
        .encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &leaf.spki).as_ref());
    let Some(mut chrome) = Chrome::launch_with(
        "https",
        &origin,
        passkey_authenticator(),
        &[format!("--ignore-certificate-errors-spki-list={pin}")],
    )
    .await
    else {
        return;
    };
    chrome.without_autofill().await;
    let link = invite(&server, "dee");
    assert!(link.starts_with(&origin), "{link}");
    chrome.goto(&link).await;
    chrome.wait_text("main", "Welcome, dee").await;
    assert_eq!(
        chrome
            .eval("location.protocol + ' ' + window.isSecureContext")
            .await,
        Some("https: true".into())
    );
    chrome.click("#enroll-passkey").await;
    chrome.wait_path("/me").await;
    assert_eq!(chrome.text("#signed-in-as").await, "dee");
    chrome.shot("me-over-https").await;
    chrome.click("#sign-out").await;
    chrome.wait_path("/").await;
    chrome.click("#signin-passkey").await;
    chrome.wait_path("/me").await;
    assert_eq!(chrome.text("#signed-in-as").await, "dee");

    let (_, export) = server.cli(&["audit", "export"]);
    assert!(export
        .lines()
        .any(|l| l.contains("\"kind\":\"registration\"") && l.contains("\"outcome\":\"success\"")));
    assert!(export.lines().any(
        |l| l.contains("\"kind\":\"authentication\"") && l.contains("\"outcome\":\"success\"")
    ));
    chrome.close().await;
}

/// Issue 14: a console form sent after the step-up window is not lost.
/// The step-up page carries it; after the passkey it is sent again and
/// does what was asked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_step_up_keeps_what_was_typed() {
    let (server, origin) = serve(&["--step-up-window", "2"]);
    let Some(mut chrome) = Chrome::launch("step_up", &origin, hardware_passkey()).await else {
        return;
    };
    chrome.without_autofill().await;
    let (ok, link) = server.cli(&["admin", "invite", "root", "--admin"]);
    assert!(ok);
    chrome.goto(link.trim()).await;
    chrome.click("#enroll-passkey").await;
    chrome.wait_path("/me").await;
    chrome.goto("/admin").await;
    chrome.wait_path("/admin").await;
    chrome.type_into("#invite input[name=name]", "newbie").await;
    chrome
        .eval("document.querySelector('#invite select[name=min_tier]').value = '2'; true")
        .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    chrome.click_and_leave("#invite button[type=submit]").await;
    chrome.wait_text("main", "Confirm it is you").await;
    assert_eq!(
        chrome.eval("document.body.dataset.page").await,
        Some("step-up".into())
    );
    chrome.shot("step-up").await;
    chrome.click("#step-up").await;
    chrome.wait_text("#invitation-link", "/enroll?token=").await;
    assert!(chrome.text("main").await.contains("newbie"));
    assert!(chrome.text("#invitation-tier").await.contains("tier 2"));
    chrome.shot("invitation-after-step-up").await;
    chrome.close().await;
}

/// A sign-in reached with `?rd=` (an app behind forward-auth sent the
/// browser) goes back there afterwards, and only where the server allowed:
/// the script follows the address the server checked, nothing else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_returns_to_an_allowed_address_only() {
    let (server, origin) = serve(&[]);
    let Some(chrome) = Chrome::launch("sign_in_return", &origin, passkey_authenticator()).await
    else {
        return;
    };
    chrome.goto(&invite(&server, "ada")).await;
    chrome.click("#enroll-passkey").await;
    chrome.wait_path("/me").await;
    let _autofill_off = chrome.without_autofill().await;

    // Allowed: a path on this origin.
    chrome.click("#sign-out").await;
    chrome.wait_path("/").await;
    chrome
        .goto(&format!("{origin}/?rd=%2Fme%3Fnotice%3Drenamed"))
        .await;
    chrome.click("#signin-passkey").await;
    let here = chrome
        .wait_for_address("/me?notice=renamed", |here| {
            here.ends_with("/me?notice=renamed")
        })
        .await;
    assert!(here.ends_with("/me?notice=renamed"), "{here}");

    // Not allowed: another site; the sign-in ends on /me.
    chrome.click("#sign-out").await;
    chrome.wait_path("/").await;
    chrome
        .goto(&format!("{origin}/?rd=https%3A%2F%2Fevil.example%2F"))
        .await;
    assert_eq!(
        chrome
            .eval("document.querySelector('#site').dataset.return === undefined")
            .await,
        Some(true.into())
    );
    chrome.click("#signin-passkey").await;
    let here = chrome.wait_path("/me").await;
    assert_eq!(here, "/me");
    chrome.close().await;
}
