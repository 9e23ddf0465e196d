//! What the service needs to know about its relying party, and its clock.

use keybound_webauthn::{AttestationConveyancePreference, OriginPolicy};

/// Relying-party settings the use cases apply.
#[derive(Debug, Clone)]
pub struct Config {
    /// The RP ID (a registrable domain, or `localhost`).
    pub rp_id: String,
    /// The name shown by authenticators.
    pub rp_name: String,
    /// Origins allowed to run ceremonies.
    pub origins: OriginPolicy,
    /// Anyone may register a new name (demos, conformance testing).
    pub open_registration: bool,
    /// How long a challenge may be answered, ms.
    pub challenge_ttl_ms: i64,
    /// How long a session lasts, ms.
    pub session_ttl_ms: i64,
    /// How long an invitation may be used, ms.
    pub invitation_ttl_ms: i64,
    /// How recent a sign-in must be for step-up actions (the console,
    /// adding a key, revoking one the person cannot spare), ms.
    pub step_up_window_ms: i64,
    /// How long a bound cookie lives, ms: a device-bound session proves
    /// its key this often, and a copied session cookie stops working at
    /// most this long after the copy (DBSC, issue 16).
    pub dbsc_refresh_ms: i64,
    /// Keys the fake allow-lists of unknown names, so they are stable per
    /// name and unpredictable without it. Must persist across restarts.
    pub enumeration_secret: [u8; 32],
    /// Trusted attestation roots (DER).
    pub attestation_roots: Vec<Vec<u8>>,
    /// What a registration must meet.
    pub policy: Policy,
    /// The FIDO Metadata Service root (DER) that BLOBs must chain to; no
    /// metadata is used without one.
    pub mds_root: Option<Vec<u8>>,
    /// Ceremony rate limits.
    pub rate_limits: crate::RateLimits,
    /// When the anomaly detectors raise alerts.
    pub alerts: crate::AlertThresholds,
    /// How account recovery is governed.
    pub recovery: RecoveryPolicy,
    /// When signing keys rotate and how long a retired one stays published.
    pub key_rotation: crate::KeyRotation,
    /// The OpenID Connect provider's settings.
    pub oidc: OidcSettings,
    /// How enrolled devices are trusted (issue 16).
    pub devices: DevicePolicy,
    /// How old a device posture fact may be and still be decided on, ms
    /// (`--device-posture-max-age`); older facts are shown as stale.
    pub posture_max_age_ms: i64,
    /// Workload identity: trust domain, SVID and CA lifetimes, the CA's
    /// keys (issue 17).
    pub workloads: crate::WorkloadSettings,
    /// Task credentials for agents: lifetimes and approval deadline
    /// (issue 18).
    pub tasks: crate::TaskSettings,
    /// Whether DPoP proofs must carry a nonce this deployment handed out
    /// (RFC 9449 §8): a proof made ahead of time is then worth at most two
    /// minutes (`--dpop-nonce`, default on).
    pub dpop_nonce: bool,
    /// The verifiable audit log: its origin, witness file, how often the
    /// sealer runs and its lease (issue 19).
    pub transparency: crate::TransparencySettings,
}

/// How a newly enrolled device earns `trusted` (issue 16).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceTrust {
    /// `trusted` when the attestation verified to the metadata and the
    /// model is a platform authenticator; otherwise `untrusted` until an
    /// administrator approves it.
    #[default]
    Attested,
    /// Always `untrusted` until an administrator trusts it.
    Admin,
}

impl DeviceTrust {
    /// The setting's spelling (`attested`, `admin`).
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceTrust::Attested => "attested",
            DeviceTrust::Admin => "admin",
        }
    }

    /// The policy spelled `s`, if it is one.
    pub fn parse(s: &str) -> Option<DeviceTrust> {
        match s {
            "attested" => Some(DeviceTrust::Attested),
            "admin" => Some(DeviceTrust::Admin),
            _ => None,
        }
    }
}

/// The device registry's policy (issue 16).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DevicePolicy {
    /// What makes a new device `trusted`.
    pub trust: DeviceTrust,
    /// RP IDs for which device enrolment asks for enterprise attestation
    /// (`attestation: "enterprise"`): the authenticator may then reveal
    /// its serial, which links the device to an inventory record. Only for
    /// RP IDs the organisation's managed browsers are configured to allow.
    pub enterprise_attestation_rp_ids: Vec<String>,
}

/// The OpenID Connect provider's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcSettings {
    /// The `iss` of every token and the base of every endpoint URL.
    pub issuer: String,
    /// How long an access token is good for, s.
    pub access_token_ttl_s: i64,
    /// Whether the token endpoint hands out refresh tokens.
    pub refresh_tokens: bool,
    /// How long a refresh token is good for, s (each exchange starts anew).
    pub refresh_token_ttl_s: i64,
}

impl OidcSettings {
    /// Defaults for `issuer`: 5-minute access tokens, refresh tokens off
    /// (a day long when on).
    pub fn new(issuer: &str) -> Self {
        OidcSettings {
            issuer: issuer.trim_end_matches('/').to_owned(),
            access_token_ttl_s: 300,
            refresh_tokens: false,
            refresh_token_ttl_s: 24 * 60 * 60,
        }
    }

    /// The longest any token signed with an `IdTokens` key lives, ms: ID
    /// and access tokens (`access_token_ttl_s`), back-channel logout
    /// tokens. Refresh tokens are opaque, not signed. A retired key stays
    /// published this long (`KeyRotation::max_token_lifetime_ms`).
    pub fn longest_signed_token_ms(&self) -> i64 {
        self.access_token_ttl_s
            .max(crate::kernel::backchannel::LOGOUT_TOKEN_LIFETIME_S)
            .saturating_mul(1000)
    }
}

/// Recovery by M-of-N administrator approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecoveryPolicy {
    /// Approvals needed, each from a different administrator who is not
    /// the person recovered.
    pub approvals: usize,
    /// Wait after the last approval before the grant can be issued, ms.
    pub wait_ms: i64,
    /// How long a request stays open, ms.
    pub request_ttl_ms: i64,
    /// How long the issued grant lasts, ms.
    pub grant_ttl_ms: i64,
}

impl Default for RecoveryPolicy {
    /// Two approvals, no wait, requests open a day, grants 15 minutes.
    fn default() -> Self {
        RecoveryPolicy {
            approvals: 2,
            wait_ms: 0,
            request_ttl_ms: 24 * 60 * 60 * 1000,
            grant_ttl_ms: 15 * 60 * 1000,
        }
    }
}

/// Registration policy: which authenticators may bind to an identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// The lowest tier a new credential may have.
    pub registration_min_tier: crate::Tier,
    /// Refuse credentials created without user verification.
    pub require_user_verification: bool,
    /// When not empty, only these AAGUIDs (8-4-4-4-12) may register.
    pub aaguid_allow: Vec<String>,
    /// These AAGUIDs may never register.
    pub aaguid_deny: Vec<String>,
    /// The attestation conveyance requested when the client asks for none
    /// in particular.
    pub attestation: AttestationConveyancePreference,
    /// A higher minimum tier for a group of identities. The groups are the
    /// roles, `admin` and `user`.
    pub group_min_tier: std::collections::BTreeMap<String, crate::Tier>,
    /// Credentials a person should hold (a backup). Below it their account
    /// says it lacks a backup, and revoking one that takes them below it
    /// needs a fresh sign-in and an explicit confirmation.
    pub min_credentials: usize,
    /// Tier 2 needs a verified attestation: without it BE=0 and UV=1 are
    /// only what the authenticator reports about itself.
    pub tier2_requires_attestation: bool,
    /// Accept TPM attestation statements signed with RS1 (RSASSA-PKCS1-v1_5
    /// with SHA-1), as Windows Hello laptops send them. On by default so
    /// Windows Hello works out of the box; the registration's audit event
    /// then says "legacy SHA-1 signature". Off refuses them with the audit
    /// reason `sha1_tpm_attestation_not_allowed`. RS1 is never accepted for
    /// anything else (credential keys, sign-ins, other formats).
    pub allow_sha1_tpm_attestation: bool,
}

impl Default for Policy {
    /// Any valid passkey, attestation not requested.
    fn default() -> Self {
        Policy {
            registration_min_tier: crate::Tier::AnyPasskey,
            require_user_verification: false,
            aaguid_allow: Vec::new(),
            aaguid_deny: Vec::new(),
            attestation: AttestationConveyancePreference::None,
            group_min_tier: std::collections::BTreeMap::new(),
            min_credentials: 2,
            tier2_requires_attestation: false,
            allow_sha1_tpm_attestation: true,
        }
    }
}

impl Config {
    /// Defaults for `rp_id` served at `origins`: 5-minute challenges,
    /// 12-hour sessions, 24-hour invitations, a 5-minute step-up window,
    /// registration governed, the OIDC issuer the first origin.
    pub fn new(rp_id: &str, origins: OriginPolicy, enumeration_secret: [u8; 32]) -> Self {
        let issuer = origins
            .origins()
            .first()
            .cloned()
            .unwrap_or_else(|| format!("https://{rp_id}"));
        Config {
            oidc: OidcSettings::new(&issuer),
            rp_id: rp_id.to_owned(),
            rp_name: "keybound".to_owned(),
            origins,
            open_registration: false,
            challenge_ttl_ms: 5 * 60 * 1000,
            session_ttl_ms: 12 * 60 * 60 * 1000,
            invitation_ttl_ms: 24 * 60 * 60 * 1000,
            step_up_window_ms: crate::policy::STEP_UP_WINDOW_MS,
            dbsc_refresh_ms: 10 * 60 * 1000,
            enumeration_secret,
            attestation_roots: Vec::new(),
            policy: Policy::default(),
            mds_root: None,
            rate_limits: crate::RateLimits::default(),
            alerts: crate::AlertThresholds::default(),
            recovery: RecoveryPolicy::default(),
            key_rotation: crate::KeyRotation::default(),
            devices: DevicePolicy::default(),
            posture_max_age_ms: crate::posture::DEFAULT_POSTURE_MAX_AGE_MS,
            workloads: crate::WorkloadSettings::default(),
            tasks: crate::TaskSettings::default(),
            dpop_nonce: true,
            transparency: crate::TransparencySettings::new(rp_id),
        }
    }
}

/// Milliseconds since the Unix epoch; injected so tests control time.
pub trait Clock: Send + Sync {
    /// Now.
    fn now_ms(&self) -> i64;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
    }
}
