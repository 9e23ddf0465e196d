use keybound_service::Tier;
use keybound_webauthn::OriginPolicy;

use super::*;

fn config() -> Config {
    Config::new(
        "localhost",
        OriginPolicy::exact(["http://localhost:8080"]).unwrap(),
        [0; 32],
    )
}

fn site<'a>(rp_id: &'a str, origins: &'a [String]) -> Deployment<'a> {
    Deployment {
        rp_id,
        origins,
        allow_insecure_origin: false,
        tls: false,
        proxy_declared: false,
    }
}

fn problems(rp_id: &str, origin: &str) -> Vec<String> {
    let origins = [origin.to_owned()];
    check(&site(rp_id, &origins), &config()).problems
}

#[test]
fn good_sites_pass() {
    assert!(problems("localhost", "http://localhost:8080").is_empty());
    assert!(problems("app.localhost", "http://app.localhost").is_empty());
    let origins = ["https://login.example.com".to_owned()];
    for (tls, proxy_declared) in [(true, false), (false, true)] {
        let site = Deployment {
            tls,
            proxy_declared,
            ..site("example.com", &origins)
        };
        assert_eq!(check(&site, &config()), Report::default());
    }
}

#[test]
fn each_bad_site_names_its_setting() {
    for (rp_id, origin, says) in [
        ("192.168.1.5", "https://192.168.1.5", "IP address"),
        ("[::1]", "http://[::1]:8080", "IP address"),
        ("example.com", "https://login.other.com", "does not cover"),
        ("example.com", "https://notexample.com", "does not cover"),
        ("login.example.com", "https://example.com", "does not cover"),
        ("example.com", "https://example.com/", "trailing slash"),
        (
            "example.com",
            "https://example.com/app",
            "write https://example.com",
        ),
        ("example.com", "https://example.com?x=1", "no path, query"),
        (
            "example.com",
            "https://Example.com",
            "write https://example.com",
        ),
        ("example.com", "ftp://example.com", "not an http(s) origin"),
        ("example.com", "example.com", "not an http(s) origin"),
        ("example.com", "http://example.com", "only on https origins"),
        (
            "example.com",
            "https://example.com",
            "nothing terminates TLS",
        ),
        ("Example.com", "https://example.com", "lowercase domain"),
    ] {
        let found = problems(rp_id, origin);
        assert!(
            found.iter().any(|p| p.contains(says)),
            "{rp_id} {origin}: {found:?}"
        );
        assert!(
            found
                .iter()
                .all(|p| p.contains("--origin") || p.contains("--rp-id")),
            "{found:?}"
        );
    }
    // 127.0.0.1 as an origin with RP ID localhost: not covered.
    assert!(problems("localhost", "http://127.0.0.1:8080")
        .iter()
        .any(|p| p.contains("does not cover")));
}

#[test]
fn allowing_insecure_origins_waives_transport_only() {
    let origins = [
        "http://intranet.example.com".to_owned(),
        "https://example.com".to_owned(),
    ];
    let allowed = Deployment {
        allow_insecure_origin: true,
        ..site("example.com", &origins)
    };
    assert!(check(&allowed, &config()).problems.is_empty());
    let origins = ["https://example.com/".to_owned()];
    let allowed = Deployment {
        allow_insecure_origin: true,
        ..site("example.com", &origins)
    };
    assert_eq!(check(&allowed, &config()).problems.len(), 1);
}

#[test]
fn unknown_groups_are_refused_and_hard_admin_rules_warned() {
    let origins = ["http://localhost:8080".to_owned()];
    let mut config = config();
    config
        .policy
        .group_min_tier
        .insert("admins".into(), Tier::DeviceBound);
    let report = check(&site("localhost", &origins), &config);
    assert_eq!(report.problems.len(), 1);
    assert!(report.problems[0].contains("--group-min-tier admins"));
    assert!(report.problems[0].contains("admin, user"));
    assert!(report.warnings.is_empty(), "admins is not admin");

    config.policy.group_min_tier.clear();
    config
        .policy
        .group_min_tier
        .insert("admin".into(), Tier::DeviceBound);
    let report = check(&site("localhost", &origins), &config);
    assert!(report.problems.is_empty());
    assert!(report.warnings[0].contains("security key"), "{report:?}");

    config
        .policy
        .group_min_tier
        .insert("admin".into(), Tier::AttestedHardware);
    let report = check(&site("localhost", &origins), &config);
    assert!(report.warnings[0].contains("no passkey can meet it"));
    config.mds_root = Some(vec![1]);
    let report = check(&site("localhost", &origins), &config);
    assert!(report.warnings[0].contains("--attestation direct"));
}

#[test]
fn the_cookie_domain_is_the_rp_id_or_a_parent_and_no_public_suffix() {
    assert_eq!(cookie_domain_problem("localhost", "localhost"), None);
    assert_eq!(cookie_domain_problem("id.example.com", "example.com"), None);
    assert_eq!(
        cookie_domain_problem("id.example.com", "id.example.com"),
        None
    );
    for (rp_id, domain) in [
        ("id.example.com", "com"),
        ("id.example.co.uk", "co.uk"),
        ("id.example.com", "other.com"),
        ("id.example.com", "ample.com"),
        ("id.example.com", ".example.com"),
        ("id.example.com", "app.id.example.com"),
        ("id.example.com", ""),
    ] {
        assert!(
            cookie_domain_problem(rp_id, domain).is_some(),
            "{rp_id} {domain}"
        );
    }
}
