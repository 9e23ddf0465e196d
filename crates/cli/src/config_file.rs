//! `--config FILE`: a TOML file with the same settings as the flags.
//!
//! Precedence is flag, then `KEYBOUND_*` variable, then file: the file's
//! values are offered to clap as environment defaults for variables that
//! are not already set, before any thread starts.

use std::path::Path;

use serde::Deserialize;

/// The file's shape; every key optional, unknown keys refused.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    rp_id: Option<String>,
    rp_name: Option<String>,
    origins: Option<Vec<String>>,
    data_dir: Option<String>,
    database_url: Option<String>,
    durability: Option<String>,
    open_registration: Option<bool>,
    challenge_ttl: Option<u32>,
    registration_min_tier: Option<u8>,
    require_user_verification: Option<bool>,
    tier2_requires_attestation: Option<bool>,
    refuse_sha1_tpm_attestation: Option<bool>,
    aaguid_allow: Option<Vec<String>>,
    aaguid_deny: Option<Vec<String>>,
    attestation: Option<String>,
    mds_root: Option<String>,
    mds_url: Option<String>,
    mds_refresh: Option<u64>,
    rate_limit_per_minute: Option<u32>,
    min_credentials: Option<usize>,
    recovery_approvals: Option<u8>,
    recovery_wait: Option<u32>,
    rate_limit_per_identity: Option<u32>,
    trusted_proxies: Option<Vec<String>>,
    group_min_tier: Option<std::collections::BTreeMap<String, u8>>,
    header_read_timeout: Option<u64>,
    request_body_timeout: Option<u64>,
    keep_alive_timeout: Option<u64>,
    max_connections: Option<u64>,
    max_connections_per_address: Option<usize>,
    pending_challenges_per_address: Option<usize>,
    pending_challenges: Option<usize>,
}

/// The value of `--config` (or `KEYBOUND_CONFIG`), found before clap runs.
pub(crate) fn requested(args: &[String]) -> Option<String> {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--config" {
            return it.next().cloned();
        }
        if let Some(v) = a.strip_prefix("--config=") {
            return Some(v.to_owned());
        }
    }
    std::env::var("KEYBOUND_CONFIG").ok()
}

/// Reads `path` and exports its settings as `KEYBOUND_*` defaults.
/// Must run before any other thread exists (it sets environment variables).
pub(crate) fn apply(path: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let file: FileConfig = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let pairs = [
        ("KEYBOUND_LISTEN", file.listen),
        ("KEYBOUND_RP_ID", file.rp_id),
        ("KEYBOUND_RP_NAME", file.rp_name),
        ("KEYBOUND_ORIGIN", file.origins.map(|o| o.join(","))),
        ("KEYBOUND_DATA_DIR", file.data_dir),
        ("KEYBOUND_DATABASE_URL", file.database_url),
        ("KEYBOUND_DURABILITY", file.durability),
        (
            "KEYBOUND_CHALLENGE_TTL",
            file.challenge_ttl.map(|t| t.to_string()),
        ),
        (
            "KEYBOUND_OPEN_REGISTRATION",
            file.open_registration.map(|b| b.to_string()),
        ),
        (
            "KEYBOUND_REGISTRATION_MIN_TIER",
            file.registration_min_tier.map(|t| t.to_string()),
        ),
        (
            "KEYBOUND_REQUIRE_USER_VERIFICATION",
            file.require_user_verification.map(|b| b.to_string()),
        ),
        (
            "KEYBOUND_TIER2_REQUIRES_ATTESTATION",
            file.tier2_requires_attestation.map(|b| b.to_string()),
        ),
        (
            "KEYBOUND_REFUSE_SHA1_TPM_ATTESTATION",
            file.refuse_sha1_tpm_attestation.map(|b| b.to_string()),
        ),
        (
            "KEYBOUND_AAGUID_ALLOW",
            file.aaguid_allow.map(|l| l.join(",")),
        ),
        (
            "KEYBOUND_AAGUID_DENY",
            file.aaguid_deny.map(|l| l.join(",")),
        ),
        ("KEYBOUND_ATTESTATION", file.attestation),
        ("KEYBOUND_MDS_ROOT", file.mds_root),
        ("KEYBOUND_MDS_URL", file.mds_url),
        (
            "KEYBOUND_RECOVERY_APPROVALS",
            file.recovery_approvals.map(|n| n.to_string()),
        ),
        (
            "KEYBOUND_RECOVERY_WAIT",
            file.recovery_wait.map(|n| n.to_string()),
        ),
        (
            "KEYBOUND_MIN_CREDENTIALS",
            file.min_credentials.map(|n| n.to_string()),
        ),
        (
            "KEYBOUND_RATE_LIMIT_PER_MINUTE",
            file.rate_limit_per_minute.map(|n| n.to_string()),
        ),
        (
            "KEYBOUND_RATE_LIMIT_PER_IDENTITY",
            file.rate_limit_per_identity.map(|n| n.to_string()),
        ),
        (
            "KEYBOUND_TRUSTED_PROXIES",
            file.trusted_proxies.map(|l| l.join(",")),
        ),
        (
            "KEYBOUND_MDS_REFRESH",
            file.mds_refresh.map(|s| s.to_string()),
        ),
        (
            "KEYBOUND_GROUP_MIN_TIER",
            file.group_min_tier.map(|m| {
                m.iter()
                    .map(|(g, t)| format!("{g}={t}"))
                    .collect::<Vec<_>>()
                    .join(",")
            }),
        ),
        (
            "KEYBOUND_HEADER_READ_TIMEOUT",
            file.header_read_timeout.map(|n| n.to_string()),
        ),
        (
            "KEYBOUND_REQUEST_BODY_TIMEOUT",
            file.request_body_timeout.map(|n| n.to_string()),
        ),
        (
            "KEYBOUND_KEEP_ALIVE_TIMEOUT",
            file.keep_alive_timeout.map(|n| n.to_string()),
        ),
        (
            "KEYBOUND_MAX_CONNECTIONS",
            file.max_connections.map(|n| n.to_string()),
        ),
        (
            "KEYBOUND_MAX_CONNECTIONS_PER_ADDRESS",
            file.max_connections_per_address.map(|n| n.to_string()),
        ),
        (
            "KEYBOUND_PENDING_CHALLENGES_PER_ADDRESS",
            file.pending_challenges_per_address.map(|n| n.to_string()),
        ),
        (
            "KEYBOUND_PENDING_CHALLENGES",
            file.pending_challenges.map(|n| n.to_string()),
        ),
    ];
    for (name, value) in pairs {
        if let Some(value) = value {
            if std::env::var_os(name).is_none() {
                std::env::set_var(name, value);
            }
        }
    }
    Ok(())
}
