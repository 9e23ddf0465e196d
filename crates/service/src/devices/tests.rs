use super::enrol::platform_of;
use super::*;

#[test]
fn labels_are_trimmed_bounded_printable_and_not_empty() {
    assert_eq!(clean_label("  my laptop ").unwrap(), "my laptop");
    for bad in ["", "   ", "a\u{7}b", "a\nb", "\u{202E}evil"] {
        assert_eq!(
            clean_label(bad),
            Err(ServiceError::Rejected(Refusal::InvalidDeviceLabel)),
            "{bad:?}"
        );
    }
    assert!(clean_label(&"x".repeat(MAX_LABEL_CHARS)).is_ok());
    assert!(
        clean_label(&"é".repeat(MAX_LABEL_CHARS)).is_ok(),
        "characters, not bytes"
    );
    assert!(clean_label(&"x".repeat(MAX_LABEL_CHARS + 1)).is_err());
    assert!(clean_label(&"x".repeat(1_000_000)).is_err());
}

#[test]
fn reasons_are_bounded_and_printable() {
    assert_eq!(clean_reason(None), None);
    assert_eq!(clean_reason(Some("  ")), None);
    assert_eq!(clean_reason(Some(" lost\n ")).as_deref(), Some("lost"));
    assert_eq!(
        clean_reason(Some(&"y".repeat(10_000))).map(|r| r.chars().count()),
        Some(MAX_REASON_CHARS)
    );
}

#[test]
fn platforms_are_named_coarsely_most_specific_first() {
    let cases = [
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)",
            "iOS",
        ),
        ("Mozilla/5.0 (Linux; Android 14; Pixel 8)", "Android"),
        ("Mozilla/5.0 (X11; CrOS x86_64 14541.0.0)", "ChromeOS"),
        ("Mozilla/5.0 (Windows NT 10.0; Win64; x64)", "Windows"),
        ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)", "macOS"),
        ("Mozilla/5.0 (X11; Linux x86_64)", "Linux"),
        ("curl/8.0", ""),
    ];
    for (ua, platform) in cases {
        assert_eq!(platform_of(Some(ua)), platform, "{ua}");
    }
    assert_eq!(platform_of(None), "");
}
