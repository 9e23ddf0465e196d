//! Issue 16's first acceptance item, as people meet it: an app behind
//! nginx forward-auth whose policy wants a trusted device.
//!
//! - ada trusts her laptop from `/me` ("Trust this device": a device-bound
//!   platform credential with user verification); a synced passkey is
//!   refused for that, in words; an administrator approves the device in
//!   the console;
//! - signed in with the laptop's credential, the app lets her in;
//! - a second browser profile, where her synced passkey signs her in, gets
//!   403 from the app: same person, no trusted device;
//! - "I lost this device" on the laptop ends that browser's session at the
//!   next request, and the session's cookie, put back, opens neither `/me`
//!   nor the app.
//!
//! Screenshots for `docs/screenshots/devices-*.png` come from this test.

use chromiumoxide::cdp::browser_protocol::network::{Cookie, CookieParam};
use chromiumoxide::cdp::browser_protocol::web_authn::RemoveVirtualAuthenticatorParams;

use super::forward::site;
use super::*;

/// A laptop's own platform authenticator: internal, user verification, a
/// device-bound key (no backup), as "Trust this device" asks for.
fn laptop_authenticator() -> VirtualAuthenticatorOptions {
    let mut options = VirtualAuthenticatorOptions::new(
        AuthenticatorProtocol::Ctap2,
        AuthenticatorTransport::Internal,
    );
    options.has_resident_key = Some(true);
    options.has_user_verification = Some(true);
    options.is_user_verified = Some(true);
    options.automatic_presence_simulation = Some(true);
    options.default_backup_eligibility = Some(false);
    options.default_backup_state = Some(false);
    options
}

/// The app's policies: everyone signed in, but only from a trusted device.
fn device_policies(host: &str) -> String {
    format!(
        r#"@id("app-everyone")
permit (principal, action in Keybound::Action::"http", resource in Keybound::App::"{host}");
@id("app-trusted-device")
forbid (principal, action, resource in Keybound::App::"{host}")
  unless {{ context has device && context.device.trusted }};
"#
    )
}

/// ada's synced passkeys, as a phone or a password manager holds them,
/// reached over USB here: Chromium allows one platform (`internal`)
/// virtual authenticator per browser, and that one is the laptop's.
fn synced_roaming() -> VirtualAuthenticatorOptions {
    let mut options = hardware_passkey();
    options.default_backup_eligibility = Some(true);
    options.default_backup_state = Some(true);
    options
}

impl Chrome {
    /// Replaces device `i` by a new one made with `options` (Chromium
    /// allows one platform authenticator at a time).
    async fn replace_device(&mut self, i: usize, options: VirtualAuthenticatorOptions) {
        self.page
            .execute(RemoveVirtualAuthenticatorParams::new(
                self.devices[i].clone(),
            ))
            .await
            .unwrap();
        self.add_device(options).await;
        let added = self.devices.pop().unwrap();
        self.devices[i] = added;
    }

    /// Only device `only` answers; the others stay silent.
    async fn only(&self, only: usize) {
        for i in 0..self.devices.len() {
            self.reachable(i, i == only).await;
        }
    }

    async fn sign_out(&self) {
        self.goto("/me").await;
        self.wait_path("/me").await;
        self.click("#sign-out").await;
        self.wait_path("/").await;
    }

    /// The session cookie this browser holds, if any.
    async fn session_cookie(&self) -> Option<Cookie> {
        self.page
            .get_cookies()
            .await
            .unwrap()
            .into_iter()
            .find(|c| c.name == "kb_session" && !c.value.is_empty())
    }

    /// Puts `cookie` back into the jar, as a thief who copied it would.
    async fn put_cookie_back(&self, cookie: &Cookie) {
        let param = CookieParam::builder()
            .name(cookie.name.clone())
            .value(cookie.value.clone())
            .domain(cookie.domain.clone())
            .path(cookie.path.clone())
            .secure(cookie.secure)
            .http_only(cookie.http_only)
            .url(self.origin.clone())
            .build()
            .unwrap();
        self.page.set_cookie(param).await.unwrap();
    }

    /// The HTTP status of the document now shown.
    async fn status(&self) -> i64 {
        self.eval("performance.getEntriesByType('navigation')[0].responseStatus")
            .await
            .and_then(|v| v.as_i64())
            .unwrap_or_default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trusted_device_opens_the_app_and_a_lost_one_closes_it() {
    let Some(site) = site(device_policies) else {
        return;
    };
    let (server, origin, app_host) = (&site.server, site.origin.clone(), site.app_host.clone());
    // root's security key.
    const KEY: usize = 0;
    let Some(mut laptop) =
        Chrome::launch_with("devices", &origin, hardware_passkey(), &site.switches).await
    else {
        return;
    };
    // ada's synced passkeys.
    let phone = laptop.add_device(synced_roaming()).await;
    // The laptop's platform authenticator, first as a passkey provider
    // that syncs what it makes (nothing of ada's on it yet).
    let own = laptop.add_device(passkey_authenticator()).await;
    laptop.without_autofill().await;

    // root, an administrator, enrols a security key (tier 2 for the console).
    laptop.only(KEY).await;
    let (ok, link) = server.cli(&["admin", "invite", "root", "--admin"]);
    assert!(ok);
    laptop.goto(link.trim()).await;
    laptop.click("#enroll-passkey").await;
    laptop.wait_path("/me").await;
    laptop.sign_out().await;

    // ada enrols a synced passkey; the laptop is not a device of hers yet.
    laptop.only(phone).await;
    laptop.goto(&invite(server, "ada")).await;
    laptop.click("#enroll-passkey").await;
    laptop.wait_path("/me").await;
    laptop.wait_text("#devices", "No devices yet").await;
    assert!(laptop
        .text("#this-device")
        .await
        .contains("does not count as a device"));

    // A synced passkey cannot stand for "this device": refused, in words.
    laptop.only(own).await;
    laptop.type_into("#device-label", "Ada's laptop").await;
    laptop.click("#trust-device").await;
    let error = laptop.wait_text("#device-error", "synced").await;
    assert!(
        !error.contains("undefined") && !error.contains("null"),
        "{error}"
    );
    laptop.shot("trust-refused-synced").await;
    assert_eq!(laptop.count("#device-list li.device").await, 0);

    // The laptop's own authenticator, keys that never leave it: enrolled,
    // awaiting an administrator (the virtual authenticator's attestation
    // chains to no metadata).
    laptop.replace_device(own, laptop_authenticator()).await;
    laptop.only(own).await;
    laptop.click("#trust-device").await;
    laptop.wait_text("#notice", "awaiting").await;
    assert_eq!(laptop.count("#device-list li.device").await, 1);
    let device = laptop
        .eval("document.querySelector('#device-list li.device').dataset.device")
        .await
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap();
    assert!(device.starts_with("dev-"), "{device}");
    let row = format!("#device-list li.device[data-device='{device}']");
    assert!(laptop.text(&row).await.contains("Ada's laptop"));
    assert!(laptop.text(&row).await.contains("Awaiting approval"));
    // Still signed in with the synced passkey: told to sign in with the
    // device, and not offered to trust it again.
    assert!(laptop
        .text("#this-device")
        .await
        .contains("sign in with this device's screen lock"));
    assert_eq!(laptop.count("#trust-device").await, 0);
    assert!(laptop
        .text("#credentials")
        .await
        .contains("The key of your device Ada's laptop"));
    laptop.shot("me-device-awaiting").await;
    laptop.sign_out().await;

    // root approves it in the console.
    laptop.only(KEY).await;
    laptop.click("#signin-passkey").await;
    laptop.wait_path("/me").await;
    laptop.goto("/admin/devices").await;
    laptop.wait_path("/admin/devices").await;
    let console_row = format!("#devices tr[data-device='{device}']");
    laptop.wait_text(&console_row, "ada").await;
    assert!(laptop
        .text(&console_row)
        .await
        .contains("Awaiting approval"));
    laptop.shot("console-devices-awaiting").await;
    laptop
        .click(&format!("{console_row} form.trust button"))
        .await;
    laptop.wait_text("#notice", "Device trusted").await;
    assert_eq!(
        laptop
            .eval(&format!(
                "document.querySelector(\"{console_row}\").dataset.status"
            ))
            .await,
        Some("trusted".into())
    );
    assert!(laptop.text(&console_row).await.contains("Trusted"));
    laptop.shot("console-devices").await;
    laptop.sign_out().await;

    // ada signs in with the laptop's credential: this device, trusted.
    laptop.only(own).await;
    laptop.click("#signin-passkey").await;
    laptop.wait_path("/me").await;
    assert_eq!(laptop.text("#signed-in-as").await, "ada");
    laptop.wait_text("#this-device", "trusted").await;
    assert!(laptop.text(&row).await.contains("This device"));
    laptop.shot("me-device-trusted").await;

    // The app lets her in from here.
    let app = format!("https://{app_host}/reports");
    laptop.goto(&app).await;
    laptop.wait_path("/reports").await;
    assert_eq!(laptop.text("#remote-user").await, "ada");
    assert_eq!(laptop.status().await, 200);

    // A second profile, where her synced passkey (a copy, as the provider
    // syncs it) signs her in: the same person, no trusted device, 403.
    let synced = laptop.credentials(phone).await;
    assert_eq!(synced.len(), 1, "ada's synced passkey");
    let Some(other) = Chrome::launch_with(
        "devices_synced",
        &origin,
        passkey_authenticator(),
        &site.switches,
    )
    .await
    else {
        return;
    };
    other.put_back(0, &synced[0]).await;
    other.without_autofill().await;
    other.goto(&app).await;
    let here = other.wait_path("/").await;
    assert!(here.starts_with("/?rd=https"), "{here}");
    other.click("#signin-passkey").await;
    other.wait_path("/reports").await;
    assert_eq!(other.status().await, 403, "no trusted device, no app");
    assert!(other.text("#remote-user").await.is_empty());
    other.goto("/me").await;
    other.wait_path("/me").await;
    assert_eq!(other.text("#signed-in-as").await, "ada");
    assert!(other
        .text("#this-device")
        .await
        .contains("does not count as a device"));
    other.close().await;

    // "I lost this device", on the laptop itself: asked to confirm, then
    // signed out; the copied cookie opens nothing any more.
    let cookie = laptop.session_cookie().await.expect("signed in");
    laptop.goto("/me").await;
    laptop
        .click(&format!("{row} form.lose-device button"))
        .await;
    laptop.wait_text("main", "Lost this device?").await;
    assert!(laptop
        .text("#in-use")
        .await
        .contains("the device you are using now"));
    laptop.shot("lose-device-confirm").await;
    laptop.click_and_leave("#confirm-decommission").await;
    let here = laptop.wait_path("/").await;
    assert!(here.contains("notice="), "{here}");
    laptop.wait_text("#notice", "signed out").await;
    laptop.put_cookie_back(&cookie).await;
    laptop.goto("/me").await;
    laptop.wait_path("/").await;
    laptop.put_cookie_back(&cookie).await;
    laptop.goto(&app).await;
    let here = laptop.wait_path("/").await;
    assert!(
        here.starts_with("/?rd=https"),
        "forward-auth sends the browser to sign in again: {here}"
    );
    assert_eq!(
        laptop.eval("location.origin").await,
        Some(origin.clone().into())
    );

    // Its credential is revoked with it: it signs in no more.
    laptop.only(own).await;
    laptop.click("#signin-passkey").await;
    laptop.wait_text("#error", "no longer registered").await;

    let (_, audit) = server.cli(&["audit", "export"]);
    for kind in ["device.enrol", "device.trust", "device.decommission"] {
        assert!(
            audit
                .lines()
                .any(|l| l.contains(&format!("\"kind\":\"{kind}\""))
                    && l.contains("\"outcome\":\"success\"")),
            "{kind} in the audit log"
        );
    }
    let (_, verified) = server.cli(&["audit", "verify"]);
    assert!(verified.contains("verified"), "{verified}");
    laptop.close().await;
}
