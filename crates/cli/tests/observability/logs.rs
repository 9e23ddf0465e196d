//! The log: a failed ceremony's lines (its reason, never its secrets),
//! the access log, text by default, and flagged audit events at `warn`.

use keybound_soft_authenticator::{b64, Authenticator, Tweaks};
use serde_json::Value;

use crate::served::{enrol, field, get_with_header, hex, is_access, sign_in, Served};

#[test]
fn a_failed_sign_in_is_logged_with_its_reason_and_without_its_secrets() {
    let server = Served::start(&["--log-format", "json"], "info");
    let auth = Authenticator::default();
    let mut browser = server.browser();
    let (mut cred, mut secrets) = enrol(&server, &mut browser, &auth, "ada");

    // A signed-in browser holds a session; a fresh one signs in and
    // then fails a second sign-in (a bad signature).
    let mut other = server.browser();
    let (status, c) = sign_in(&mut other, &auth, &mut cred, "ada", &Tweaks::default());
    assert_eq!(status, 200);
    secrets.push(c);
    let bad = Tweaks {
        corrupt_signature: true,
        ..Tweaks::default()
    };
    let mut third = server.browser();
    let (status, c) = sign_in(&mut third, &auth, &mut cred, "ada", &bad);
    assert_eq!(status, 400);
    secrets.push(c);
    // A malformed request: refused before any use case, so no audit
    // event; the access line says why.
    assert_eq!(third.post("/assertion/options", b"{not json").0, 400);
    // An unmatched path with a token in its query.
    let head = get_with_header(server.port, "/no/such/page?token=SEKRIT0123", b"X-Trace: 1");
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");

    for jar in [&browser.cookies, &other.cookies, &third.cookies] {
        for (name, value) in jar.iter() {
            assert!(value.len() >= 16, "{name}={value}");
            secrets.push(value.clone());
        }
    }
    assert!(
        browser
            .cookies
            .iter()
            .chain(&other.cookies)
            .any(|(k, _)| k == "kb_session"),
        "a session cookie to look for"
    );
    secrets.push(b64(&cred.id));
    secrets.push("SEKRIT0123".to_owned());

    let lines = server.json_lines_until(|l| is_access(l, "unmatched", 404));
    let refused = lines
        .iter()
        .find(|l| {
            field(l, "target") == "keybound::audit"
                && field(l, "kind") == "authentication"
                && field(l, "outcome") == "failure"
        })
        .unwrap_or_else(|| panic!("no failed authentication in {lines:#?}"));
    assert_eq!(field(refused, "reason"), "signature_invalid", "{refused}");
    assert_eq!(refused["span"]["route"], "/assertion/result", "{refused}");
    let credential = field(refused, "credential").as_str().unwrap();
    assert_eq!(credential.len(), 8, "a prefix only: {refused}");
    assert!(b64(&cred.id).starts_with(credential));

    // The access log: one line per request, with route, status, latency
    // and the request id its span carries.
    let access = lines
        .iter()
        .find(|l| is_access(l, "/assertion/result", 400))
        .unwrap_or_else(|| panic!("no access line in {lines:#?}"));
    assert!(
        field(access, "latency_ms").as_f64().unwrap() > 0.0,
        "{access}"
    );
    assert_eq!(field(access, "refusal"), "signature_invalid", "{access}");
    assert_eq!(field(access, "method"), "POST");
    assert_eq!(field(access, "client"), "127.0.0.1");
    assert_eq!(&access["span"]["request_id"], field(access, "request_id"));
    assert_eq!(
        access["span"]["request_id"], refused["span"]["request_id"],
        "the refusal is logged inside its request's span"
    );
    // The successful sign-in's request names who signed in.
    assert!(
        lines
            .iter()
            .any(|l| is_access(l, "/assertion/result", 200) && l["span"]["identity"] == "ada"),
        "{lines:#?}"
    );
    assert!(lines.iter().any(|l| is_access(l, "unmatched", 404)));
    assert!(
        lines.iter().any(|l| is_access(l, "/assertion/options", 400)
            && field(l, "refusal") == "malformed_request"),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .filter(|l| is_access(l, "/assertion/result", 200))
            .all(|l| l.get("refusal").is_none()),
        "a success names no refusal"
    );

    let all = std::fs::read_to_string(server.log_path()).unwrap();
    for secret in &secrets {
        assert!(!all.contains(secret.as_str()), "{secret} is in the log");
    }
    // Not even under another spelling (standard base64, hex).
    assert!(!all.contains(&hex(&cred.id)));
}

/// Events that call for attention reach a log filtered at `warn`: a
/// counter regression (a suspected clone, high severity) and the
/// quarantined credential's next attempt (warning).
#[test]
fn flagged_audit_events_are_warnings() {
    let server = Served::start(&["--log-format", "json"], "warn");
    let auth = Authenticator::default();
    let mut browser = server.browser();
    let (mut cred, _) = enrol(&server, &mut browser, &auth, "ada");
    for _ in 0..3 {
        assert_eq!(
            sign_in(&mut browser, &auth, &mut cred, "ada", &Tweaks::default()).0,
            200
        );
    }
    let clone = Tweaks {
        sign_count: Some(2),
        ..Tweaks::default()
    };
    assert_eq!(sign_in(&mut browser, &auth, &mut cred, "", &clone).0, 400);
    let again = sign_in(&mut browser, &auth, &mut cred, "ada", &Tweaks::default());
    assert_eq!(again.0, 400);

    let flagged = |l: &Value, reason: &str| {
        field(l, "target") == "keybound::audit" && field(l, "reason") == reason
    };
    let lines = server.json_lines_until(|l| flagged(l, "credential_quarantined"));
    let clone = lines
        .iter()
        .find(|l| flagged(l, "clone_suspected"))
        .unwrap_or_else(|| panic!("no clone line in {lines:#?}"));
    assert_eq!(field(clone, "level"), "WARN", "{clone}");
    assert_eq!(field(clone, "severity"), "high", "{clone}");
    let quarantined = lines
        .iter()
        .find(|l| flagged(l, "credential_quarantined"))
        .unwrap();
    assert_eq!(field(quarantined, "level"), "WARN", "{quarantined}");
    assert_eq!(field(quarantined, "severity"), "warning", "{quarantined}");
    // Routine lines (the successful sign-ins, the access log) are info:
    // filtered out here.
    assert!(
        lines.iter().all(|l| field(l, "level") != "INFO"),
        "{lines:#?}"
    );
}
