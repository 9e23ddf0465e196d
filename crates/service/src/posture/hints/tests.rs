use super::*;

fn hints(p: &str, v: &str, ua: &str, full: Option<&str>) -> ClientHints {
    ClientHints::from_headers(
        Some(p.as_bytes()),
        Some(v.as_bytes()),
        Some(ua.as_bytes()),
        full.map(str::as_bytes),
    )
}

#[test]
fn chromes_hints_are_read() {
    let h = hints(
        "\"macOS\"",
        "\"14.4.1\"",
        r#""Chromium";v="126", "Google Chrome";v="126", "Not-A.Brand";v="8""#,
        Some(
            r#""Chromium";v="126.0.6478.61", "Google Chrome";v="126.0.6478.61", "Not-A.Brand";v="8.0.0.0""#,
        ),
    );
    assert_eq!(h.platform.as_deref(), Some("macOS"));
    assert_eq!(h.platform_version.as_deref(), Some("14.4.1"));
    assert_eq!(
        h.browser,
        Some(("Google Chrome".into(), "126.0.6478.61".into()))
    );
    // Without the full list, the low-entropy one.
    let h = hints(
        "\"Linux\"",
        "\"\"",
        r#""Not A(Brand";v="99", "Chromium";v="126""#,
        None,
    );
    assert_eq!(h.browser, Some(("Chromium".into(), "126".into())));
    assert_eq!(h.platform_version, None, "empty is unknown");
}

#[test]
fn escapes_are_structured_field_escapes() {
    assert_eq!(sf_string_item(br#""a\"b\\c""#), Some("a\"b\\c".into()));
    assert_eq!(sf_string_item(br#""a\nb""#), None);
    assert_eq!(sf_string_item(b" \"x\" "), Some("x".into()));
}

#[test]
fn hostile_hints_are_ignored() {
    let none = ClientHints::default();
    for bad in [
        "macOS",             // a token, not a string
        "\"macOS",           // unterminated
        "\"macOS\" x",       // trailing junk
        "\"mac\u{e9}OS\"",   // not ASCII
        "\"a\tb\"",          // a control character
        "\"macOS\";v=\"1\"", // parameters on a bare item
    ] {
        let h = ClientHints::from_headers(Some(bad.as_bytes()), None, None, None);
        assert_eq!(h, none, "{bad:?}");
    }
    let long = format!("\"{}\"", "a".repeat(MAX_HINT));
    assert_eq!(
        ClientHints::from_headers(Some(long.as_bytes()), None, None, None),
        none
    );
    for bad in [
        r#""Chromium";v="126","#,
        r#""Chromium";v=126"#,
        r#""Chromium""#,
        r#""";v="1""#,
        r#""Chromium";v="126" "Edge";v="1""#,
    ] {
        assert_eq!(brand_list(bad.as_bytes()), None, "{bad:?}");
    }
    let many = [r#""B";v="1""#; MAX_BRANDS + 1].join(", ");
    assert_eq!(brand_list(many.as_bytes()), None);
    let huge = format!(r#""{}";v="1""#, "x".repeat(MAX_BRAND_FIELD + 1));
    assert_eq!(brand_list(huge.as_bytes()), None);
    // Only GREASE: no browser.
    assert_eq!(pick_brand(&[("Not-A.Brand".into(), "8".into())]), None);
}

#[test]
fn arbitrary_bytes_never_panic() {
    let mut seed = 7u32;
    for _ in 0..2000 {
        let len = (seed % 40) as usize;
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                let alphabet = b"\"\\;v=, aZ9\x7f\xff";
                alphabet[(seed >> 16) as usize % alphabet.len()]
            })
            .collect();
        let _ = ClientHints::from_headers(Some(&bytes), Some(&bytes), Some(&bytes), Some(&bytes));
    }
}
