use super::OriginPolicy;

#[test]
fn configured_origins_are_normalised_like_browsers_serialise_them() {
    let p =
        OriginPolicy::exact(["https://Login.Example.com:443/", "http://localhost:8080"]).unwrap();
    assert_eq!(
        p.origins(),
        ["https://login.example.com", "http://localhost:8080"]
    );
    assert!(p.allows_origin("https://login.example.com"));
    assert!(!p.allows_origin("https://Login.Example.com:443/"));
}

#[test]
fn app_origins_are_kept_verbatim() {
    let p = OriginPolicy::exact(["android:apk-key-hash:abc123"]).unwrap();
    assert!(p.allows_origin("android:apk-key-hash:abc123"));
    assert!(!p.allows_origin("android:apk-key-hash:abc12"));
}

#[test]
fn origins_with_paths_or_queries_are_configuration_errors() {
    for bad in [
        "https://example.com/login",
        "https://example.com/?a=1",
        "https://example.com/#top",
        "https://admin@example.com",
        "https://:secret@example.com",
        "",
        "example.com",
    ] {
        assert!(OriginPolicy::exact([bad]).is_err(), "{bad}");
    }
}

#[test]
fn subdomain_rule_needs_scheme_port_and_a_real_label() {
    let p = OriginPolicy::default()
        .allow_subdomains_of("https://example.com")
        .unwrap();
    assert!(p.allows_origin("https://a.example.com"));
    assert!(p.allows_origin("https://a.b.example.com"));
    for no in [
        "https://example.com",
        "https://.example.com",
        "https://badexample.com",
        "http://a.example.com",
        "https://a.example.com:444",
        "https://a.example.com/",
        "https://A.example.com",
    ] {
        assert!(!p.allows_origin(no), "{no}");
    }
}
