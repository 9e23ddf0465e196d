//! Issue 16's pages with a running server, from the hostile side: the
//! `/me` device forms aimed at someone else's device, a huge label, a
//! cross-site post, and a person who is not an administrator at the
//! console's device page. Each is refused and changes nothing; the happy
//! paths beside them show the same requests work when they should.

use super::*;

const SAME_ORIGIN: (&str, &str) = ("Sec-Fetch-Site", "same-origin");

/// "Trust this device" as the page does it, with the software
/// authenticator (a platform key, BE=0, UV): the status and reply of
/// the options, then of the result.
fn trust_this_device(
    browser: &mut Browser,
    auth: &Authenticator,
    label: &str,
) -> ((u16, serde_json::Value), Option<(u16, serde_json::Value)>) {
    let (status, options) = browser.post_json("/me/devices/options", &json!({ "label": label }));
    if status != 200 {
        return ((status, options), None);
    }
    let user = decode(options["user"]["id"].as_str().unwrap());
    let c = challenge(&options);
    let (_, answer) = auth.register(Algorithm::Es256, &ceremony(&c), &user);
    let result = browser.post_json("/me/devices/result", &answer);
    ((status, options), Some(result))
}

/// Every device as the operator sees it (`keybound device list --json`).
fn devices(server: &Server) -> serde_json::Value {
    let (ok, out) = server.cli(&["device", "list", "--json"]);
    assert!(ok, "device list: {out}");
    serde_json::from_str(&out).expect(&out)
}

/// The device of `owner`, as listed.
fn device_of(server: &Server, owner: &str) -> serde_json::Value {
    let found = devices(server)
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["owner"] == owner)
        .cloned();
    assert!(found.is_some(), "no device of {owner}");
    found.unwrap()
}

/// Where a 303 sends the browser.
fn location(response: &str) -> &str {
    response
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("location").then_some(v.trim())
        })
        .unwrap_or("")
}

/// `text` as a form value: every byte but letters and digits escaped.
fn percent(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn audit_reasons(server: &Server, reason: &str) -> usize {
    let (_, audit) = server.cli(&["audit", "export"]);
    audit
        .lines()
        .filter(|l| l.contains(&format!("\"reason\":\"{reason}\"")))
        .count()
}

#[test]
fn device_forms_refuse_other_people_huge_labels_and_other_sites() {
    let server = Server::start();
    let auth = Authenticator::default();
    let mut ada = server.browser();
    enrol(&server, &mut ada, &auth, "ada");
    let mut bob = server.browser();
    enrol(&server, &mut bob, &auth, "bob");

    // Both trust their device; the page's ceremony works end to end.
    for browser in [&mut ada, &mut bob] {
        let ((status, options), result) = trust_this_device(browser, &auth, "Laptop");
        assert_eq!(status, 200, "{options}");
        assert_eq!(
            options["authenticatorSelection"]["authenticatorAttachment"],
            "platform"
        );
        assert_eq!(
            options["authenticatorSelection"]["userVerification"],
            "required"
        );
        let (status, reply) = result.unwrap();
        assert_eq!(status, 200, "{reply}");
        assert!(reply["device"].as_str().unwrap().starts_with("dev-"));
        // No attestation: enrolled, awaiting an administrator.
        assert_eq!(reply["trusted"], false);
    }
    let bobs = device_of(&server, "bob");
    let bob_device = bobs["name"].as_str().unwrap().to_owned();
    let before = devices(&server);
    let (_, bob_page) = bob.get_page("/me");
    assert!(bob_page.contains(&format!("data-device=\"{bob_device}\"")));
    let (_, ada_page) = ada.get_page("/me");
    assert!(!ada_page.contains(&bob_device), "only her own devices");

    // ada renames bob's device by its name: "not one of yours", nothing
    // changed, the attempt on the record.
    let (status, response) = ada.post_form_with(
        &format!("/me/devices/{bob_device}/rename"),
        "label=mine+now",
        &[SAME_ORIGIN],
    );
    assert_eq!(status, 303, "{response}");
    assert_eq!(location(&response), "/me?notice=no-such-device");
    assert_eq!(devices(&server), before);
    assert_eq!(audit_reasons(&server, "device_of_another_person"), 1);

    // ...nor decommissions it, asked or confirmed; bob stays signed in.
    for form in ["", "confirm=yes"] {
        let (status, response) = ada.post_form_with(
            &format!("/me/devices/{bob_device}/decommission"),
            form,
            &[SAME_ORIGIN],
        );
        assert_eq!(status, 303, "{response}");
        assert_eq!(location(&response), "/me?notice=no-such-device");
        assert!(
            !response.contains("Decommission it"),
            "no confirmation page"
        );
    }
    assert_eq!(devices(&server), before);
    assert_eq!(bob.get_page("/me").0, 200, "bob is still signed in");
    assert_eq!(audit_reasons(&server, "device_of_another_person"), 2);

    // A name that is no device at all reads the same.
    let (_, response) = ada.post_form_with(
        "/me/devices/dev-000000000000/rename",
        "label=x",
        &[SAME_ORIGIN],
    );
    assert_eq!(location(&response), "/me?notice=no-such-device");

    // A huge label (at the options and at rename) is refused, in words.
    let huge = "x".repeat(100_000);
    let ((status, reply), result) = trust_this_device(&mut ada, &auth, &huge);
    assert_eq!(status, 400, "{reply}");
    assert_eq!(reply["reason"], "invalid_device_label");
    assert!(result.is_none());
    let adas = device_of(&server, "ada");
    let ada_device = adas["name"].as_str().unwrap().to_owned();
    for label in [huge.as_str(), "", "tab\there", &"é".repeat(65)] {
        let form = format!("label={}", percent(label));
        let (status, response) = ada.post_form_with(
            &format!("/me/devices/{ada_device}/rename"),
            &form,
            &[SAME_ORIGIN],
        );
        assert_eq!(status, 303, "{response}");
        assert_eq!(
            location(&response),
            "/me?notice=invalid-device-label",
            "{label:.20}"
        );
    }
    assert_eq!(devices(&server), before);

    // Cross-site: 403 before anything is read, for every device form.
    for (path, form) in [
        (format!("/me/devices/{ada_device}/rename"), "label=evil"),
        (
            format!("/me/devices/{ada_device}/decommission"),
            "confirm=yes",
        ),
        (format!("/admin/devices/{ada_device}/trust"), ""),
    ] {
        for site in [
            ("Sec-Fetch-Site", "cross-site"),
            ("Sec-Fetch-Site", "same-site"),
            ("Origin", "https://evil.example"),
        ] {
            let (status, response) = ada.post_form_with(&path, form, &[site]);
            assert_eq!(status, 403, "{path} from {site:?}: {response}");
        }
    }
    assert_eq!(devices(&server), before);

    // The same rename from our own page works.
    let (_, response) = ada.post_form_with(
        &format!("/me/devices/{ada_device}/rename"),
        "label=Ada%27s+laptop",
        &[SAME_ORIGIN],
    );
    assert_eq!(location(&response), "/me?notice=device-renamed");
    assert_eq!(device_of(&server, "ada")["label"], "Ada's laptop");
    assert_eq!(device_of(&server, "bob")["label"], "Laptop");
}

#[test]
fn the_console_device_page_is_for_administrators_only() {
    let server = Server::start();
    let auth = Authenticator::default();
    let mut ada = server.browser();
    enrol(&server, &mut ada, &auth, "ada");
    let (_, result) = trust_this_device(&mut ada, &auth, "Laptop");
    assert_eq!(result.unwrap().0, 200);
    let device = device_of(&server, "ada")["name"]
        .as_str()
        .unwrap()
        .to_owned();
    let before = devices(&server);

    // ada is no administrator: the page and its forms are refused.
    let (status, page) = ada.get_page("/admin/devices");
    assert_eq!(status, 403, "{page}");
    assert!(page.contains("for administrators"), "{page}");
    assert!(!page.contains(&device), "nothing of the devices shows");
    for action in ["trust", "untrust", "decommission"] {
        let (status, response) = ada.post_form_with(
            &format!("/admin/devices/{device}/{action}"),
            "confirm=yes",
            &[SAME_ORIGIN],
        );
        assert_eq!(status, 403, "{action}: {response}");
    }
    assert_eq!(devices(&server), before);
    // Signed out, the console sends the browser to sign in.
    let (status, page) = server.browser().get_page("/admin/devices");
    assert_eq!(status, 303, "{page}");

    // An administrator sees it and approves it; decommissioning needs the
    // tick.
    let mut root = server.browser();
    enrol(&server, &mut root, &auth, "root");
    assert!(server.cli(&["admin", "promote", "root"]).0);
    let (status, page) = root.get_page("/admin/devices");
    assert_eq!(status, 200, "{page}");
    assert!(page.contains(&format!("data-device=\"{device}\"")));
    let (_, response) = root.post_form_with(
        &format!("/admin/devices/{device}/trust"),
        "reason=checked+by+IT",
        &[SAME_ORIGIN],
    );
    assert_eq!(location(&response), "/admin/devices?notice=device-approved");
    assert_eq!(device_of(&server, "ada")["status"], "trusted");
    let (_, response) = root.post_form_with(
        &format!("/admin/devices/{device}/decommission"),
        "",
        &[SAME_ORIGIN],
    );
    assert_eq!(
        location(&response),
        "/admin/devices?notice=confirm-decommission"
    );
    assert_eq!(device_of(&server, "ada")["status"], "trusted");
    let (_, response) = root.post_form_with(
        &format!("/admin/devices/{device}/decommission"),
        "confirm=yes",
        &[SAME_ORIGIN],
    );
    assert_eq!(
        location(&response),
        "/admin/devices?notice=device-decommissioned"
    );
    assert_eq!(device_of(&server, "ada")["status"], "decommissioned");
    let (_, verified) = server.cli(&["audit", "verify"]);
    assert!(verified.contains("verified"), "{verified}");
}

#[test]
fn trusting_refuses_synced_keys_and_other_sites_and_losing_asks_first() {
    let server = Server::start();
    let auth = Authenticator::default();
    let mut ada = server.browser();
    enrol(&server, &mut ada, &auth, "ada");

    // Without a session, and from another site: 403.
    let (status, reply) = server
        .browser()
        .post_json("/me/devices/options", &json!({"label": "x"}));
    assert_eq!(status, 403, "{reply}");
    for path in ["/me/devices/options", "/me/devices/result"] {
        for site in [
            ("Sec-Fetch-Site", "cross-site"),
            ("Origin", "https://evil.example"),
        ] {
            let (status, response) = ada.post_json_with(path, &json!({"label": "x"}), &[site]);
            assert_eq!(status, 403, "{path} from {site:?}: {response}");
        }
    }

    // A synced passkey cannot stand for the device: refused with the code
    // the page puts in words, and nothing stored.
    let synced = Authenticator {
        backup_eligible: true,
        backup_state: true,
        counter: false,
        ..Authenticator::default()
    };
    let ((status, _), result) = trust_this_device(&mut ada, &synced, "Laptop");
    assert_eq!(status, 200);
    let (status, reply) = result.unwrap();
    assert_eq!(status, 400, "{reply}");
    assert_eq!(reply["reason"], "device_synced");
    assert_eq!(devices(&server), json!([]));
    assert_eq!(server.state("ada").0, 1, "no credential stored either");

    // The laptop's own key is enrolled.
    let (_, result) = trust_this_device(&mut ada, &auth, "Laptop");
    assert_eq!(result.unwrap().0, 200);
    let device = device_of(&server, "ada")["name"]
        .as_str()
        .unwrap()
        .to_owned();
    let lose = format!("/me/devices/{device}/decommission");

    // "I lost this device" without the confirmation: the page that asks,
    // and nothing changes. This session was opened with another passkey,
    // so the page does not say it is the device in use.
    let (status, page) = ada.post_form_with(&lose, "", &[SAME_ORIGIN]);
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Decommission it"), "{page}");
    assert!(!page.contains("the device you are using now"), "{page}");
    assert_eq!(device_of(&server, "ada")["status"], "untrusted");

    // Confirmed: decommissioned; this browser's session goes on.
    let (_, response) = ada.post_form_with(&lose, "confirm=yes", &[SAME_ORIGIN]);
    assert_eq!(location(&response), "/me?notice=device-decommissioned");
    assert_eq!(device_of(&server, "ada")["status"], "decommissioned");
    assert_eq!(ada.get_page("/me").0, 200, "still signed in");
    // Once is all: it is no device of hers any more.
    let (_, response) = ada.post_form_with(&lose, "confirm=yes", &[SAME_ORIGIN]);
    assert_eq!(location(&response), "/me?notice=no-such-device");
}
