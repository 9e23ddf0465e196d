//! The real server on a random port with a temporary SQLite database,
//! driven over HTTP by the software authenticator: the conformance flow and
//! the hostile cases, each refused and leaving nothing but its audit event.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

mod support;

#[path = "e2e/devices.rs"]
mod devices;
#[path = "e2e/standing.rs"]
mod standing;

use std::io::{Read, Write};

use support::http::{ceremony, challenge, decode, enrol_across, Browser, ORIGIN, RP_ID};
use support::Server;

use keybound_soft_authenticator::{b64, Algorithm, Authenticator, Ceremony, Credential, Tweaks};
use serde_json::json;

impl Server {
    fn start() -> Server {
        Server::start_with(&[])
    }

    fn start_with(extra: &[&str]) -> Server {
        Server::start_on("127.0.0.1:0", RP_ID, ORIGIN, extra)
    }

    /// Everything a refused request must leave alone: both users'
    /// credentials (with counters and last use) and the audit chain's length.
    fn snapshot(&self) -> (String, String, usize) {
        let (_, ada) = self.cli(&["admin", "credentials", "ada"]);
        let (_, bob) = self.cli(&["admin", "credentials", "bob"]);
        let (_, audit) = self.cli(&["audit", "export"]);
        (ada, bob, audit.lines().count())
    }

    /// Runs `attempt`, asserts it was refused with 400, changed nothing, and
    /// added exactly one audit event: a failure.
    #[track_caller]
    fn expect_refusal(&self, attempt: impl FnOnce() -> u16) {
        let (ada, bob, events) = self.snapshot();
        assert_eq!(attempt(), 400);
        let after = self.snapshot();
        assert_eq!((&after.0, &after.1), (&ada, &bob), "state changed");
        assert_eq!(after.2, events + 1, "one audit event per refusal");
        let (_, audit) = self.cli(&["audit", "export"]);
        let last = audit.lines().last().unwrap();
        assert!(last.contains("\"outcome\":\"failure\""), "{last}");
    }

    /// How many credentials `name` has (active or not), and whether the
    /// audit chain still verifies, as an admin would check.
    fn state(&self, name: &str) -> (usize, String) {
        let (ok, creds) = self.cli(&["admin", "credentials", name, "--json"]);
        assert!(ok, "admin credentials {name} failed: {creds}");
        let creds: serde_json::Value = serde_json::from_str(&creds).expect(&creds);
        let (_, audit) = self.cli(&["audit", "verify"]);
        (
            creds.as_array().map_or(0, Vec::len),
            audit.trim().to_owned(),
        )
    }
}

/// Enrols `name` from a CLI invitation; returns the credential and handle.
fn enrol(
    server: &Server,
    browser: &mut Browser,
    auth: &Authenticator,
    name: &str,
) -> (Credential, Vec<u8>) {
    enrol_across(server, server, browser, auth, name)
}

/// Runs one sign-in for `name` with `tweaks`; returns the HTTP status.
fn sign_in(
    browser: &mut Browser,
    auth: &Authenticator,
    cred: &mut Credential,
    name: &str,
    tweaks: &Tweaks,
) -> u16 {
    let (_, options) = browser.post_json("/assertion/options", &json!({"username": name}));
    let c = challenge(&options);
    let json = auth.assert_with(cred, &ceremony(&c), tweaks);
    browser.post_json("/assertion/result", &json).0
}

#[test]
fn conformance_flow_over_a_real_port() {
    let server = Server::start();
    let auth = Authenticator::default();
    let mut browser = server.browser();
    let (mut first, _) = enrol(&server, &mut browser, &auth, "ada");

    // Sign in by name, then username-less.
    assert_eq!(
        sign_in(&mut browser, &auth, &mut first, "ada", &Tweaks::default()),
        200
    );
    assert_eq!(
        sign_in(&mut browser, &auth, &mut first, "", &Tweaks::default()),
        200
    );
    assert!(browser.cookies.iter().any(|(k, _)| k == "kb_session"));

    // Signed in, add a second credential without a token.
    let (status, options) = browser.post_json("/attestation/options", &json!({}));
    assert_eq!(status, 200);
    let user = decode(options["user"]["id"].as_str().unwrap());
    let c = challenge(&options);
    let (mut second, json) = auth.register(Algorithm::EdDsa, &ceremony(&c), &user);
    assert_eq!(browser.post_json("/attestation/result", &json).0, 200);
    assert_eq!(server.state("ada").0, 2);

    // Issue 12: the signed-in browser asking to enrol another name is
    // refused, and the operator cannot invite a live account.
    let (status, refused) = browser.post_json("/attestation/options", &json!({"username": "bob"}));
    assert_eq!(status, 400, "{refused}");
    assert!(refused.get("user").is_none(), "{refused}");
    let (ok, _) = server.cli(&["admin", "invite", "ada"]);
    assert!(!ok, "an active account gets no invitation");
    assert_eq!(server.state("ada").0, 2);

    // Revoke the first through the CLI while the server runs.
    let id = b64(&first.id);
    let (ok, _) = server.cli(&["admin", "revoke-credential", &id]);
    assert!(ok);
    assert_eq!(
        sign_in(&mut browser, &auth, &mut first, "ada", &Tweaks::default()),
        400
    );
    assert_eq!(
        sign_in(&mut browser, &auth, &mut second, "ada", &Tweaks::default()),
        200
    );
    let (_, audit) = server.state("ada");
    assert!(audit.starts_with("audit chain verified"), "{audit}");
}

#[test]
fn hostile_requests_are_refused_and_change_nothing() {
    let server = Server::start();
    let auth = Authenticator::default();
    let mut browser = server.browser();
    let (mut ada, _) = enrol(&server, &mut browser, &auth, "ada");
    let (mut bob, _) = enrol(&server, &mut browser, &auth, "bob");
    let before = server.state("ada");

    // Wrong origin, wrong RP ID hash, counter regression.
    let (_, options) = browser.post_json("/assertion/options", &json!({"username": "ada"}));
    let c = challenge(&options);
    let json = auth.assert(
        &mut ada,
        &Ceremony {
            origin: "https://evil.test",
            ..ceremony(&c)
        },
    );
    server.expect_refusal(|| browser.post_json("/assertion/result", &json).0);
    server.expect_refusal(|| {
        sign_in(
            &mut browser,
            &auth,
            &mut ada,
            "ada",
            &Tweaks {
                rp_id_hash_of: Some("evil.test".into()),
                ..Tweaks::default()
            },
        )
    });
    // (A counter regression is the one refusal that changes state: it
    // quarantines the credential. Its own test is below.)
    // Another user's credential, another user's handle.
    server.expect_refusal(|| sign_in(&mut browser, &auth, &mut bob, "ada", &Tweaks::default()));
    server.expect_refusal(|| {
        sign_in(
            &mut browser,
            &auth,
            &mut ada,
            "",
            &Tweaks {
                user_handle: Some(Some(b"bob".to_vec())),
                ..Tweaks::default()
            },
        )
    });

    // A replayed result.
    let (_, options) = browser.post_json("/assertion/options", &json!({"username": "ada"}));
    let c = challenge(&options);
    let json = auth.assert(&mut ada, &ceremony(&c));
    assert_eq!(browser.post_json("/assertion/result", &json).0, 200);
    server.expect_refusal(|| browser.post_json("/assertion/result", &json).0);

    // A result without options, and a challenge from another session.
    let mut stranger = server.browser();
    let json = auth.assert(&mut ada, &ceremony(&[7; 32]));
    server.expect_refusal(|| stranger.post_json("/assertion/result", &json).0);
    let (_, options) = browser.post_json("/assertion/options", &json!({"username": "ada"}));
    let c = challenge(&options);
    let json = auth.assert(&mut ada, &ceremony(&c));
    stranger.post_json("/assertion/options", &json!({"username": "ada"}));
    server.expect_refusal(|| stranger.post_json("/assertion/result", &json).0);

    // Garbage and oversized bodies from a browser that is not signed in:
    // 4xx, never 5xx.
    let not_json: [&[u8]; 4] = [b"", b"{]", b"null", b"\xff\xfe"];
    for path in [
        "/attestation/options",
        "/attestation/result",
        "/assertion/options",
        "/assertion/result",
    ] {
        for body in not_json {
            let (status, _) = stranger.post(path, body);
            assert!((400..500).contains(&status), "{path} {body:?} -> {status}");
        }
    }
    for path in ["/attestation/result", "/assertion/result"] {
        let (status, _) = stranger.post(path, b"{\"id\":5}");
        assert_eq!(status, 400, "{path}");
    }
    let (status, _) = browser.post("/assertion/result", &vec![b'x'; 2 * 1024 * 1024]);
    assert_eq!(status, 413);

    // Nothing changed but the audit log (which still verifies), and the
    // legitimate user still signs in.
    let after = server.state("ada");
    assert_eq!(after.0, before.0);
    assert!(after.1.starts_with("audit chain verified"), "{}", after.1);
    assert_eq!(
        sign_in(&mut browser, &auth, &mut ada, "ada", &Tweaks::default()),
        200
    );
}

#[test]
fn an_expired_challenge_is_refused() {
    // The only test here that waits: a real process has a real clock. The
    // service's own tests cover expiry with a fake clock.
    let server = Server::start_with(&["--challenge-ttl", "1"]);
    let auth = Authenticator::default();
    let mut browser = server.browser();
    let (mut ada, _) = enrol(&server, &mut browser, &auth, "ada");
    let (_, options) = browser.post_json("/assertion/options", &json!({"username": "ada"}));
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let c = challenge(&options);
    let json = auth.assert(&mut ada, &ceremony(&c));
    server.expect_refusal(|| browser.post_json("/assertion/result", &json).0);
    assert_eq!(
        sign_in(&mut browser, &auth, &mut ada, "ada", &Tweaks::default()),
        200
    );
}

/// A counter that goes backwards means two copies of the key may exist: the
/// credential is quarantined with a high-severity event and refused even
/// with a correct counter, until an administrator clears it.
#[test]
fn a_counter_regression_quarantines_the_credential_until_an_admin_clears_it() {
    let server = Server::start();
    let auth = Authenticator::default();
    let mut browser = server.browser();
    let (mut cred, _) = enrol(&server, &mut browser, &auth, "ada");
    for _ in 0..3 {
        assert_eq!(
            sign_in(&mut browser, &auth, &mut cred, "ada", &Tweaks::default()),
            200
        );
    }
    let clone = Tweaks {
        sign_count: Some(2),
        ..Tweaks::default()
    };
    assert_eq!(sign_in(&mut browser, &auth, &mut cred, "", &clone), 400);
    // The genuine authenticator, with a counter above anything seen:
    for name in ["", "ada"] {
        assert_eq!(
            sign_in(&mut browser, &auth, &mut cred, name, &Tweaks::default()),
            400,
            "quarantined, whoever answers"
        );
    }
    let (_, listed) = server.cli(&["admin", "credentials", "ada"]);
    assert!(listed.contains("QUARANTINED"), "{listed}");
    let (_, audit) = server.cli(&["audit", "export"]);
    let clone_event = audit
        .lines()
        .find(|l| l.contains("\"reason\":\"clone_suspected\""))
        .expect("a clone event");
    assert!(
        clone_event.contains("\"severity\":\"high\""),
        "{clone_event}"
    );
    assert!(clone_event.contains("\"sign_count\":2"), "{clone_event}");
    assert_eq!(
        audit
            .lines()
            .filter(|l| l.contains("\"reason\":\"credential_quarantined\""))
            .count(),
        2
    );

    let (ok, alerts) = server.cli(&["audit", "alerts", "--since", "1h", "--json"]);
    assert!(ok);
    // One JSON array, an element an alert.
    let listed: Vec<serde_json::Value> = serde_json::from_str(&alerts).expect(&alerts);
    assert!(
        listed
            .iter()
            .any(|l| l.to_string().contains("clone_suspected")),
        "{alerts}"
    );
    assert!(
        listed.iter().all(|l| l.get("severity").is_some()),
        "{alerts}"
    );
    let (ok, _) = server.cli(&["audit", "alerts", "--since", "soon"]);
    assert!(!ok, "durations are checked");

    let id = keybound_webauthn::b64::encode(&cred.id);
    let (ok, _) = server.cli(&["admin", "clear-credential", &id]);
    assert!(ok);
    let (ok, _) = server.cli(&["admin", "clear-credential", &id]);
    assert!(!ok, "only a quarantined credential can be cleared");
    assert_eq!(
        sign_in(&mut browser, &auth, &mut cred, "ada", &Tweaks::default()),
        200
    );
    let (_, verified) = server.cli(&["audit", "verify"]);
    assert!(verified.contains("verified"), "{verified}");
}

/// `--registration-min-tier 2` refuses a synced passkey (tier 1) and lets a
/// device-bound one with user verification (tier 2) enrol; the listing
/// shows the tier and why.
#[test]
fn the_registration_tier_policy_is_enforced_through_the_server() {
    let server = Server::start_with(&["--registration-min-tier", "2"]);
    let synced = Authenticator {
        backup_eligible: true,
        backup_state: true,
        ..Authenticator::default()
    };
    let mut browser = server.browser();
    let (ok, url) = server.cli(&["admin", "invite", "ada"]);
    assert!(ok);
    let token = url.trim().split("token=").nth(1).unwrap().to_owned();
    let (_, options) = browser.post_json(
        "/attestation/options",
        &json!({"username": "ada", "token": token}),
    );
    let user = decode(options["user"]["id"].as_str().unwrap());
    let c = challenge(&options);
    let (_, json) = synced.register(Algorithm::Es256, &ceremony(&c), &user);
    let (status, _) = browser.post_json("/attestation/result", &json);
    assert_eq!(status, 400);
    let (_, audit) = server.cli(&["audit", "export"]);
    assert!(audit.lines().last().unwrap().contains("tier_below_policy"));

    let device_bound = Authenticator::default();
    enrol(&server, &mut browser, &device_bound, "bob");
    let (_, listed) = server.cli(&["admin", "credentials", "bob", "--json"]);
    let listed: serde_json::Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(listed[0]["tier"], 2, "{listed}");
    assert!(
        listed[0]["tier_reasons"]
            .as_str()
            .unwrap()
            .starts_with("device-bound; user verified"),
        "{listed}"
    );
}

/// `keybound mds import` and `mds show` against the FIDO root given by
/// `--mds-root`; a second import of the same serial is refused and the
/// first stays in force.
#[test]
fn metadata_is_imported_and_shown_from_the_command_line() {
    let server = Server::start();
    let mds = keybound_soft_authenticator::TestMds::new();
    let root = server.dir.path().join("fido-root.der");
    std::fs::write(&root, &mds.root_der).unwrap();
    let blob = server.dir.path().join("blob.jwt");
    let entry = keybound_soft_authenticator::TestMds::entry(
        "4b4b4b4b-4b4b-4b4b-4b4b-4b4b4b4b4b4b",
        &[],
        &["FIDO_CERTIFIED_L2"],
    );
    std::fs::write(&blob, mds.blob(3, "2099-01-01", json!([entry]))).unwrap();
    let root_arg = root.to_str().unwrap();
    let blob_arg = blob.to_str().unwrap();

    let (ok, out) = server.cli(&["mds", "import", blob_arg, "--mds-root", root_arg]);
    assert!(ok, "{out}");
    assert!(out.contains("no 3: 1 entries"), "{out}");
    let (ok, _) = server.cli(&["mds", "import", blob_arg, "--mds-root", root_arg]);
    assert!(!ok, "the same serial again is refused");
    let (ok, _) = server.cli(&["mds", "import", blob_arg]);
    assert!(!ok, "no FIDO root, no import");
    let (ok, shown) = server.cli(&[
        "mds",
        "show",
        "4B4B4B4B-4B4B-4B4B-4B4B-4B4B4B4B4B4B",
        "--mds-root",
        root_arg,
    ]);
    assert!(ok);
    assert!(
        shown.contains("certification: FIDO_CERTIFIED_L2"),
        "{shown}"
    );
    let (_, audit) = server.cli(&["audit", "verify"]);
    assert!(audit.contains("verified"));
}

/// A stand-in for the FIDO MDS: serves one BLOB with an ETag, answers 304
/// when asked with it, and counts full downloads.
fn serve_blob(blob: String) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let downloads = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = downloads.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let n = stream.read(&mut buf).unwrap_or(0);
            let request = String::from_utf8_lossy(&buf[..n]).to_ascii_lowercase();
            let reply = if request.contains("if-none-match: \"v1\"") {
                "HTTP/1.1 304 Not Modified\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .to_owned()
            } else {
                counter.fetch_add(1, Ordering::SeqCst);
                format!(
                    "HTTP/1.1 200 OK\r\nETag: \"v1\"\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{blob}",
                    blob.len()
                )
            };
            let _ = stream.write_all(reply.as_bytes());
        }
    });
    (url, downloads)
}

/// With --mds-url the server fetches the BLOB when it starts and then on
/// its schedule, sending the ETag so an unchanged BLOB is not downloaded
/// again; `keybound mds fetch` does one fetch; an unchanged BLOB is not
/// audited.
#[test]
fn metadata_is_fetched_from_a_url() {
    let mds = keybound_soft_authenticator::TestMds::new();
    let entry = keybound_soft_authenticator::TestMds::entry(
        "4b4b4b4b-4b4b-4b4b-4b4b-4b4b4b4b4b4b",
        &[],
        &["FIDO_CERTIFIED_L1"],
    );
    let (url, downloads) = serve_blob(mds.blob(9, "2099-01-01", json!([entry])));
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("fido-root.der");
    std::fs::write(&root, &mds.root_der).unwrap();
    let root = root.to_str().unwrap().to_owned();
    let server =
        Server::start_with(&["--mds-url", &url, "--mds-root", &root, "--mds-refresh", "1"]);
    let show = || {
        server.cli(&[
            "mds",
            "show",
            "4b4b4b4b-4b4b-4b4b-4b4b-4b4b4b4b4b4b",
            "--mds-root",
            &root,
        ])
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !show().0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the server never fetched"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(show().1.contains("FIDO_CERTIFIED_L1"));
    // Later scheduled fetches send the ETag and get 304: no new download.
    std::thread::sleep(std::time::Duration::from_millis(2500));
    assert_eq!(downloads.load(std::sync::atomic::Ordering::SeqCst), 1);

    let (ok, out) = server.cli(&["mds", "fetch", "--mds-url", &url, "--mds-root", &root]);
    assert!(ok, "{out}");
    assert_eq!(out.trim(), "metadata unchanged");
    let (_, audit) = server.cli(&["audit", "export"]);
    let imports = audit
        .lines()
        .filter(|l| l.contains("admin.mds_import"))
        .count();
    assert_eq!(imports, 1, "unchanged fetches leave no event");
    assert_eq!(downloads.load(std::sync::atomic::Ordering::SeqCst), 2);
}

/// `keybound admin offboard`: afterwards the former credential cannot sign
/// in and the browser's session is dead.
#[test]
fn offboarding_from_the_command_line_ends_everything() {
    let server = Server::start();
    let auth = Authenticator::default();
    let mut browser = server.browser();
    let (mut cred, _) = enrol(&server, &mut browser, &auth, "ada");
    assert_eq!(
        sign_in(&mut browser, &auth, &mut cred, "ada", &Tweaks::default()),
        200
    );
    let (ok, out) = server.cli(&["admin", "offboard", "ada"]);
    assert!(ok);
    // The sign-in replaced the enrolment's session: one live session.
    assert!(
        out.contains("1 credentials revoked, 1 sessions ended"),
        "{out}"
    );
    assert_eq!(
        sign_in(&mut browser, &auth, &mut cred, "", &Tweaks::default()),
        400
    );
    assert_eq!(
        sign_in(&mut browser, &auth, &mut cred, "ada", &Tweaks::default()),
        400
    );
    let (status, _) = browser.post_json("/attestation/options", &json!({}));
    assert_eq!(status, 403, "the old session cannot add a passkey");
    let (_, users) = server.cli(&["admin", "users"]);
    assert!(users.contains("offboarded"), "{users}");
    let (_, audit) = server.cli(&["audit", "verify"]);
    assert!(audit.contains("verified"));
}
