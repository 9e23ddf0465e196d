//! Creation and request options (§5.4, §5.5) in the WebAuthn L3 JSON shape
//! (`PublicKeyCredentialCreationOptionsJSON`,
//! `PublicKeyCredentialRequestOptionsJSON`), ready for
//! `PublicKeyCredential.parseCreationOptionsFromJSON()`.

use rand_core::CryptoRng;
use serde::{Deserialize, Serialize};

use crate::b64::serde_bytes;
use crate::cose::CoseAlgorithm;

/// Length of every challenge this crate issues (§13.4.3 asks for at least 16).
pub const CHALLENGE_LEN: usize = 32;

/// A fresh 32-byte challenge from the caller's cryptographic RNG.
pub fn random_challenge<R: CryptoRng + ?Sized>(rng: &mut R) -> Vec<u8> {
    let mut challenge = vec![0u8; CHALLENGE_LEN];
    rng.fill_bytes(&mut challenge);
    challenge
}

/// `userVerification`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UserVerificationRequirement {
    /// UV must be performed; responses without UV are refused.
    Required,
    /// UV if the authenticator can.
    #[default]
    Preferred,
    /// No UV wanted.
    Discouraged,
}

impl UserVerificationRequirement {
    /// True for `required`, the only value verification enforces.
    pub fn is_required(self) -> bool {
        self == UserVerificationRequirement::Required
    }
}

/// `residentKey`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResidentKeyRequirement {
    /// A discoverable credential (passkey) must be created.
    Required,
    /// Discoverable if possible.
    Preferred,
    /// Server-side credential preferred.
    Discouraged,
}

/// `authenticatorAttachment`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthenticatorAttachment {
    /// Built into the client device.
    Platform,
    /// A roaming authenticator (security key, phone).
    CrossPlatform,
}

/// `attestation` conveyance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AttestationConveyancePreference {
    /// No attestation wanted.
    #[default]
    None,
    /// Attestation, possibly anonymised by the client.
    Indirect,
    /// The authenticator's own attestation.
    Direct,
    /// Uniquely identifying attestation (managed deployments).
    Enterprise,
}

/// `hints` (L3 §5.8.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PublicKeyCredentialHint {
    /// A physical security key.
    SecurityKey,
    /// The platform authenticator.
    ClientDevice,
    /// A phone or other device reached over hybrid transport.
    Hybrid,
}

/// `rp`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicKeyCredentialRpEntity {
    /// The RP ID.
    pub id: String,
    /// A human-readable name.
    pub name: String,
}

/// `user`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicKeyCredentialUserEntity {
    /// The user handle: 1-64 opaque bytes, never personal data.
    #[serde(with = "serde_bytes")]
    pub id: Vec<u8>,
    /// The account name shown to the user.
    pub name: String,
    /// The display name.
    pub display_name: String,
}

/// One `pubKeyCredParams` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicKeyCredentialParameters {
    /// Always `public-key`.
    #[serde(rename = "type")]
    pub ty: String,
    /// The COSE algorithm.
    pub alg: CoseAlgorithm,
}

/// A credential named in `excludeCredentials` or `allowCredentials`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicKeyCredentialDescriptor {
    /// Always `public-key`.
    #[serde(rename = "type")]
    pub ty: String,
    /// The credential id.
    #[serde(with = "serde_bytes")]
    pub id: Vec<u8>,
    /// Transports reported at registration.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transports: Vec<String>,
}

impl PublicKeyCredentialDescriptor {
    /// A descriptor for a credential id and its known transports.
    pub fn new(id: Vec<u8>, transports: Vec<String>) -> Self {
        PublicKeyCredentialDescriptor {
            ty: "public-key".to_owned(),
            id,
            transports,
        }
    }
}

/// `authenticatorSelection`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticatorSelectionCriteria {
    /// Platform or roaming.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authenticator_attachment: Option<AuthenticatorAttachment>,
    /// Discoverable credential requirement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resident_key: Option<ResidentKeyRequirement>,
    /// Level 1 spelling of `residentKey: required`, kept for old clients.
    #[serde(default)]
    pub require_resident_key: bool,
    /// UV requirement.
    #[serde(default)]
    pub user_verification: UserVerificationRequirement,
}

/// `PublicKeyCredentialCreationOptionsJSON`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicKeyCredentialCreationOptions {
    /// The relying party.
    pub rp: PublicKeyCredentialRpEntity,
    /// The account.
    pub user: PublicKeyCredentialUserEntity,
    /// The challenge; store it to build the [`crate::RegistrationExpectation`].
    #[serde(with = "serde_bytes")]
    pub challenge: Vec<u8>,
    /// Acceptable algorithms, most preferred first.
    pub pub_key_cred_params: Vec<PublicKeyCredentialParameters>,
    /// Milliseconds the client should wait.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u32>,
    /// Credentials the user already has, so the authenticator does not
    /// create a second one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude_credentials: Vec<PublicKeyCredentialDescriptor>,
    /// Authenticator requirements.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authenticator_selection: Option<AuthenticatorSelectionCriteria>,
    /// UI hints.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hints: Vec<PublicKeyCredentialHint>,
    /// Attestation conveyance.
    #[serde(default)]
    pub attestation: AttestationConveyancePreference,
    /// Preferred attestation formats.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attestation_formats: Vec<String>,
    /// Client extension inputs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extensions: Option<serde_json::Map<String, serde_json::Value>>,
}

impl PublicKeyCredentialCreationOptions {
    /// Options with a fresh challenge and `algorithms` in order; the other
    /// members are public to set as the ceremony needs.
    pub fn new<R: CryptoRng + ?Sized>(
        rp: PublicKeyCredentialRpEntity,
        user: PublicKeyCredentialUserEntity,
        algorithms: &[CoseAlgorithm],
        rng: &mut R,
    ) -> Self {
        PublicKeyCredentialCreationOptions {
            rp,
            user,
            challenge: random_challenge(rng),
            pub_key_cred_params: algorithms
                .iter()
                .map(|&alg| PublicKeyCredentialParameters {
                    ty: "public-key".to_owned(),
                    alg,
                })
                .collect(),
            timeout: None,
            exclude_credentials: Vec::new(),
            authenticator_selection: None,
            hints: Vec::new(),
            attestation: AttestationConveyancePreference::None,
            attestation_formats: Vec::new(),
            extensions: None,
        }
    }

    /// The algorithms offered, for [`crate::RegistrationExpectation::algorithms`].
    pub fn algorithms(&self) -> Vec<CoseAlgorithm> {
        self.pub_key_cred_params.iter().map(|p| p.alg).collect()
    }
}

/// `PublicKeyCredentialRequestOptionsJSON`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicKeyCredentialRequestOptions {
    /// The challenge; store it to build the [`crate::AuthenticationExpectation`].
    #[serde(with = "serde_bytes")]
    pub challenge: Vec<u8>,
    /// Milliseconds the client should wait.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u32>,
    /// The RP ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rp_id: Option<String>,
    /// Credentials that may answer; empty for a username-less ceremony.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_credentials: Vec<PublicKeyCredentialDescriptor>,
    /// UV requirement.
    #[serde(default)]
    pub user_verification: UserVerificationRequirement,
    /// UI hints.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hints: Vec<PublicKeyCredentialHint>,
    /// Client extension inputs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extensions: Option<serde_json::Map<String, serde_json::Value>>,
}

impl PublicKeyCredentialRequestOptions {
    /// Options with a fresh challenge for `rp_id`; fill `allow_credentials`
    /// for a sign-in by username, leave it empty for a username-less one.
    pub fn new<R: CryptoRng + ?Sized>(rp_id: &str, rng: &mut R) -> Self {
        PublicKeyCredentialRequestOptions {
            challenge: random_challenge(rng),
            timeout: None,
            rp_id: Some(rp_id.to_owned()),
            allow_credentials: Vec::new(),
            user_verification: UserVerificationRequirement::Preferred,
            hints: Vec::new(),
            extensions: None,
        }
    }

    /// The allowed credential ids, for
    /// [`crate::AuthenticationExpectation::allowed_credentials`].
    pub fn allowed_credential_ids(&self) -> Vec<Vec<u8>> {
        self.allow_credentials
            .iter()
            .map(|d| d.id.clone())
            .collect()
    }
}
