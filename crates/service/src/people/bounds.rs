//! Bounds on what clients send that is not a name (names: `keybound_names`)
//! nor parsed by the verification core (credential ids, user handles and
//! transports: `keybound_webauthn::response`): display names, extension
//! inputs, and the request context written into every audit event.

use crate::Refusal;
use serde_json::{Map, Value};

use crate::{ClientContext, ServiceError};

/// The longest display name, in characters (WebAuthn L3 §5.4.3 lets
/// authenticators keep 64 bytes; people's names fit in 64 characters).
pub(crate) const MAX_DISPLAY_NAME_CHARS: usize = 64;
/// User agents are kept to this many characters in the audit log.
pub(crate) const MAX_USER_AGENT_CHARS: usize = 256;
/// Client addresses are kept to this many bytes (an IPv6 address is 45).
pub(crate) const MAX_IP_BYTES: usize = 64;

/// Certificates kept from an attestation statement, at most: real chains
/// have two to four.
pub(crate) const MAX_CHAIN_CERTS: usize = 8;
/// Bytes of certificates kept from an attestation statement, at most.
pub(crate) const MAX_CHAIN_BYTES: usize = 32 * 1024;

/// Whether an attestation chain (stored with the credential, and read by
/// every metadata re-judgement) is small enough to keep: at most
/// [`MAX_CHAIN_CERTS`] certificates and [`MAX_CHAIN_BYTES`] in all. A
/// client could otherwise store a megabyte per registration.
pub(crate) fn attestation_chain_fits(chain: &[Vec<u8>]) -> bool {
    chain.len() <= MAX_CHAIN_CERTS && chain.iter().map(Vec::len).sum::<usize>() <= MAX_CHAIN_BYTES
}

/// Client extension inputs keybound echoes into creation options: only
/// `credProps` (a boolean), the one whose output it reads. Everything else
/// a client asks for is dropped, not reflected.
pub(crate) fn registration_extensions(
    requested: Option<&Map<String, Value>>,
) -> Option<Map<String, Value>> {
    let cred_props = requested?.get("credProps")?.as_bool()?;
    let mut kept = Map::new();
    kept.insert("credProps".to_owned(), Value::Bool(cred_props));
    Some(kept)
}

/// Client extension inputs keybound echoes into request options: none (it
/// supports no sign-in extension; `credProps` is a registration one).
pub(crate) fn authentication_extensions(
    _requested: Option<&Map<String, Value>>,
) -> Option<Map<String, Value>> {
    None
}

/// A display name as the options will carry it: trimmed, empty as absent,
/// at most [`MAX_DISPLAY_NAME_CHARS`] characters, none of them control,
/// bidi or invisible (`keybound_names::text::is_hazardous`); otherwise
/// [`ServiceError::Rejected`] (`invalid_display_name`).
pub(crate) fn display_name(requested: Option<&str>) -> Result<Option<String>, ServiceError> {
    let Some(name) = requested.map(str::trim).filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    // Count no further than one past the bound, whatever the length.
    let too_long = name.chars().nth(MAX_DISPLAY_NAME_CHARS).is_some();
    if too_long || name.chars().any(keybound_names::text::is_hazardous) {
        return Err(ServiceError::Rejected(Refusal::InvalidDisplayName));
    }
    Ok(Some(name.to_owned()))
}

/// The request context as the audit log keeps it: the user agent cut to
/// [`MAX_USER_AGENT_CHARS`], the address to [`MAX_IP_BYTES`], whoever
/// built the context.
pub(crate) fn context(ctx: &ClientContext) -> (Option<String>, Option<String>) {
    let ip = ctx.ip.as_deref().map(|ip| {
        let mut end = ip.len().min(MAX_IP_BYTES);
        while !ip.is_char_boundary(end) {
            end -= 1;
        }
        ip.get(..end).unwrap_or_default().to_owned()
    });
    let user_agent = ctx
        .user_agent
        .as_deref()
        .map(|ua| ua.chars().take(MAX_USER_AGENT_CHARS).collect());
    (ip, user_agent)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_cred_props_is_echoed() {
        let asked =
            json!({"credProps": true, "prf": {"eval": {"first": "AAAA"}}, "x": "y".repeat(1000)});
        let asked = asked.as_object();
        assert_eq!(
            registration_extensions(asked),
            json!({"credProps": true}).as_object().cloned()
        );
        assert_eq!(
            registration_extensions(json!({"credProps": "yes"}).as_object()),
            None
        );
        assert_eq!(registration_extensions(None), None);
        assert_eq!(authentication_extensions(asked), None);
    }

    #[test]
    fn display_names_are_bounded_and_printable() {
        assert_eq!(display_name(None), Ok(None));
        assert_eq!(display_name(Some("  ")), Ok(None));
        assert_eq!(
            display_name(Some(" Ada Lovelace ")),
            Ok(Some("Ada Lovelace".into()))
        );
        assert!(display_name(Some(&"é".repeat(64))).is_ok());
        for bad in [
            "a\nb",
            "\u{202E}evil",
            &"x".repeat(65),
            &"x".repeat(900_000),
        ] {
            assert_eq!(
                display_name(Some(bad)),
                Err(ServiceError::Rejected(Refusal::InvalidDisplayName))
            );
        }
    }

    #[test]
    fn the_audit_context_is_bounded() {
        let (ip, ua) = context(&ClientContext {
            ip: Some("é".repeat(100)),
            user_agent: Some("x".repeat(10_000)),
            hints: Default::default(),
        });
        assert!(ip.unwrap().len() <= MAX_IP_BYTES);
        assert_eq!(ua.unwrap().len(), MAX_USER_AGENT_CHARS);
    }
}
