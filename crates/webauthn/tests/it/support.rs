//! Shared fixtures: a relying party configuration and helpers that run the
//! verifier on the software authenticator's JSON.

use keybound_soft_authenticator::{Algorithm, Authenticator, Ceremony, Credential, Tweaks};
use keybound_webauthn::*;
use serde_json::Value;

pub const RP_ID: &str = "example.com";
pub const ORIGIN: &str = "https://login.example.com";
pub const USER: &[u8] = b"user-handle-0001";

/// The browser's view of a ceremony at the test relying party.
pub fn ceremony(challenge: &[u8]) -> Ceremony<'_> {
    Ceremony {
        rp_id: RP_ID,
        origin: ORIGIN,
        challenge,
    }
}

pub fn challenge() -> Vec<u8> {
    let mut c = vec![0u8; 32];
    aws_lc_rs::rand::fill(&mut c).unwrap();
    c
}

/// A relying party's stored expectation, adjustable per test.
pub struct Rp {
    pub origins: OriginPolicy,
    pub anchors: TrustAnchors,
    pub algorithms: Vec<CoseAlgorithm>,
    pub uv: UserVerificationRequirement,
    pub rp_id: &'static str,
    pub allow_sha1_tpm_attestation: bool,
}

impl Default for Rp {
    fn default() -> Self {
        Rp {
            origins: OriginPolicy::exact([ORIGIN]).unwrap(),
            anchors: TrustAnchors::none(),
            algorithms: CoseAlgorithm::ALL.to_vec(),
            uv: UserVerificationRequirement::Preferred,
            rp_id: RP_ID,
            allow_sha1_tpm_attestation: true,
        }
    }
}

/// What a relying party keeps after registration.
pub struct Stored {
    pub id: Vec<u8>,
    pub key: CredentialPublicKey,
    pub user_handle: Vec<u8>,
    pub sign_count: u32,
    pub backup_eligible: bool,
}

impl Stored {
    pub fn from(reg: &VerifiedRegistration) -> Self {
        Stored {
            id: reg.credential_id.clone(),
            key: CredentialPublicKey::from_cose(reg.public_key.cose_bytes()).unwrap(),
            user_handle: USER.to_vec(),
            sign_count: reg.sign_count,
            backup_eligible: reg.backup_eligible,
        }
    }
}

impl Rp {
    pub fn register(&self, challenge: &[u8], json: &Value) -> Result<VerifiedRegistration, Error> {
        verify_registration_json(
            &RegistrationExpectation {
                challenge,
                rp_id: self.rp_id,
                origins: &self.origins,
                algorithms: &self.algorithms,
                user_verification: self.uv,
                trust_anchors: &self.anchors,
                allow_sha1_tpm_attestation: self.allow_sha1_tpm_attestation,
            },
            json.to_string().as_bytes(),
        )
    }

    pub fn authenticate(
        &self,
        challenge: &[u8],
        json: &Value,
        stored: &Stored,
        allowed: &[Vec<u8>],
    ) -> Result<VerifiedAuthentication, Error> {
        let response = AuthenticationResponse::from_json(json.to_string().as_bytes())?;
        verify_authentication(
            &AuthenticationExpectation {
                challenge,
                rp_id: self.rp_id,
                origins: &self.origins,
                user_verification: self.uv,
                allowed_credentials: allowed,
            },
            &response,
            &StoredCredential {
                credential_id: &stored.id,
                public_key: &stored.key,
                user_handle: &stored.user_handle,
                sign_count: stored.sign_count,
                backup_eligible: stored.backup_eligible,
            },
        )
    }
}

/// Registers with `tweaks` against the default relying party.
pub fn register_tweaked(
    auth: &Authenticator,
    alg: Algorithm,
    tweaks: &Tweaks,
) -> Result<VerifiedRegistration, Error> {
    register_with_rp(&Rp::default(), auth, alg, tweaks)
}

pub fn register_with_rp(
    rp: &Rp,
    auth: &Authenticator,
    alg: Algorithm,
    tweaks: &Tweaks,
) -> Result<VerifiedRegistration, Error> {
    let c = challenge();
    let ceremony = ceremony(&c);
    let (_, json) = auth.register_with(alg, &ceremony, USER, tweaks);
    rp.register(&c, &json)
}

/// A registered ES256 credential ready for assertion tests.
pub fn enrolled(auth: &Authenticator) -> (Credential, Stored) {
    let c = challenge();
    let ceremony = ceremony(&c);
    let (cred, json) = auth.register(Algorithm::Es256, &ceremony, USER);
    let reg = Rp::default().register(&c, &json).unwrap();
    (cred, Stored::from(&reg))
}

/// Runs one assertion with `tweaks` against `rp`, allowing the credential.
pub fn assert_tweaked(
    rp: &Rp,
    auth: &Authenticator,
    cred: &mut Credential,
    stored: &Stored,
    tweaks: &Tweaks,
) -> Result<VerifiedAuthentication, Error> {
    let c = challenge();
    let ceremony = ceremony(&c);
    let json = auth.assert_with(cred, &ceremony, tweaks);
    rp.authenticate(&c, &json, stored, std::slice::from_ref(&stored.id))
}
