//! The client's JSON (`RegistrationResponseJSON`, `AuthenticationResponseJSON`
//! of WebAuthn L3 §5.1), as produced by `PublicKeyCredential.toJSON()`.
//!
//! Binary members arrive as base64url strings and are decoded after parsing,
//! so a bad encoding is reported as [`Error::InvalidBase64`] rather than as a
//! malformed document. They are decoded with [`b64::decode_lenient`]: some
//! clients pad, or use the standard alphabet, and the bytes are what count.
//! Unknown members are ignored.

use serde::Deserialize;

use crate::b64;
use crate::error::Error;

/// Client extension outputs (`clientExtensionResults`), passed through as JSON.
pub type ClientExtensionResults = serde_json::Map<String, serde_json::Value>;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RegistrationWire {
    id: String,
    raw_id: String,
    #[serde(rename = "type")]
    ty: String,
    response: AttestationResponseWire,
    #[serde(default)]
    authenticator_attachment: Option<String>,
    #[serde(default, alias = "getClientExtensionResults")]
    client_extension_results: ClientExtensionResults,
}

#[derive(Deserialize)]
struct AttestationResponseWire {
    #[serde(rename = "clientDataJSON")]
    client_data_json: String,
    #[serde(rename = "attestationObject")]
    attestation_object: String,
    #[serde(default)]
    transports: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AuthenticationWire {
    id: String,
    raw_id: String,
    #[serde(rename = "type")]
    ty: String,
    response: AssertionResponseWire,
    #[serde(default)]
    authenticator_attachment: Option<String>,
    #[serde(default, alias = "getClientExtensionResults")]
    client_extension_results: ClientExtensionResults,
}

#[derive(Deserialize)]
struct AssertionResponseWire {
    #[serde(rename = "clientDataJSON")]
    client_data_json: String,
    #[serde(rename = "authenticatorData")]
    authenticator_data: String,
    signature: String,
    #[serde(rename = "userHandle", default)]
    user_handle: Option<String>,
}

/// A registration response (`RegistrationResponseJSON`), decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationResponse {
    /// `rawId`: the credential id.
    pub raw_id: Vec<u8>,
    /// `response.clientDataJSON`.
    pub client_data_json: Vec<u8>,
    /// `response.attestationObject`.
    pub attestation_object: Vec<u8>,
    /// `response.transports`, as the browser reported them.
    pub transports: Vec<String>,
    /// `authenticatorAttachment` (`platform` or `cross-platform`).
    pub authenticator_attachment: Option<String>,
    /// `clientExtensionResults`.
    pub client_extension_results: ClientExtensionResults,
}

/// An authentication response (`AuthenticationResponseJSON`), decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticationResponse {
    /// `rawId`: the credential id, which the caller uses to look up the
    /// stored credential before verifying.
    pub raw_id: Vec<u8>,
    /// `response.clientDataJSON`.
    pub client_data_json: Vec<u8>,
    /// `response.authenticatorData`.
    pub authenticator_data: Vec<u8>,
    /// `response.signature`.
    pub signature: Vec<u8>,
    /// `response.userHandle`, absent when null or empty.
    pub user_handle: Option<Vec<u8>>,
    /// `authenticatorAttachment`.
    pub authenticator_attachment: Option<String>,
    /// `clientExtensionResults`.
    pub client_extension_results: ClientExtensionResults,
}

fn decode(s: &str) -> Result<Vec<u8>, Error> {
    b64::decode_lenient(s).map_err(|_| Error::InvalidBase64)
}

/// A credential id is at most 1023 bytes (WebAuthn L3 §5.8.3): 1364
/// base64url characters, 1368 with padding.
const MAX_CREDENTIAL_ID: usize = 1023;
const MAX_CREDENTIAL_ID_TEXT: usize = 1368;
/// A user handle is at most 64 bytes (§5.4.3).
const MAX_USER_HANDLE: usize = 64;
/// Transports kept from a response, each at most this long: the registry
/// has six, a few more leave room for new ones.
const MAX_TRANSPORTS: usize = 8;
const MAX_TRANSPORT_BYTES: usize = 32;

/// `id` and `rawId` within bounds before anything decodes, compares or
/// records them: a 350 kB id is refused here, not carried into look-ups
/// and audit records.
fn bounded_id(id: &str, raw_id: &str) -> Result<Vec<u8>, Error> {
    if id.len() > MAX_CREDENTIAL_ID_TEXT || raw_id.len() > MAX_CREDENTIAL_ID_TEXT {
        return Err(Error::CredentialIdTooLong);
    }
    let raw = decode(raw_id)?;
    if raw.len() > MAX_CREDENTIAL_ID {
        return Err(Error::CredentialIdTooLong);
    }
    Ok(raw)
}

/// The transports a browser reported, bounded: short printable ASCII
/// entries, at most [`MAX_TRANSPORTS`], each once.
fn bounded_transports(reported: Vec<String>) -> Vec<String> {
    let mut kept: Vec<String> = Vec::new();
    for t in reported {
        let printable = !t.is_empty()
            && t.len() <= MAX_TRANSPORT_BYTES
            && t.bytes().all(|b| b.is_ascii_graphic());
        if printable && !kept.contains(&t) && kept.len() < MAX_TRANSPORTS {
            kept.push(t);
        }
    }
    kept
}

/// `type` must be `public-key` and `id` must be the base64url of `rawId`,
/// compared as decoded bytes: a padded or standard-alphabet `id` names the
/// same credential as the canonical `rawId`.
fn check_envelope(ty: &str, id: &str, raw_id: &[u8]) -> Result<(), Error> {
    if ty != "public-key" {
        return Err(Error::CredentialTypeMismatch);
    }
    if decode(id)? != raw_id {
        return Err(Error::CredentialIdMismatch);
    }
    Ok(())
}

impl RegistrationResponse {
    /// Parses `RegistrationResponseJSON`.
    ///
    /// Errors: [`Error::MalformedResponse`] (also for a user handle over 64
    /// bytes), [`Error::InvalidBase64`], [`Error::CredentialIdTooLong`] (an
    /// `id` or `rawId` over 1023 bytes, refused before decoding),
    /// [`Error::CredentialTypeMismatch`], [`Error::CredentialIdMismatch`].
    pub fn from_json(json: &[u8]) -> Result<Self, Error> {
        let wire: RegistrationWire =
            serde_json::from_slice(json).map_err(|_| Error::MalformedResponse)?;
        let raw_id = bounded_id(&wire.id, &wire.raw_id)?;
        check_envelope(&wire.ty, &wire.id, &raw_id)?;
        Ok(RegistrationResponse {
            raw_id,
            client_data_json: decode(&wire.response.client_data_json)?,
            attestation_object: decode(&wire.response.attestation_object)?,
            transports: bounded_transports(wire.response.transports),
            authenticator_attachment: wire.authenticator_attachment,
            client_extension_results: wire.client_extension_results,
        })
    }
}

impl AuthenticationResponse {
    /// Parses `AuthenticationResponseJSON`.
    ///
    /// Errors: [`Error::MalformedResponse`] (also for a user handle over 64
    /// bytes), [`Error::InvalidBase64`], [`Error::CredentialIdTooLong`] (an
    /// `id` or `rawId` over 1023 bytes, refused before decoding),
    /// [`Error::CredentialTypeMismatch`], [`Error::CredentialIdMismatch`].
    pub fn from_json(json: &[u8]) -> Result<Self, Error> {
        let wire: AuthenticationWire =
            serde_json::from_slice(json).map_err(|_| Error::MalformedResponse)?;
        let raw_id = bounded_id(&wire.id, &wire.raw_id)?;
        check_envelope(&wire.ty, &wire.id, &raw_id)?;
        let user_handle = match wire.response.user_handle.as_deref() {
            None | Some("") => None,
            Some(h) if h.len() > 2 * MAX_USER_HANDLE => return Err(Error::MalformedResponse),
            Some(h) => {
                let handle = decode(h)?;
                if handle.len() > MAX_USER_HANDLE {
                    return Err(Error::MalformedResponse);
                }
                Some(handle)
            }
        };
        Ok(AuthenticationResponse {
            raw_id,
            client_data_json: decode(&wire.response.client_data_json)?,
            authenticator_data: decode(&wire.response.authenticator_data)?,
            signature: decode(&wire.response.signature)?,
            user_handle,
            authenticator_attachment: wire.authenticator_attachment,
            client_extension_results: wire.client_extension_results,
        })
    }
}
