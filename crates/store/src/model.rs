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

/// What kind of holder an identity is. Every identity so far is a person;
/// the others arrive with their contexts, in the same table, so names,
/// statuses, offboarding and the audit log's subjects work for all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum IdentityKind {
    /// A person with passkeys.
    #[default]
    Person,
    /// A device bound to a device key.
    Device,
    /// A workload with a SPIFFE ID.
    Workload,
    /// An agent acting on a task credential.
    Agent,
}

impl IdentityKind {
    /// The stored spelling, also the audit event's subject kind.
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityKind::Person => "person",
            IdentityKind::Device => "device",
            IdentityKind::Workload => "workload",
            IdentityKind::Agent => "agent",
        }
    }

    pub(crate) fn parse(s: &str) -> Result<Self, StoreError> {
        Ok(match s {
            "person" => IdentityKind::Person,
            "device" => IdentityKind::Device,
            "workload" => IdentityKind::Workload,
            "agent" => IdentityKind::Agent,
            other => return Err(StoreError::Corrupt(format!("identity kind {other:?}"))),
        })
    }
}

/// A person (later also a device, workload or agent) that credentials bind
/// to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Opaque id.
    pub id: String,
    /// What kind of holder it is.
    pub kind: IdentityKind,
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
    /// Suspected cloned (its counter went backwards): no sign-in until an
    /// administrator clears or revokes it.
    Quarantined,
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
    /// Assurance tier (1-3) computed at registration, recomputed when
    /// authenticator metadata changes.
    pub tier: i64,
    /// Why it has that tier, for people (e.g. `device-bound; user verified`).
    pub tier_reasons: String,
    /// The attestation certificates it arrived with (base64url DER, leaf
    /// first), kept so new metadata can re-judge it.
    pub attestation_chain: Vec<String>,
    /// The highest tier it may count until something stronger vouches for
    /// it: a credential added from a signed-in session proves no more than
    /// that session did. `None`: no cap.
    pub tier_cap: Option<i64>,
}

/// Server-side state of an issued ceremony, found again by its challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// SHA-256 of the challenge bytes.
    pub challenge_hash: Vec<u8>,
    /// SHA-256 of the browser session cookie that asked for it.
    pub session_hash: Vec<u8>,
    /// `registration` or `authentication`.
    pub ceremony: String,
    /// What the service needs to finish the ceremony (JSON, opaque here).
    pub payload: String,
    /// Expiry, ms.
    pub expires_ms: i64,
}

/// A single-use enrolment grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// SHA-256 of the token handed out.
    pub token_hash: Vec<u8>,
    /// `invitation`, `additional`, `recovery`.
    pub kind: String,
    /// Who may enrol with it.
    pub identity_id: String,
    /// Who issued it.
    pub issued_by: String,
    /// The minimum tier the enrolled credential must reach.
    pub min_tier: i64,
    /// Issue time, ms.
    pub created_ms: i64,
    /// Expiry, ms.
    pub expires_ms: i64,
    /// When it was used; `None` while it is still open.
    pub used_ms: Option<i64>,
}

/// A signed-in session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// SHA-256 of the session cookie.
    pub id_hash: Vec<u8>,
    /// Who.
    pub identity_id: String,
    /// With which credential.
    pub credential_id: Vec<u8>,
    /// Whether UV happened.
    pub user_verified: bool,
    /// The tier the credential reached.
    pub tier: i64,
    /// Start, ms.
    pub created_ms: i64,
    /// Expiry, ms.
    pub expires_ms: i64,
}

/// A request to recover an identity that lost every credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovery {
    /// Random id.
    pub id: String,
    /// Who is being recovered.
    pub identity_id: String,
    /// When it was asked for, ms.
    pub requested_ms: i64,
    /// When it lapses unless issued, ms.
    pub expires_ms: i64,
    /// When the grant may be issued (enough approvals plus the waiting
    /// period), ms.
    pub ready_ms: Option<i64>,
    /// `pending`, `issued`, `denied`, `voided`.
    pub status: String,
    /// Revoke the old credentials when the grant is issued.
    pub revoke_old: bool,
}

/// A proposal to grant an identity the admin role, which takes effect once
/// enough administrators approved it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleProposal {
    /// Random id.
    pub id: String,
    /// Who would become an administrator.
    pub identity_id: String,
    /// The administrator who proposed it (their approval counts).
    pub proposed_by: String,
    /// When, ms.
    pub created_ms: i64,
    /// When it lapses unless granted, ms.
    pub expires_ms: i64,
    /// `pending`, `granted`, `denied`, `voided`.
    pub status: String,
}
