use super::*;

/// The look-alikes of `admin` that issue 12 item 16 found as separate
/// identities: each is either the same name or refused.
#[test]
fn look_alikes_of_admin_are_one_name_or_refused() {
    // White space around a name (a newline too) is not part of it.
    for same in [
        "admin",
        "ADMIN",
        "Admin",
        "ａｄｍｉｎ",
        "  admin  ",
        "\u{3000}admin",
        "admin\n",
    ] {
        assert_eq!(canonical(same).as_deref(), Ok("admin"), "{same:?}");
        assert_eq!(lookup_key(same).as_deref(), Some("admin"), "{same:?}");
    }
    for refused in [
        "ad\u{200B}min", // zero-width space
        "\u{FEFF}admin", // BOM
        "ad\u{00AD}min", // soft hyphen
        "ad\u{200D}min", // zero-width joiner outside its context
        "\u{202E}nimda", // right-to-left override
        "admin\u{0}",
        "ad\nmin",
        "adm\u{1b}[31min",
        "adm\tin",
    ] {
        assert_eq!(
            canonical(refused),
            Err(NameError::Disallowed),
            "{refused:?}"
        );
    }
    // Cyrillic а is a letter: a valid name, but its skeleton is admin's.
    let cyrillic = canonical("\u{0430}dmin").unwrap();
    assert_ne!(cyrillic, "admin");
    assert_eq!(skeleton(&cyrillic), skeleton("admin"));
}

#[test]
fn nfc_and_nfd_spellings_are_one_name() {
    let nfc = canonical("jos\u{00E9}").unwrap();
    let nfd = canonical("jose\u{0301}").unwrap();
    assert_eq!(nfc, nfd);
    assert_eq!(nfc, "jos\u{00E9}");
    assert_eq!(canonical("JOSÉ").unwrap(), nfc);
}

#[test]
fn empty_long_and_spaced_names() {
    for empty in ["", " ", "\t \u{3000}  "] {
        assert_eq!(canonical(empty), Err(NameError::Empty), "{empty:?}");
        assert_eq!(lookup_key(empty), None);
    }
    assert_eq!(canonical(&"x".repeat(64)).unwrap().len(), 64);
    assert_eq!(canonical(&"x".repeat(65)), Err(NameError::TooLong));
    assert_eq!(
        canonical(&"é".repeat(64)).unwrap().chars().count(),
        64,
        "characters, not bytes"
    );
    assert_eq!(canonical(&"x".repeat(200_000)), Err(NameError::TooLong));
    assert_eq!(lookup_key(&"x".repeat(MAX_INPUT_BYTES + 1)), None);
    // RFC 8265 §3.1: userparts separated by spaces; one space between.
    assert_eq!(canonical("Zoë  Ångström").unwrap(), "zoë ångström");
    assert_eq!(canonical("a\u{00A0}b"), Err(NameError::Disallowed));
}

/// What look-ups rely on: a valid name's look-up key is its canonical
/// form, whatever the spelling.
#[test]
fn the_lookup_key_of_a_valid_name_is_its_canonical_form() {
    let samples = [
        "ada",
        "Ada Lovelace",
        "ÅSA",
        "Å",
        "ß",
        "İstanbul",
        "ǅemal",
        "ｂｏｂ",
        "ﾊﾞ",
        "한국",
        "\u{1100}\u{1161}\u{11A8}",
        "ΣΊΣΥΦΟΣ",
        "שלום",
        "مرحبا",
        "a1",
        "<b>eve</b>",
        "x.y_z-w@host",
    ];
    for s in samples {
        if let Ok(c) = canonical(s) {
            assert_eq!(lookup_key(s).as_deref(), Some(c.as_str()), "{s:?}");
            assert_eq!(
                canonical(&c).as_deref(),
                Ok(c.as_str()),
                "idempotent: {s:?}"
            );
        }
    }
    assert!(canonical("Ada Lovelace").is_ok());
    assert!(
        canonical("<b>eve</b>").is_ok(),
        "printable ASCII is allowed"
    );
}

#[test]
fn names_stored_before_the_rule_still_have_keys() {
    let keys = IndexKeys::of("Tab\there");
    assert_eq!(keys.key.as_deref(), Some("tab\there"));
    assert_eq!(lookup_key("TAB\tHERE").as_deref(), Some("tab\there"));
    assert!(keys.skeleton.is_some());
    let huge = IndexKeys::of(&"x".repeat(200_000));
    assert_eq!(huge, IndexKeys::default(), "too long to index");
}

#[test]
fn audit_records_a_bounded_label_for_anything_else() {
    assert_eq!(for_audit("ADA"), "ada");
    let huge = "\n".repeat(700_000);
    let label = for_audit(&huge);
    assert!(label.len() < 256, "{label}");
    assert!(!label.contains('\n'));
    assert!(label.contains("700000 bytes"));
}

#[test]
fn hazardous_text_is_made_visible() {
    assert!(matches!(text::escape("ada"), Cow::Borrowed("ada")));
    assert_eq!(text::escape("a\nb"), "a\\u{a}b");
    assert_eq!(text::escape("\u{202E}nimda"), "\\u{202e}nimda");
    assert_eq!(text::escape("a\\u{a}"), "a\\\\u{a}", "no forged escapes");
    assert_eq!(text::escape("\u{9b}31m"), "\\u{9b}31m", "C1 CSI");
    let json = serde_like("x\u{202E}y\u{9b}z\u{E0041}");
    assert_eq!(
        text::escape_json(&json),
        "\"x\\u202ey\\u009bz\\udb40\\udc41\""
    );
}

/// A JSON string as serde_json writes one of these (no C0 controls here).
fn serde_like(s: &str) -> String {
    format!("\"{s}\"")
}

use std::borrow::Cow;
