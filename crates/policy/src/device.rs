//! `context.device`: the device a request was proven on, as policy sees
//! it (issue 16). Present only when the session was opened with a device's
//! credential and that device is trusted or untrusted (a decommissioned
//! device has no sessions). Every attribute is always there once the
//! record is, so a policy needs one `context has device` and no further
//! `has` checks: an unknown or stale posture fact reads as `false`, `""`
//! or `0`, which is what a requirement should fail on.

use cedar_policy::RestrictedExpression;

/// The device of a request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeviceContext {
    /// The device's name (`dev-…`).
    pub id: String,
    /// Whether the organisation trusts it (status `trusted`).
    pub trusted: bool,
    /// `platform` (a browser's device) or `node` (a host).
    pub kind: String,
    /// The platform it reported (`Windows`, `macOS`, …): attested at
    /// enrolment when the authenticator said so, else the client hints.
    pub platform: String,
    /// How its key is held: `hardware`, `device-bound` or `unknown`. Only
    /// attestation sets it; client hints never do.
    pub key_storage: String,
    /// The metadata's description of the attested authenticator; `""`
    /// when it was not attested.
    pub attested_model: String,
    /// What is known of its state, fresh facts only.
    pub posture: Posture,
}

/// A device's posture: fresh facts only (a stale fact reads as unknown).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Posture {
    /// An MDM or an administrator says the organisation manages it.
    pub managed: bool,
    /// An MDM or an administrator says it complies with the
    /// organisation's rules.
    pub compliant: bool,
    /// An MDM or an administrator says its disk is encrypted.
    pub disk_encrypted: bool,
    /// The OS version, from the most authoritative fresh source (admin,
    /// then import, then client hints); `""` when unknown.
    pub os_version: String,
    /// Its first number (`14` of `14.4.1`), `0` when unknown: Cedar
    /// compares integers, not version strings.
    pub os_major: i64,
    /// Its second number, `0` when unknown or absent.
    pub os_minor: i64,
    /// Where `os_version` came from: `admin`, `import`, `client_hints`, or
    /// `""`.
    pub os_source: String,
    /// The platform version the browser last reported
    /// (`Sec-CH-UA-Platform-Version`), `""` when none.
    pub platform_version: String,
    /// The browser brand it last reported (`Chromium`, `Google Chrome`…).
    pub browser: String,
    /// That browser's version as reported.
    pub browser_version: String,
    /// Its first number, `0` when unknown.
    pub browser_major: i64,
}

/// The leading numbers of a version string (`"14.4.1"` → `(14, 4)`): at
/// most nine digits each, anything else is `0`, so no input overflows or
/// fails the context.
pub fn version_numbers(version: &str) -> (i64, i64) {
    let mut parts = version.trim().split('.').map(|part| {
        if part.is_empty() || part.len() > 9 || !part.bytes().all(|b| b.is_ascii_digit()) {
            None
        } else {
            part.parse::<i64>().ok()
        }
    });
    match parts.next().flatten() {
        Some(major) => (major, parts.next().flatten().unwrap_or(0)),
        None => (0, 0),
    }
}

fn string(s: &str) -> RestrictedExpression {
    RestrictedExpression::new_string(s.to_owned())
}

/// The record Cedar sees for `d`.
pub(crate) fn record(d: &DeviceContext) -> Result<RestrictedExpression, String> {
    let p = &d.posture;
    let posture = RestrictedExpression::new_record([
        (
            "managed".to_owned(),
            RestrictedExpression::new_bool(p.managed),
        ),
        (
            "compliant".to_owned(),
            RestrictedExpression::new_bool(p.compliant),
        ),
        (
            "disk_encrypted".to_owned(),
            RestrictedExpression::new_bool(p.disk_encrypted),
        ),
        ("os_version".to_owned(), string(&p.os_version)),
        (
            "os_major".to_owned(),
            RestrictedExpression::new_long(p.os_major),
        ),
        (
            "os_minor".to_owned(),
            RestrictedExpression::new_long(p.os_minor),
        ),
        ("os_source".to_owned(), string(&p.os_source)),
        ("platform_version".to_owned(), string(&p.platform_version)),
        ("browser".to_owned(), string(&p.browser)),
        ("browser_version".to_owned(), string(&p.browser_version)),
        (
            "browser_major".to_owned(),
            RestrictedExpression::new_long(p.browser_major),
        ),
    ])
    .map_err(|e| e.to_string())?;
    RestrictedExpression::new_record([
        ("id".to_owned(), string(&d.id)),
        (
            "trusted".to_owned(),
            RestrictedExpression::new_bool(d.trusted),
        ),
        ("kind".to_owned(), string(&d.kind)),
        ("platform".to_owned(), string(&d.platform)),
        ("key_storage".to_owned(), string(&d.key_storage)),
        ("attested_model".to_owned(), string(&d.attested_model)),
        ("posture".to_owned(), posture),
    ])
    .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_read_their_leading_numbers() {
        assert_eq!(version_numbers("14.4.1"), (14, 4));
        assert_eq!(version_numbers("15.0.0"), (15, 0));
        assert_eq!(version_numbers("10"), (10, 0));
        assert_eq!(version_numbers(""), (0, 0));
        assert_eq!(version_numbers("x.1"), (0, 0));
        assert_eq!(version_numbers("14.x"), (14, 0));
        assert_eq!(version_numbers("-1.2"), (0, 0));
        assert_eq!(version_numbers("99999999999999999999.1"), (0, 0));
    }
}
