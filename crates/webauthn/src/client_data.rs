//! `CollectedClientData` (§5.8.1): parsing clientDataJSON and the checks of
//! §7.1 steps 5-11 and §7.2 steps 10-15.

use serde::Deserialize;
use std::borrow::Cow;

use crate::b64;
use crate::crypto::ct_eq;
use crate::error::Error;
use crate::origin::OriginPolicy;

/// The ceremony a clientDataJSON belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CeremonyType {
    Create,
    Get,
}

impl CeremonyType {
    fn as_str(self) -> &'static str {
        match self {
            CeremonyType::Create => "webauthn.create",
            CeremonyType::Get => "webauthn.get",
        }
    }
}

/// The members of clientDataJSON a relying party verifies. Unknown members
/// (`extraData`, `tokenBinding`, future ones) are ignored as §5.8.1 requires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectedClientData {
    /// The origin the browser ran the ceremony for.
    pub origin: String,
    /// Whether the ceremony ran in a cross-origin iframe.
    pub cross_origin: bool,
    /// The top-level origin when `cross_origin` is true and the browser said.
    pub top_origin: Option<String>,
}

#[derive(Deserialize)]
struct Wire<'a> {
    #[serde(rename = "type", borrow)]
    ty: Cow<'a, str>,
    #[serde(borrow)]
    challenge: Cow<'a, str>,
    #[serde(borrow)]
    origin: Cow<'a, str>,
    #[serde(rename = "crossOrigin", default)]
    cross_origin: Option<bool>,
    #[serde(rename = "topOrigin", default, borrow)]
    top_origin: Option<Cow<'a, str>>,
}

/// Parses `json` and checks type, challenge (constant time), origin and the
/// cross-origin members against the expectation, in that order.
pub(crate) fn verify(
    json: &[u8],
    ceremony: CeremonyType,
    challenge: &[u8],
    origins: &OriginPolicy,
) -> Result<CollectedClientData, Error> {
    let wire: Wire<'_> = serde_json::from_slice(json).map_err(|_| Error::MalformedClientData)?;
    if wire.ty != ceremony.as_str() {
        return Err(Error::ClientDataTypeMismatch);
    }
    let received = b64::decode_lenient(&wire.challenge).map_err(|_| Error::MalformedClientData)?;
    if !ct_eq(&received, challenge) {
        return Err(Error::ChallengeMismatch);
    }
    if !origins.allows_origin(&wire.origin) {
        return Err(Error::OriginMismatch);
    }
    let cross_origin = wire.cross_origin.unwrap_or(false);
    if cross_origin && !origins.allows_cross_origin() {
        return Err(Error::CrossOriginNotAllowed);
    }
    if let Some(top) = &wire.top_origin {
        if !origins.allows_top_origin(top) {
            return Err(Error::TopOriginNotAllowed);
        }
    }
    Ok(CollectedClientData {
        origin: wire.origin.into_owned(),
        cross_origin,
        top_origin: wire.top_origin.map(Cow::into_owned),
    })
}

/// The challenge a clientDataJSON answers, so a relying party can find the
/// ceremony state it stored under it before verifying anything.
///
/// This only reads; the full checks happen in verification. Errors:
/// [`Error::MalformedClientData`].
pub fn challenge_of(client_data_json: &[u8]) -> Result<Vec<u8>, Error> {
    #[derive(Deserialize)]
    struct Only<'a> {
        #[serde(borrow)]
        challenge: Cow<'a, str>,
    }
    let only: Only<'_> =
        serde_json::from_slice(client_data_json).map_err(|_| Error::MalformedClientData)?;
    b64::decode_lenient(&only.challenge).map_err(|_| Error::MalformedClientData)
}
