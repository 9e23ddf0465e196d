//! Authenticator data (§6.1) and attested credential data (§6.5.2): parsed
//! with bounds checks only, then checked against the relying party (§7.1
//! steps 13-17, §7.2 steps 15-19).

use ciborium::Value;

use crate::cbor;
use crate::cose::CredentialPublicKey;
use crate::crypto::sha256;
use crate::error::Error;

/// The flags byte of authenticator data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flags(pub u8);

impl Flags {
    const UP: u8 = 0x01;
    const UV: u8 = 0x04;
    const BE: u8 = 0x08;
    const BS: u8 = 0x10;
    const AT: u8 = 0x40;
    const ED: u8 = 0x80;

    /// User present.
    pub fn user_present(self) -> bool {
        self.0 & Self::UP != 0
    }
    /// User verified (PIN, biometric, ...).
    pub fn user_verified(self) -> bool {
        self.0 & Self::UV != 0
    }
    /// Backup eligible: the credential may be synced (a multi-device passkey).
    pub fn backup_eligible(self) -> bool {
        self.0 & Self::BE != 0
    }
    /// Backup state: the credential is currently backed up / synced.
    pub fn backup_state(self) -> bool {
        self.0 & Self::BS != 0
    }
    /// Attested credential data follows.
    pub fn attested_credential_data(self) -> bool {
        self.0 & Self::AT != 0
    }
    /// Extension data follows.
    pub fn extension_data(self) -> bool {
        self.0 & Self::ED != 0
    }
}

/// A 16-byte authenticator model identifier (all zero when not disclosed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Aaguid(pub [u8; 16]);

impl std::fmt::Display for Aaguid {
    /// The canonical 8-4-4-4-12 hexadecimal form used by FIDO metadata.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// The credential an authenticator created (§6.5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttestedCredentialData {
    /// The authenticator model.
    pub aaguid: Aaguid,
    /// The credential id (at most 1023 bytes).
    pub credential_id: Vec<u8>,
    /// The credential public key.
    pub public_key: CredentialPublicKey,
}

/// Authenticator extension outputs (the CBOR map after the ED flag).
///
/// The raw CBOR is kept for callers that need extensions this crate does not
/// name; the common CTAP2 outputs are decoded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthenticatorExtensionOutputs {
    /// The extensions map exactly as sent.
    pub raw: Vec<u8>,
    /// `credProtect` level (1-3).
    pub cred_protect: Option<u8>,
    /// `hmac-secret` support at registration.
    pub hmac_secret: Option<bool>,
    /// `minPinLength`.
    pub min_pin_length: Option<u64>,
}

/// Parsed authenticator data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatorData {
    /// SHA-256 of the RP ID the authenticator scoped the credential to.
    pub rp_id_hash: [u8; 32],
    /// The flags byte.
    pub flags: Flags,
    /// The signature counter.
    pub sign_count: u32,
    /// Present when AT is set.
    pub attested_credential: Option<AttestedCredentialData>,
    /// Present when ED is set.
    pub extensions: Option<AuthenticatorExtensionOutputs>,
}

/// Maximum credential id length (§5.8.3 / CTAP 2.2).
pub const MAX_CREDENTIAL_ID_LEN: usize = 1023;

fn split(input: &[u8], at: usize) -> Result<(&[u8], &[u8]), Error> {
    input
        .split_at_checked(at)
        .ok_or(Error::MalformedAuthenticatorData)
}

impl AuthenticatorData {
    /// Parses authenticator data, refusing truncation and trailing bytes.
    ///
    /// Errors: [`Error::MalformedAuthenticatorData`],
    /// [`Error::AuthenticatorDataTrailingBytes`], [`Error::MalformedExtensions`],
    /// [`Error::CredentialIdTooLong`], and the public-key errors of
    /// [`CredentialPublicKey::from_cose`].
    pub fn parse(bytes: &[u8]) -> Result<Self, Error> {
        let (rp_id_hash, rest) = split(bytes, 32)?;
        let (flags, rest) = split(rest, 1)?;
        let (count, mut rest) = split(rest, 4)?;
        let rp_id_hash: [u8; 32] = rp_id_hash
            .try_into()
            .map_err(|_| Error::MalformedAuthenticatorData)?;
        let flags = Flags(flags.first().copied().unwrap_or_default());
        let sign_count = u32::from_be_bytes(
            count
                .try_into()
                .map_err(|_| Error::MalformedAuthenticatorData)?,
        );

        let attested_credential = if flags.attested_credential_data() {
            Some(parse_attested_credential(&mut rest)?)
        } else {
            None
        };
        let extensions = if flags.extension_data() {
            Some(parse_extensions(&mut rest)?)
        } else {
            None
        };
        if !rest.is_empty() {
            return Err(Error::AuthenticatorDataTrailingBytes);
        }
        Ok(AuthenticatorData {
            rp_id_hash,
            flags,
            sign_count,
            attested_credential,
            extensions,
        })
    }

    /// The checks common to both ceremonies: rpIdHash, UP, UV when required,
    /// and BS only with BE.
    pub(crate) fn check(&self, rp_id: &str, require_uv: bool) -> Result<(), Error> {
        if self.rp_id_hash != sha256(rp_id.as_bytes()) {
            return Err(Error::RpIdHashMismatch);
        }
        if !self.flags.user_present() {
            return Err(Error::UserNotPresent);
        }
        if require_uv && !self.flags.user_verified() {
            return Err(Error::UserNotVerified);
        }
        if self.flags.backup_state() && !self.flags.backup_eligible() {
            return Err(Error::BackupStateWithoutEligibility);
        }
        Ok(())
    }
}

/// authenticatorData || clientDataHash: what an assertion signature and a
/// `packed` attestation signature cover (§6.3.3, §8.2).
pub(crate) fn signed_message(auth_data: &[u8], client_data_hash: &[u8; 32]) -> Vec<u8> {
    let mut m = Vec::with_capacity(auth_data.len() + client_data_hash.len());
    m.extend_from_slice(auth_data);
    m.extend_from_slice(client_data_hash);
    m
}

fn parse_attested_credential(rest: &mut &[u8]) -> Result<AttestedCredentialData, Error> {
    let (aaguid, tail) = split(rest, 16)?;
    let (len, tail) = split(tail, 2)?;
    let aaguid = Aaguid(
        aaguid
            .try_into()
            .map_err(|_| Error::MalformedAuthenticatorData)?,
    );
    let len = usize::from(u16::from_be_bytes(
        len.try_into()
            .map_err(|_| Error::MalformedAuthenticatorData)?,
    ));
    if len > MAX_CREDENTIAL_ID_LEN {
        return Err(Error::CredentialIdTooLong);
    }
    if len == 0 {
        return Err(Error::MalformedAuthenticatorData);
    }
    let (credential_id, mut tail) = split(tail, len)?;
    let public_key = CredentialPublicKey::parse_prefix(&mut tail)?;
    *rest = tail;
    Ok(AttestedCredentialData {
        aaguid,
        credential_id: credential_id.to_vec(),
        public_key,
    })
}

fn parse_extensions(rest: &mut &[u8]) -> Result<AuthenticatorExtensionOutputs, Error> {
    let start = *rest;
    let value = cbor::read_item(rest).map_err(|()| Error::MalformedExtensions)?;
    let raw = start
        .get(..start.len() - rest.len())
        .ok_or(Error::MalformedExtensions)?
        .to_vec();
    let map = cbor::text_map(value).map_err(|()| Error::MalformedExtensions)?;
    let mut out = AuthenticatorExtensionOutputs {
        raw,
        ..Default::default()
    };
    for (name, value) in map {
        match (name.as_str(), value) {
            ("credProtect", Value::Integer(i)) => {
                out.cred_protect = Some(u8::try_from(i).map_err(|_| Error::MalformedExtensions)?)
            }
            ("hmac-secret", Value::Bool(b)) => out.hmac_secret = Some(b),
            ("minPinLength", Value::Integer(i)) => {
                out.min_pin_length = Some(u64::try_from(i).map_err(|_| Error::MalformedExtensions)?)
            }
            // hmac-secret is a bool at registration but encrypted bytes in an
            // assertion; only the first is decoded, the raw map keeps both.
            ("credProtect" | "minPinLength", _) => return Err(Error::MalformedExtensions),
            _ => {}
        }
    }
    Ok(out)
}
