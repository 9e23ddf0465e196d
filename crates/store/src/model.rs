//! The rows the store keeps, in domain terms (DESIGN.md "Domain").

use crate::StoreError;

/// Where an identity stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityStatus {
    /// Invited, no credential yet.
    Invited,
    /// Has enrolled.
    Active,
    /// Temporarily barred.
    Suspended,
    /// Gone: every credential revoked, no path back without a new invitation.
    Offboarded,
}

impl IdentityStatus {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityStatus::Invited => "invited",
            IdentityStatus::Active => "active",
            IdentityStatus::Suspended => "suspended",
            IdentityStatus::Offboarded => "offboarded",
        }
    }

    pub(crate) fn parse(s: &str) -> Result<Self, StoreError> {
        Ok(match s {
            "invited" => IdentityStatus::Invited,
            "active" => IdentityStatus::Active,
            "suspended" => IdentityStatus::Suspended,
            "offboarded" => IdentityStatus::Offboarded,
            other => return Err(StoreError::Corrupt(format!("identity status {other:?}"))),
        })
    }
}

/// A person (later also a workload or agent) that credentials bind to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Opaque id.
    pub id: String,
    /// Unique account name.
    pub name: String,
    /// Status.
    pub status: IdentityStatus,
    /// Whether the identity administers keybound.
    pub is_admin: bool,
    /// The WebAuthn user handle (random, never personal data).
    pub user_handle: Vec<u8>,
    /// Creation time, ms.
    pub created_ms: i64,
}

/// Whether a credential may still sign in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialStatus {
    /// Usable.
    Active,
    /// Revoked, with the reason.
    Revoked(String),
}

/// A registered credential and what was learnt about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// Credential id (unique across all identities).
    pub id: Vec<u8>,
    /// Owner.
    pub identity_id: String,
    /// COSE_Key bytes.
    pub public_key: Vec<u8>,
    /// COSE algorithm.
    pub alg: i64,
    /// Last signature counter.
    pub sign_count: u32,
    /// Authenticator model, canonical 8-4-4-4-12 form.
    pub aaguid: String,
    /// `none`, `packed`, `fido-u2f`, …
    pub attestation_format: String,
    /// `none`, `self`, `basic`, `attca`.
    pub attestation_type: String,
    /// `not_applicable`, `verified`, `unverified:<reason>`.
    pub attestation_trust: String,
    /// Transports as reported (stored as a JSON array).
    pub transports: Vec<String>,
    /// BE at registration.
    pub backup_eligible: bool,
    /// BS at the last ceremony.
    pub backup_state: bool,
    /// UV at registration.
    pub user_verified: bool,
    /// A name the user chose.
    pub nickname: Option<String>,
    /// Registration time, ms.
    pub created_ms: i64,
    /// Last sign-in, ms.
    pub last_used_ms: Option<i64>,
    /// Active or revoked.
    pub status: CredentialStatus,
}
