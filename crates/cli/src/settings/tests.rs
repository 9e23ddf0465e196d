use std::time::Duration;

use clap::{Args, CommandFactory, FromArgMatches, Parser};
use keybound_server::ConnectionLimits;
use keybound_service::{Config, RateLimits};
use keybound_webauthn::OriginPolicy;

use super::*;
use crate::app::{self, ServiceSettings};

/// A command taking every group, as `serve` does.
#[derive(Parser, Debug)]
struct Cli {
    #[command(flatten)]
    store: StoreSettings,
    #[command(flatten)]
    site: SiteSettings,
    #[command(flatten)]
    people: PeopleSettings,
    #[command(flatten)]
    registration: RegistrationSettings,
    #[command(flatten)]
    tiers: TierSettings,
    #[command(flatten)]
    limits: LimitSettings,
    #[command(flatten)]
    lifetimes: LifetimeSettings,
    #[command(flatten)]
    http: HttpSettings,
    #[command(flatten)]
    metadata: MetadataSource,
    #[command(flatten)]
    refresh: MetadataRefresh,
}

fn parse(args: &[&str]) -> (Cli, ArgMatches) {
    let matches = Cli::command()
        .try_get_matches_from(std::iter::once("keybound").chain(args.iter().copied()))
        .unwrap();
    (Cli::from_arg_matches(&matches).unwrap(), matches)
}

fn file(text: &str) -> Result<FileSettings, String> {
    toml::from_str(text).map_err(|e| e.to_string())
}

/// Clap's argument ids are the field names, which are the file's keys:
/// the merge matches them by name.
fn flags_are_keys<G: Group>() {
    let command = G::augment_args(clap::Command::new("group"));
    let ids: Vec<&str> = command
        .get_arguments()
        .map(|a| a.get_id().as_str())
        .collect();
    assert_eq!(ids, file::keys::<G>(), "{}", std::any::type_name::<G>());
}

#[test]
fn every_group_names_its_flags_as_its_file_keys() {
    flags_are_keys::<StoreSettings>();
    flags_are_keys::<SiteSettings>();
    flags_are_keys::<PeopleSettings>();
    flags_are_keys::<LifetimeSettings>();
    flags_are_keys::<RegistrationSettings>();
    flags_are_keys::<TierSettings>();
    flags_are_keys::<LimitSettings>();
    flags_are_keys::<HttpSettings>();
    flags_are_keys::<MetadataSource>();
    flags_are_keys::<MetadataRefresh>();
    flags_are_keys::<LifecycleSettings>();
    flags_are_keys::<TlsSettings>();
    flags_are_keys::<ObserveSettings>();
    flags_are_keys::<KeySettings>();
    // 33 before issue 14, which added shutdown_grace, shutdown_delay,
    // tls_cert, tls_key, log_format, metrics_listen, the three lifetimes
    // and allow_insecure_origin; issue 15 added oidc_key_rotation,
    // policy_dir, cookie_domain, oidc_issuer, oidc_access_token_lifetime,
    // oidc_refresh_tokens and oidc_refresh_token_lifetime; issue 16
    // (h-posture) device_posture_max_age and (h-dbsc) dbsc_refresh_interval.
    flags_are_keys::<PolicySettings>();
    flags_are_keys::<OidcSettings>();
    // Issue 16 (devices) added device_trust and
    // device_enterprise_attestation.
    flags_are_keys::<DeviceSettings>();
    // Issue 17 (h-svc) added trust_domain, svid_ttl, jwt_svid_ttl,
    // ca_ttl, ca_cert, ca_key and ca_key_encryption_key_file; (h-single)
    // workload_socket.
    flags_are_keys::<WorkloadSettings>();
    // Issue 17 (h-node): server, socket, node_data_dir, join_token, tpm,
    // sync_interval.
    flags_are_keys::<NodeSettings>();
    // Issue 17 (h-tpm) added tpm_ek_roots.
    flags_are_keys::<TpmSettings>();
    // Issue 19 (h-sealer) added audit_witness, audit_origin and
    // audit_seal_interval.
    flags_are_keys::<AuditSettings>();
    // The issue 16 branches: 50 + 2 (devices) + 1 (posture) + 1 (DBSC);
    // issue 17: + 8 (workloads) + 6 (node agent) + 1 (tpm); issue 18
    // (people): task_default_lifetime, task_max_lifetime,
    // task_approval_ttl, task_token_ttl, dpop_nonce; issue 19:
    // shared_limits, audit_witness, audit_origin, audit_seal_interval.
    assert_eq!(all_keys().len(), 78, "the keys the file has always had");
}

/// The task settings (issue 18) are bounded, the default lifetime no
/// longer than the longest, and DPoP nonces may be turned off.
#[test]
fn task_settings_are_bounded_and_consistent() {
    for bad in [
        ["--task-max-lifetime", "59"],
        ["--task-default-lifetime", "86401"],
        ["--task-approval-ttl", "0"],
        ["--task-token-ttl", "3601"],
        ["--dpop-nonce", "maybe"],
    ] {
        assert!(
            Cli::try_parse_from(std::iter::once("keybound").chain(bad)).is_err(),
            "{bad:?}"
        );
    }
    let origins = || OriginPolicy::exact(["http://localhost:8080"]).unwrap();
    let (cli, _) = parse(&[
        "--task-default-lifetime",
        "600",
        "--task-max-lifetime",
        "1200",
        "--task-approval-ttl",
        "120",
        "--task-token-ttl",
        "60",
        "--dpop-nonce",
        "false",
    ]);
    let mut config = Config::new("localhost", origins(), [0; 32]);
    cli.people.apply(&mut config).unwrap();
    assert_eq!(
        config.tasks,
        keybound_service::TaskSettings {
            default_lifetime_s: 600,
            max_lifetime_s: 1200,
            approval_ttl_s: 120,
            token_ttl_s: 60,
        }
    );
    assert!(!config.dpop_nonce);
    let (cli, _) = parse(&["--task-default-lifetime", "7200"]);
    let mut config = Config::new("localhost", origins(), [0; 32]);
    let refused = cli.people.apply(&mut config).unwrap_err();
    assert!(refused.contains("--task-max-lifetime"), "{refused}");
}

#[test]
fn the_shutdown_grace_and_the_tls_pair_are_checked() {
    #[derive(Parser, Debug)]
    struct Serving {
        #[command(flatten)]
        lifecycle: LifecycleSettings,
        #[command(flatten)]
        tls: TlsSettings,
    }
    let parse = |args: &[&str]| {
        Serving::try_parse_from(std::iter::once("serve").chain(args.iter().copied()))
    };
    let defaults = parse(&[]).unwrap();
    assert_eq!(
        defaults.lifecycle.shutdown_grace(),
        Ok(Duration::from_secs(20))
    );
    assert_eq!(defaults.tls.files(), Ok(None));
    assert!(parse(&["--shutdown-grace", "0"]).is_err());
    assert!(parse(&["--shutdown-grace", "3601"]).is_err());
    let both = parse(&["--tls-cert", "c.pem", "--tls-key", "k.pem"]).unwrap();
    assert!(both.tls.files().unwrap().is_some());
    let one = parse(&["--tls-cert", "c.pem"]).unwrap();
    assert!(one.tls.files().unwrap_err().contains("--tls-key"));
    let file = file("shutdown_grace = 5\ntls_key = \"k.pem\"\n").unwrap();
    assert_eq!(
        LifecycleSettings::in_file(&file).shutdown_grace(),
        Ok(Duration::from_secs(5))
    );
    assert!(TlsSettings::in_file(&file)
        .files()
        .unwrap_err()
        .contains("--tls-cert"));
    assert!(self::file("shutdown_grace = 0\n").is_err());
}

#[test]
fn the_shutdown_delay_is_part_of_the_grace() {
    #[derive(Parser, Debug)]
    struct Serving {
        #[command(flatten)]
        lifecycle: LifecycleSettings,
    }
    let parse = |args: &[&str]| {
        Serving::try_parse_from(std::iter::once("serve").chain(args.iter().copied()))
            .map(|s| s.lifecycle)
    };
    let defaults = parse(&[]).unwrap();
    assert_eq!(defaults.shutdown_delay(), Ok(Duration::from_secs(2)));
    let none = parse(&["--shutdown-delay", "0"]).unwrap();
    assert_eq!(none.shutdown_delay(), Ok(Duration::ZERO));
    let longest = parse(&["--shutdown-delay", "4", "--shutdown-grace", "5"]).unwrap();
    assert_eq!(longest.shutdown_delay(), Ok(Duration::from_secs(4)));
    // The whole grace (or more) would leave nothing to drain in.
    let equal = parse(&["--shutdown-delay", "5", "--shutdown-grace", "5"]).unwrap();
    assert!(equal
        .shutdown_delay()
        .unwrap_err()
        .contains("less than --shutdown-grace"));
    let over_default = parse(&["--shutdown-grace", "1"]).unwrap();
    assert!(over_default.shutdown_delay().is_err());
    assert!(parse(&["--shutdown-delay", "-1"]).is_err());
    let file = file("shutdown_delay = 7\nshutdown_grace = 30\n").unwrap();
    assert_eq!(
        LifecycleSettings::in_file(&file).shutdown_delay(),
        Ok(Duration::from_secs(7))
    );
}

#[test]
fn the_defaults_are_the_libraries() {
    let Ok(cli) = Cli::try_parse_from(["keybound"]) else {
        unreachable!("no arguments parse")
    };
    assert_eq!(cli.http.connections(), ConnectionLimits::default());
    let mut limits = RateLimits {
        pending_per_source: 0,
        pending_total: 0,
        ..Default::default()
    };
    cli.limits.apply(&mut limits);
    assert_eq!(limits, RateLimits::default());
    assert!(Cli::try_parse_from(["keybound", "--max-connections", "0"]).is_err());
    assert!(Cli::try_parse_from(["keybound", "--header-read-timeout", "0"]).is_err());

    // The rest of the service's configuration, and the store's durability.
    let settings = ServiceSettings {
        store: cli.store,
        site: cli.site,
        people: cli.people,
        registration: cli.registration,
        tiers: cli.tiers,
        limits: cli.limits,
        lifetimes: cli.lifetimes,
        keys: KeySettings::defaults(),
        oidc: OidcSettings::defaults(),
        devices: DeviceSettings::defaults(),
        workloads: WorkloadSettings::defaults(),
        tpm: TpmSettings::defaults(),
        audit: AuditSettings::defaults(),
    };
    let ours = app::config(&settings, [0; 32]).unwrap();
    let origins = OriginPolicy::exact(["http://localhost:8080"]).unwrap();
    let theirs = Config::new("localhost", origins, [0; 32]);
    assert_eq!(ours.rp_id, theirs.rp_id);
    assert_eq!(ours.origins.origins(), theirs.origins.origins());
    assert_eq!(ours.rp_name, theirs.rp_name);
    assert_eq!(ours.open_registration, theirs.open_registration);
    assert_eq!(ours.challenge_ttl_ms, theirs.challenge_ttl_ms);
    assert_eq!(ours.session_ttl_ms, theirs.session_ttl_ms);
    assert_eq!(ours.invitation_ttl_ms, theirs.invitation_ttl_ms);
    assert_eq!(ours.step_up_window_ms, theirs.step_up_window_ms);
    assert_eq!(ours.dbsc_refresh_ms, theirs.dbsc_refresh_ms);
    assert_eq!(ours.tasks, theirs.tasks);
    assert_eq!(ours.transparency, theirs.transparency);
    assert_eq!(ours.dpop_nonce, theirs.dpop_nonce);
    assert_eq!(ours.policy, theirs.policy);
    assert_eq!(ours.recovery, theirs.recovery);
    assert_eq!(ours.rate_limits, theirs.rate_limits);
    assert_eq!(ours.mds_root, theirs.mds_root);
    assert_eq!(
        settings.store.durability(),
        keybound_store::Durability::default()
    );
}

/// Logs are text and metrics off unless asked; the file sets both, a flag
/// beats it, and an unknown format is refused.
#[test]
fn logs_and_metrics_settings() {
    let defaults = ObserveSettings::defaults();
    assert_eq!(defaults.log_format(), LogFormat::Text);
    assert_eq!(defaults.metrics_listen(), None);

    let in_file = "log_format = \"json\"\nmetrics_listen = \"127.0.0.1:9100\"\n";
    let only_file = Sources {
        file: file(in_file).unwrap(),
        given: Default::default(),
    };
    let resolved = only_file.resolve(ObserveSettings::defaults()).unwrap();
    assert_eq!(resolved.log_format(), LogFormat::Json);
    assert_eq!(
        resolved.metrics_listen(),
        Some("127.0.0.1:9100".parse().unwrap())
    );

    let command = ObserveSettings::augment_args(clap::Command::new("serve"))
        .mut_args(|arg| arg.env(None::<&'static str>));
    let matches = command
        .try_get_matches_from(["serve", "--log-format", "text"])
        .unwrap();
    let flags = ObserveSettings::from_arg_matches(&matches).unwrap();
    let sources = Sources {
        file: file(in_file).unwrap(),
        given: given(&matches),
    };
    assert_eq!(
        sources.resolve(flags).unwrap().log_format(),
        LogFormat::Text,
        "the flag"
    );
    assert!(file("log_format = \"xml\"\n").is_err());
    assert!(file("metrics_listen = \"nowhere\"\n").is_err());
}

#[test]
fn a_group_left_out_holds_its_defaults() {
    let (cli, _) = parse(&[]);
    assert_eq!(LimitSettings::defaults(), cli.limits);
    assert_eq!(SiteSettings::defaults(), cli.site);
    assert_eq!(
        SiteSettings::defaults().origins().unwrap(),
        ["http://localhost:8080"]
    );
}

#[test]
fn a_flag_beats_the_file_which_beats_the_default() {
    let (cli, matches) = parse(&["--rate-limit-per-minute", "9", "--rp-id", "example.com"]);
    let sources = Sources {
        file: file(
            "rate_limit_per_minute = 5\nrate_limit_per_identity = 7\nrp_id = \"file.example\"\n\
             listen = \"127.0.0.1:9000\"\n",
        )
        .unwrap(),
        given: given(&matches),
    };
    let limits = sources.resolve(cli.limits).unwrap();
    let mut applied = RateLimits::default();
    limits.apply(&mut applied);
    assert_eq!(applied.per_source, 9, "the flag");
    assert_eq!(applied.per_identity, 7, "the file");
    assert_eq!(applied.pending_total, 100_000, "the default");
    let site = sources.resolve(cli.site).unwrap();
    assert_eq!(site.rp_id().unwrap(), "example.com");
    assert_eq!(site.listen().unwrap().port(), 9000);
    assert_eq!(site.origins().unwrap(), ["https://example.com"]);
}

#[test]
fn a_flag_given_its_default_value_still_beats_the_file() {
    let (cli, matches) = parse(&["--rate-limit-per-minute", "600"]);
    let sources = Sources {
        file: file("rate_limit_per_minute = 5\n").unwrap(),
        given: given(&matches),
    };
    let mut applied = RateLimits::default();
    sources.resolve(cli.limits).unwrap().apply(&mut applied);
    assert_eq!(applied.per_source, 600);
}

#[test]
fn the_file_holds_every_group_in_any_order() {
    let read = file(
        "rate_limit_per_identity = 7\nrp_id = \"example.com\"\nrate_limit_per_minute = 5\n\
         durability = \"relaxed\"\norigins = [\"https://a.example\", \"https://b.example\"]\n\
         trusted_proxies = [\"10.0.0.0/8\", \"::1\"]\nmax_connections = 2\n\
         mds_url = \"https://mds.example/\"\nmds_refresh = 60\nopen_registration = true\n\
         tier2_requires_attestation = true\n[group_min_tier]\nadmin = 3\nuser = 1\n",
    )
    .unwrap();
    let mut limits = RateLimits::default();
    read.limits.apply(&mut limits);
    assert_eq!((limits.per_source, limits.per_identity), (5, 7));
    assert_eq!(read.site.rp_id().unwrap(), "example.com");
    assert_eq!(
        read.site.origins().unwrap(),
        ["https://a.example", "https://b.example"]
    );
    assert_eq!(read.store.durability(), keybound_store::Durability::Relaxed);
    assert_eq!(read.http.trusted_proxies().len(), 2);
    assert_eq!(read.http.connections().max_connections, 2);
    assert_eq!(read.metadata.url(), Some("https://mds.example/"));
    assert_eq!(read.refresh.every().unwrap(), Duration::from_secs(60));
    let mut policy = keybound_service::Policy::default();
    read.registration.apply(&mut policy);
    assert_eq!(
        policy.group_min_tier,
        [
            ("admin".to_owned(), keybound_service::Tier::AttestedHardware),
            ("user".to_owned(), keybound_service::Tier::AnyPasskey)
        ]
        .into()
    );
}

#[test]
fn an_unknown_key_is_refused_where_it_stands() {
    let refused = file("rp_id = \"example.com\"\ncolour = \"blue\"\n").unwrap_err();
    assert!(refused.contains("line 2, column 1"), "{refused}");
    assert!(refused.contains("unknown field `colour`"), "{refused}");
    assert!(
        refused.contains("expected one of `data_dir`") && refused.contains("`mds_refresh`"),
        "every key is offered: {refused}"
    );
    // A flag's spelling is not a key.
    let refused = file("rate-limit-per-minute = 5\n").unwrap_err();
    assert!(refused.contains("unknown field"), "{refused}");
}

#[test]
fn a_bad_value_is_refused_where_it_stands() {
    for (text, says) in [
        ("registration_min_tier = 4\n", "4 is not in 1..=3"),
        ("[group_min_tier]\nadmin = 0\n", "0 is not in 1..=3"),
        ("durability = \"maybe\"\n", "unknown variant `maybe`"),
        (
            "attestation = \"sometimes\"\n",
            "unknown variant `sometimes`",
        ),
        (
            "refuse_sha1_tpm_attestation = \"yes\"\n",
            "expected a boolean",
        ),
        (
            "trusted_proxies = [\"10.0.0.0/33\"]\n",
            "IP address or CIDR",
        ),
        ("header_read_timeout = 0\n", "0 is not in 1..=3600"),
        ("recovery_approvals = 0\n", "0 is not in 1..=255"),
        ("listen = \"nowhere\"\n", "invalid socket address"),
        ("rate_limit_per_minute = -1\n", "invalid value"),
    ] {
        let refused = file(text).unwrap_err();
        assert!(refused.contains(says), "{text}: {refused}");
        assert!(refused.contains("line "), "{text}: {refused}");
    }
}

#[test]
fn flags_are_checked_as_the_file_is() {
    for bad in [
        &["--registration-min-tier", "4"][..],
        &["--group-min-tier", "admin"],
        &["--group-min-tier", "admin=0"],
        &["--durability", "sometimes"],
        &["--attestation", "sometimes"],
        &["--trusted-proxy", "proxy.internal"],
        &["--recovery-approvals", "0"],
    ] {
        let args = std::iter::once("keybound").chain(bad.iter().copied());
        assert!(Cli::try_parse_from(args).is_err(), "{bad:?}");
    }
    let (cli, _) = parse(&[
        "--group-min-tier",
        "admin=2,user=1",
        "--attestation",
        "direct",
    ]);
    let mut policy = keybound_service::Policy::default();
    cli.registration.apply(&mut policy);
    assert_eq!(
        policy.group_min_tier,
        [
            ("admin".to_owned(), keybound_service::Tier::DeviceBound),
            ("user".to_owned(), keybound_service::Tier::AnyPasskey)
        ]
        .into()
    );
    assert_eq!(
        policy.attestation,
        keybound_webauthn::AttestationConveyancePreference::Direct
    );
}

#[test]
fn database_passwords_stay_out_of_logs() {
    assert_eq!(
        redact_password("postgres://kb:s3cret@db.internal:5432/keybound"),
        "postgres://kb:***@db.internal:5432/keybound"
    );
    assert_eq!(
        redact_password("postgres://kb@db/keybound?sslmode=require&password=s3cret"),
        "postgres://kb@db/keybound?sslmode=require&password=***"
    );
    assert_eq!(
        redact_password("sqlite://keybound-data/keybound.db"),
        "sqlite://keybound-data/keybound.db"
    );
}

/// The example configuration (deploy/keybound.example.toml) documents
/// every key: each key the file may hold appears there commented out, and
/// the file with every setting line uncommented is a valid configuration
/// (so its example values are of the right type).
#[test]
fn the_example_config_names_every_key_and_is_valid_uncommented() {
    let example = include_str!("../../../../deploy/keybound.example.toml");
    let uncommented: String = example
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("# ")?;
            let is_setting = rest.starts_with('[')
                || rest.split_once(" = ").is_some_and(|(key, _)| {
                    key.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
                });
            is_setting.then(|| format!("{rest}\n"))
        })
        .collect();
    for key in all_keys() {
        assert!(
            uncommented
                .lines()
                .any(|l| l.starts_with(&format!("{key} = ")) || l == format!("[{key}]")),
            "deploy/keybound.example.toml does not document `{key}`"
        );
    }
    if let Err(e) = file(&uncommented) {
        panic!("the example configuration, uncommented, is not valid: {e}\n{uncommented}");
    }
}

#[test]
fn the_node_agent_needs_a_server_and_one_way_to_attest() {
    #[derive(Parser, Debug)]
    struct Agent {
        #[command(flatten)]
        node: NodeSettings,
    }
    let parse = |args: &[&str]| {
        Agent::try_parse_from(std::iter::once("node").chain(args.iter().copied()))
            .unwrap()
            .node
    };
    let none = parse(&[]);
    assert!(none.servers().unwrap_err().contains("--server"));
    assert_eq!(none.attestation().unwrap(), Attestation::None);
    assert_eq!(none.sync_interval().unwrap(), Duration::from_secs(5));
    let two = parse(&[
        "--server",
        "https://a.example",
        "--server",
        "https://b.example/kb/",
    ]);
    let urls: Vec<String> = two
        .servers()
        .unwrap()
        .iter()
        .map(|u| u.to_string())
        .collect();
    assert_eq!(urls, ["https://a.example/", "https://b.example/kb/"]);
    let commas = parse(&["--server", "https://a.example,https://b.example"]);
    assert_eq!(commas.servers().unwrap().len(), 2);
    for local in [
        "http://127.0.0.1:8080",
        "http://[::1]:8080",
        "http://localhost:8080",
    ] {
        assert!(parse(&["--server", local]).servers().is_ok(), "{local}");
    }
    for bad in [
        "ftp://a.example",
        "not a url",
        "mailto:x@example.org",
        "http://id.example.org",
        "http://10.0.0.5:8080",
    ] {
        assert!(parse(&["--server", bad]).servers().is_err(), "{bad}");
    }
    let both = parse(&["--join-token", "t", "--tpm"]);
    assert!(both.attestation().unwrap_err().contains("exclude"));
    assert_eq!(
        parse(&["--join-token", "t"]).attestation().unwrap(),
        Attestation::JoinToken("t".into())
    );
    assert_eq!(parse(&["--tpm"]).attestation().unwrap(), Attestation::Tpm);
    assert!(Agent::try_parse_from(["node", "--sync-interval", "0"]).is_err());
    // The token never shows in a debug print.
    assert!(!format!("{:?}", Attestation::JoinToken("secret-token".into())).contains("secret"));
}
