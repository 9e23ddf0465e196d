//! Request ids: hostile ones are never logged or echoed as given, and a
//! client's own id is honoured only through a trusted proxy.

use crate::served::{field, get_with_header, is_access, Served};

#[test]
fn hostile_request_ids_are_not_logged_as_given() {
    // Through a trusted proxy, where a sane id is taken: a hostile one
    // still is not.
    let server = Served::start(
        &["--log-format", "json", "--trusted-proxy", "127.0.0.1"],
        "info",
    );
    let sane = get_with_header(server.port, "/healthz", b"X-Request-Id: trace-0123456789");
    assert!(
        sane.to_ascii_lowercase()
            .contains("x-request-id: trace-0123456789"),
        "{sane}"
    );
    let huge = format!("X-Request-Id: {}", "H".repeat(4000));
    let tab = b"X-Request-Id: abc\tFORGED".to_vec();
    let high = b"X-Request-Id: abc\xffFORGED".to_vec();
    let quoted = br#"X-Request-Id: a","level":"ERROR"#.to_vec();
    for header in [huge.as_bytes().to_vec(), tab, high, quoted] {
        let head = get_with_header(server.port, "/healthz", &header);
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(!head.contains("HHHH") && !head.contains("FORGED"), "{head}");
    }
    // Other control characters never get past hyper.
    let head = get_with_header(
        server.port,
        "/healthz",
        b"X-Request-Id: abc\x1b[31mFORGED\x07",
    );
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");
    // Every request's line is written (the log trails the responses).
    let lines = server.json_lines_until_all(|lines| {
        lines
            .iter()
            .filter(|l| is_access(l, "/healthz", 200))
            .count()
            >= 5
            && lines.iter().any(|l| {
                field(l, "target") == "keybound::access"
                    && field(l, "request_id")
                        .as_str()
                        .is_some_and(|id| id.len() == 32)
            })
    });
    let ids: Vec<&str> = lines
        .iter()
        .filter(|l| is_access(l, "/healthz", 200))
        .map(|l| field(l, "request_id").as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 5, "{lines:#?}");
    assert_eq!(ids[0], "trace-0123456789");
    for id in &ids[1..] {
        assert!(
            id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()),
            "a fresh id, not the client's: {id}"
        );
    }
    let all = std::fs::read_to_string(server.log_path()).unwrap();
    assert!(!all.contains("HHHHHHHH"), "the huge id is not logged");
    assert!(!all.contains("FORGED") && !all.contains('\u{1b}'));
    assert!(!all.contains(r#""level":"ERROR"#));
}

/// The response's `X-Request-Id`.
fn response_id(head: &str) -> String {
    head.lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("x-request-id")
                .then(|| value.trim().to_owned())
        })
        .unwrap_or_else(|| panic!("no X-Request-Id in {head}"))
}

/// A client that is not a trusted proxy cannot name its request (and so
/// cannot pass its request off as another's in the log): it gets a fresh
/// id, and the id it sent is logged beside it as `client_request_id`.
#[test]
fn an_untrusted_client_does_not_choose_its_request_id() {
    let server = Served::start(&["--log-format", "json"], "info");
    let head = get_with_header(server.port, "/healthz", b"X-Request-Id: someone-elses-id");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let id = response_id(&head);
    assert_ne!(id, "someone-elses-id", "{head}");
    assert!(
        id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "a fresh id: {id}"
    );
    // A hostile id is not even logged as the client's.
    let hostile = get_with_header(server.port, "/healthz", br#"X-Request-Id: a","FORGED":"1"#);
    assert!(hostile.starts_with("HTTP/1.1 200"), "{hostile}");
    let lines = server.json_lines_until(|l| {
        is_access(l, "/healthz", 200) && field(l, "request_id").as_str() == Some(id.as_str())
    });
    let access = lines
        .iter()
        .find(|l| is_access(l, "/healthz", 200) && field(l, "request_id") == id.as_str())
        .unwrap_or_else(|| panic!("no access line with {id} in {lines:#?}"));
    assert_eq!(
        field(access, "client_request_id"),
        "someone-elses-id",
        "{access}"
    );
    assert_eq!(access["span"]["client_request_id"], "someone-elses-id");
    assert!(
        lines
            .iter()
            .filter(|l| is_access(l, "/healthz", 200))
            .all(|l| field(l, "request_id") != "someone-elses-id"),
        "{lines:#?}"
    );
    let all = std::fs::read_to_string(server.log_path()).unwrap();
    assert!(!all.contains("FORGED"), "{all}");
}

/// Behind a trusted proxy (here the test itself, on 127.0.0.1), the
/// proxy's id is the request's, so one id follows a request through the
/// proxy's log and keybound's.
#[test]
fn a_trusted_proxy_names_the_request() {
    let server = Served::start(
        &["--log-format", "json", "--trusted-proxy", "127.0.0.1"],
        "info",
    );
    let head = get_with_header(server.port, "/healthz", b"X-Request-Id: proxy-id-42");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(response_id(&head), "proxy-id-42");
    let lines = server.json_lines_until(|l| field(l, "request_id") == "proxy-id-42");
    let access = lines
        .iter()
        .find(|l| is_access(l, "/healthz", 200) && field(l, "request_id") == "proxy-id-42")
        .unwrap_or_else(|| panic!("no access line in {lines:#?}"));
    assert!(access.get("client_request_id").is_none(), "{access}");
}
