//! The settings that start fine and fail later in a browser, refused before
//! anything is served (`serve`) or when asked (`keybound check-config`).
//! Each problem names the setting and the fix.
//!
//! Decisions:
//! - An origin is `scheme://host[:port]` exactly as browsers serialise it
//!   (lowercase, no default port, no path, query or trailing slash). A lone
//!   trailing slash is refused, not normalised: the origin is compared
//!   byte for byte with what the browser sends, and every invitation link
//!   is built from it, so the setting should read as it is used.
//! - http is accepted for `localhost` and `*.localhost` only: browsers
//!   treat those as secure contexts, and WebAuthn refuses an IP address as
//!   RP ID, so `http://127.0.0.1` could never run a ceremony anyway.
//! - `--allow-insecure-origin` waives the two transport checks (http
//!   origins, https origins with nothing terminating TLS), never the
//!   RP ID and origin shape checks, which no setup can make work.

use std::net::IpAddr;

use keybound_service::Config;

#[cfg(test)]
mod tests;

/// What is served and how, as the checks need it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deployment<'a> {
    /// `--rp-id`.
    pub(crate) rp_id: &'a str,
    /// `--origin`, as given (or the default).
    pub(crate) origins: &'a [String],
    /// `--allow-insecure-origin`.
    pub(crate) allow_insecure_origin: bool,
    /// Whether this process terminates TLS (`--tls-cert` and `--tls-key`).
    pub(crate) tls: bool,
    /// Whether a `--trusted-proxy` is declared (a TLS proxy in front).
    pub(crate) proxy_declared: bool,
}

/// What the checks found: problems refuse the start, warnings do not.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Report {
    pub(crate) problems: Vec<String>,
    pub(crate) warnings: Vec<String>,
}

impl Report {
    /// Writes the warnings (and problems) to standard error, one a line.
    pub(crate) fn print(&self) {
        for w in &self.warnings {
            eprintln!("keybound: warning: {w}");
        }
        for p in &self.problems {
            eprintln!("keybound: {p}");
        }
    }
}

/// The groups a minimum tier may be set for: the roles.
const GROUPS: &[&str] = &["admin", "user"];

/// Checks the RP ID and the origins (what must hold before the service's
/// configuration can even be built from them).
pub(crate) fn site(site: &Deployment<'_>) -> Report {
    let mut report = Report::default();
    report.problems.extend(rp_id_problem(site.rp_id));
    for origin in site.origins {
        if let Some(problem) = origin_problem(site, origin) {
            report.problems.push(problem);
        }
    }
    report
}

/// Checks the site and the policy.
pub(crate) fn check(deployment: &Deployment<'_>, config: &Config) -> Report {
    let mut report = site(deployment);
    for group in config.policy.group_min_tier.keys() {
        if !GROUPS.contains(&group.as_str()) {
            report.problems.push(format!(
                "--group-min-tier {group}=…: there is no group {group:?}; the groups are the \
                 roles: {}",
                GROUPS.join(", ")
            ));
        }
    }
    report.warnings.extend(admin_tier_warning(config));
    report.warnings.extend(lifetime_warnings(config));
    report
}

/// An RP ID is a domain name: not an IP address, no scheme, port or path;
/// each label 1-63 characters of `a-z0-9-`, not starting or ending with
/// `-`. A non-ASCII name is refused with its punycode (A-label) form, the
/// one browsers compare.
fn rp_id_problem(rp_id: &str) -> Option<String> {
    let bare = rp_id.trim_start_matches('[').trim_end_matches(']');
    if bare.parse::<IpAddr>().is_ok() {
        return Some(format!(
            "--rp-id {rp_id}: an IP address cannot be an RP ID (WebAuthn wants a domain \
             name); set --rp-id to the name people open, e.g. localhost or login.example.com"
        ));
    }
    if !rp_id.is_ascii() {
        return Some(match idna::domain_to_ascii(rp_id) {
            Ok(ascii) if !ascii.is_empty() => format!(
                "--rp-id {rp_id:?}: write the RP ID in its ASCII (punycode) form, as browsers \
                 compare it: --rp-id {ascii}"
            ),
            _ => format!("--rp-id {rp_id:?}: not a domain name"),
        });
    }
    let shaped = !rp_id.is_empty()
        && rp_id.len() <= 253
        && rp_id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && rp_id.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    if !shaped {
        return Some(format!(
            "--rp-id {rp_id:?}: an RP ID is a lowercase domain name without scheme, port or \
             path, its labels 1-63 letters, digits or '-' (not at either end), e.g. example.com"
        ));
    }
    public_suffix(rp_id).then(|| {
        format!(
            "--rp-id {rp_id}: a public suffix (like com, co.uk or github.io) is shared by \
             every site under it, and browsers refuse it as an RP ID; set --rp-id to your \
             own domain, e.g. login.example.com"
        )
    })
}

/// `--cookie-domain`: the session cookie is sent to every host under it,
/// so it must be the RP ID or a parent of it (a cookie for a domain the
/// site is not under is refused by browsers anyway), and not a public
/// suffix (browsers refuse those too, and it would hand the session to
/// every other site under it).
pub(crate) fn cookie_domain_problem(rp_id: &str, domain: &str) -> Option<String> {
    let under = rp_id == domain
        || rp_id
            .strip_suffix(domain)
            .is_some_and(|head| head.ends_with('.'));
    if domain.is_empty() || domain.starts_with('.') || !under {
        return Some(format!(
            "--cookie-domain {domain:?}: must be the RP ID ({rp_id}) or a parent domain of it, \
             written without a leading dot"
        ));
    }
    public_suffix(domain).then(|| {
        format!(
            "--cookie-domain {domain}: a public suffix (like com or github.io) is shared by \
             unrelated sites; browsers refuse such a cookie. Use your own domain"
        )
    })
}

/// Whether `rp_id` is on the Public Suffix List as a suffix in itself.
/// Unlisted names (`localhost`, an intranet's own top-level name) are not:
/// only the list's known entries count.
fn public_suffix(rp_id: &str) -> bool {
    rp_id != "localhost"
        && psl::suffix(rp_id.as_bytes())
            .is_some_and(|suffix| suffix.is_known() && suffix.as_bytes() == rp_id.as_bytes())
}

/// The step-up window is how long a sign-in counts as fresh for the
/// console and key changes: longer than 15 minutes, or than a session
/// lasts, it no longer asks for a recent proof. Warned, not refused.
fn lifetime_warnings(config: &Config) -> Vec<String> {
    let mut warnings = Vec::new();
    let (window, session) = (
        config.step_up_window_ms / 1000,
        config.session_ttl_ms / 1000,
    );
    if window > 15 * 60 {
        warnings.push(format!(
            "--step-up-window {window}: over 15 minutes, a sign-in long past still counts as \
             fresh for the console and key changes; 300 (the default) is usual"
        ));
    }
    if window > session {
        warnings.push(format!(
            "--step-up-window {window} exceeds --session-lifetime {session}: every live \
             session counts as fresh; set the window below the session lifetime"
        ));
    }
    warnings
}

/// The problem with one origin, if any.
fn origin_problem(site: &Deployment<'_>, origin: &str) -> Option<String> {
    let parsed = match url::Url::parse(origin) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host_str().is_some() => url,
        _ => {
            return Some(format!(
                "--origin {origin:?}: not an http(s) origin; write it as https://HOST[:PORT]"
            ))
        }
    };
    let canonical = parsed.origin().ascii_serialization();
    if origin != canonical {
        return Some(format!(
            "--origin {origin:?}: an origin is scheme://host[:port] with no path, query or \
             trailing slash, as browsers send it; write {canonical}"
        ));
    }
    let host = parsed.host_str().unwrap_or_default();
    let rp_id = site.rp_id;
    if host != rp_id && !host.ends_with(&format!(".{rp_id}")) {
        return Some(format!(
            "--rp-id {rp_id} does not cover --origin {origin}: the RP ID must be the origin's \
             host or a parent domain of it; set --rp-id to {host} (or a parent domain of it), \
             or correct the origin"
        ));
    }
    if site.allow_insecure_origin {
        return None;
    }
    let localhost = host == "localhost" || host.ends_with(".localhost");
    if parsed.scheme() == "http" && !localhost {
        return Some(format!(
            "--origin {origin}: browsers run passkeys only on https origins (and \
             http://localhost); serve https://{host} (with --tls-cert and --tls-key, or behind \
             a TLS proxy declared with --trusted-proxy), or pass --allow-insecure-origin for a \
             test setup"
        ));
    }
    if parsed.scheme() == "https" && !site.tls && !site.proxy_declared {
        return Some(format!(
            "--origin {origin}: this server listens in plain HTTP (no --tls-cert/--tls-key) and \
             no --trusted-proxy is declared, so nothing terminates TLS for it; pass --tls-cert \
             and --tls-key, or --trusted-proxy ADDR for the TLS proxy in front (or \
             --allow-insecure-origin for a test setup)"
        ));
    }
    None
}

/// Whether the first administrator can enrol with what most people hold
/// (a synced passkey, tier 1), and if not, how the rule can be met.
fn admin_tier_warning(config: &Config) -> Option<String> {
    let policy = &config.policy;
    let group = policy.group_min_tier.get("admin").map_or(1, |t| t.number());
    let tier = group.max(policy.registration_min_tier.number());
    if tier < 2 {
        return None;
    }
    let attestation_evidence = config.mds_root.is_some() || !config.attestation_roots.is_empty();
    let needs_attestation = tier >= 3 || policy.tier2_requires_attestation;
    let how = if needs_attestation && !attestation_evidence {
        format!(
            " Tier {tier} needs a verified attestation, and no --mds-root is set: no passkey \
             can meet it. Set --mds-root and import metadata (keybound mds fetch), and \
             --attestation direct."
        )
    } else if needs_attestation
        && policy.attestation == keybound_webauthn::AttestationConveyancePreference::None
    {
        format!(
            " Tier {tier} needs a verified attestation: set --attestation direct so browsers \
             send one."
        )
    } else {
        " Enrol the first administrator with a device-bound passkey (a security key) with a \
         PIN or biometric."
            .to_owned()
    };
    Some(format!(
        "administrators must enrol a passkey of tier {tier} (--group-min-tier admin / \
         --registration-min-tier): a synced passkey (tier 1, e.g. in a password manager) \
         will be refused.{how}"
    ))
}
