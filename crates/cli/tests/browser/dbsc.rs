//! Device Bound Session Credentials in the installed Chromium (148): it
//! registers a session key when keybound sets the session cookie, and
//! renews the bound cookie `kb_bound` at `/dbsc/refresh` by proving that
//! key, all by itself.
//!
//! Chromium does this only with both features on:
//! `DeviceBoundSessions` and
//! `EnableBoundSessionCredentialsSoftwareKeysForManualTesting` (a software
//! key where there is no TPM, as here); with either alone, or neither, it
//! never registers. On `http://localhost`, which DBSC accepts as secure.

use super::*;
use chromiumoxide::cdp::browser_protocol::network::GetCookiesParams;

/// The value of cookie `name` in the browser's jar (HttpOnly included).
async fn cookie(chrome: &Chrome, name: &str) -> Option<String> {
    let cookies = chrome
        .page
        .execute(GetCookiesParams::default())
        .await
        .ok()?
        .result
        .cookies
        .clone();
    cookies
        .into_iter()
        .find(|c| c.name == name)
        .map(|c| c.value)
}

/// Waits up to [`WAIT`] for cookie `name` to hold a value other than
/// `old`.
async fn wait_cookie(chrome: &Chrome, name: &str, old: Option<&str>) -> Option<String> {
    let deadline = std::time::Instant::now() + WAIT;
    while std::time::Instant::now() < deadline {
        let now = cookie(chrome, name).await;
        if now.is_some() && now.as_deref() != old {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_binds_the_session_and_refreshes_by_proving_its_key() {
    // The shortest interval the setting allows, so the test sees a refresh.
    let (server, origin) = serve(&["--dbsc-refresh-interval", "10"]);
    let Some(chrome) = Chrome::launch_with(
        "dbsc",
        &origin,
        passkey_authenticator(),
        // chromiumoxide puts the `--` in front.
        &["enable-features=DeviceBoundSessions,\
           EnableBoundSessionCredentialsSoftwareKeysForManualTesting"
            .to_owned()],
    )
    .await
    else {
        return;
    };
    chrome.goto(&invite(&server, "ada")).await;
    chrome.click("#enroll-passkey").await;
    chrome.wait_path("/me").await;

    // Registration: Chromium answered the header on the new session with a
    // proof, and keybound set the first bound cookie.
    let first = wait_cookie(&chrome, "kb_bound", None)
        .await
        .expect("Chromium registered no device-bound session");
    let (_, audit) = server.cli(&["audit", "export"]);
    assert!(audit.contains("dbsc.register"), "{audit}");

    // Refresh: once the bound cookie expires, the next page load waits
    // while Chromium proves the key at /dbsc/refresh for a new one.
    tokio::time::sleep(Duration::from_secs(11)).await;
    chrome.goto(&format!("{origin}/me")).await;
    let renewed = wait_cookie(&chrome, "kb_bound", Some(&first))
        .await
        .expect("Chromium did not refresh the bound cookie");
    assert_ne!(renewed, first);
    chrome.wait_path("/me").await;
    chrome.wait_text("main", "passkey").await;
    let (_, audit) = server.cli(&["audit", "export"]);
    assert!(!audit.contains("dbsc.refused"), "{audit}");
    chrome.close().await;
}
