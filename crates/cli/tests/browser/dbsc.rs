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

/// Waits up to 8 s for cookie `name` to hold a value other than
/// `old`.
async fn wait_cookie(chrome: &Chrome, name: &str, old: Option<&str>) -> Option<String> {
    let deadline = std::time::Instant::now() + Duration::from_secs(8);
    while std::time::Instant::now() < deadline {
        let now = cookie(chrome, name).await;
        if now.is_some() && now.as_deref() != old {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    None
}

// Ignored until understood: Chromium registered (and then refreshed) in 6
// of 11 runs here; in the others no request reached /dbsc/start within
// the wait, though the enrolment and /me answers carried the header. Run
// with `--ignored` to see it.
#[ignore = "flaky: Chromium registers in about half the runs"]
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

    // Registration: Chromium answers the header with a proof, and keybound
    // sets the first bound cookie. The header on the enrolment's `fetch`
    // races the page's navigation to /me, which carries it again while the
    // session is unbound; a reload is the last resort.
    let mut first = None;
    for _ in 0..3 {
        first = wait_cookie(&chrome, "kb_bound", None).await;
        if first.is_some() {
            break;
        }
        chrome.goto(&format!("{origin}/me")).await;
    }
    let (_, audit) = server.cli(&["audit", "export"]);
    let Some(first) = first else {
        panic!("no kb_bound in Chromium's jar; the audit says:\n{audit}");
    };
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
    // No refusal but a duplicate registration (both headers answered).
    let (_, audit) = server.cli(&["audit", "export"]);
    for line in audit.lines().filter(|l| l.contains("dbsc.refused")) {
        assert!(line.contains("dbsc_already_bound"), "{line}");
    }
    chrome.close().await;
}
