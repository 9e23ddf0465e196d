//! Sans-IO verification of WebAuthn ceremonies (W3C WebAuthn Level 3).
//!
//! Bytes and expectations in, verdict out: no clock, no randomness of its
//! own, no database, no async. The caller stores what it sent (the challenge,
//! the origins, the RP ID, the algorithms it offered), passes that back as a
//! [`RegistrationExpectation`] or [`AuthenticationExpectation`] together with
//! the client's JSON, and gets a verified result or an [`Error`] naming the
//! exact check that failed.
//!
//! What is checked, by stage:
//! - the envelope: `type` is `public-key`, `id` equals `rawId`;
//! - clientDataJSON: ceremony type, challenge (constant time), exact origin,
//!   `crossOrigin`/`topOrigin` only where the [`OriginPolicy`] allows;
//! - authenticator data: rpIdHash, UP, UV when required, BS only with BE,
//!   well-formed attested credential data and extensions, no trailing bytes;
//! - the credential key (COSE): EC2 P-256/384/521, Ed25519, RSA 2048-4096,
//!   paired with its algorithm, which must be one the caller offered;
//! - attestation: `none`, `packed` (self and x5c), `fido-u2f`, `tpm`
//!   (pubArea/certInfo and the AIK certificate; RS1, SHA-1, only there and
//!   only when the expectation allows it, reported as
//!   [`Attestation::legacy_sha1_signature`]), `android-key` (key
//!   description; where the key lives is reported as [`KeyStorage`]),
//!   `android-safetynet` (JWS, nonce, CTS profile, freshness at the
//!   [`TrustAnchors`] time), `apple` (nonce and key) and `compound` (every
//!   part), with the chain taken to the caller's [`TrustAnchors`] (an
//!   unmatched chain is reported [`AttestationTrust::Unverified`], not
//!   refused);
//! - assertions: allowed credential, owner's user handle, signature, BE
//!   unchanged, and a sign counter that must grow ([`Error::CloneSuspected`]).
//!
//! # Example: register, then sign in
//!
//! ```
//! use keybound_webauthn::*;
//! use keybound_soft_authenticator::{Algorithm, Authenticator, Ceremony};
//!
//! let origins = OriginPolicy::exact(["https://login.example.com"]).unwrap();
//! let anchors = TrustAnchors::none();
//! let mut rng = rand_core::UnwrapErr(rand_core::OsRng); // any CryptoRng
//!
//! // 1. Creation options go to the browser; the challenge stays with us.
//! let options = PublicKeyCredentialCreationOptions::new(
//!     PublicKeyCredentialRpEntity { id: "example.com".into(), name: "Example".into() },
//!     PublicKeyCredentialUserEntity {
//!         id: vec![7; 16], name: "ada".into(), display_name: "Ada".into(),
//!     },
//!     &CoseAlgorithm::ALL,
//!     &mut rng,
//! );
//!
//! // 2. The browser answers (here: a software authenticator).
//! let authenticator = Authenticator::default();
//! let ceremony = Ceremony {
//!     rp_id: "example.com", origin: "https://login.example.com", challenge: &options.challenge,
//! };
//! let (mut key, json) = authenticator.register(Algorithm::Es256, &ceremony, &[7; 16]);
//!
//! // 3. Verify and store the credential.
//! let algorithms = options.algorithms();
//! let registered = verify_registration_json(
//!     &RegistrationExpectation {
//!         challenge: &options.challenge,
//!         rp_id: "example.com",
//!         origins: &origins,
//!         algorithms: &algorithms,
//!         user_verification: UserVerificationRequirement::Required,
//!         trust_anchors: &anchors,
//!         allow_sha1_tpm_attestation: true,
//!     },
//!     json.to_string().as_bytes(),
//! )?;
//! let stored_key = registered.public_key.cose_bytes().to_vec();
//!
//! // 4. Later, a sign-in.
//! let request = PublicKeyCredentialRequestOptions::new("example.com", &mut rng);
//! let ceremony = Ceremony { challenge: &request.challenge, ..ceremony };
//! let json = authenticator.assert(&mut key, &ceremony);
//! let response = AuthenticationResponse::from_json(json.to_string().as_bytes())?;
//! // ... look the credential up by response.raw_id, then:
//! let public_key = CredentialPublicKey::from_cose(&stored_key)?;
//! let verified = verify_authentication(
//!     &AuthenticationExpectation {
//!         challenge: &request.challenge,
//!         rp_id: "example.com",
//!         origins: &origins,
//!         user_verification: UserVerificationRequirement::Required,
//!         allowed_credentials: &[],
//!     },
//!     &response,
//!     &StoredCredential {
//!         credential_id: &registered.credential_id,
//!         public_key: &public_key,
//!         user_handle: &[7; 16],
//!         sign_count: registered.sign_count,
//!         backup_eligible: registered.backup_eligible,
//!     },
//! )?;
//! assert_eq!(verified.sign_count, 1);
//! # Ok::<(), keybound_webauthn::Error>(())
//! ```
#![warn(missing_docs)]
#![cfg_attr(
    test,
    allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

mod attestation;
mod authentication;
mod authenticator_data;
pub mod b64;
mod cbor;
mod client_data;
mod cose;
mod crypto;
mod error;
mod options;
mod origin;
mod registration;
mod response;

pub use attestation::InvalidTrustAnchor;
pub use attestation::{
    attestation_serial_number, Attestation, AttestationFormat, AttestationTrust, AttestationType,
    KeyStorage, TrustAnchors, UnverifiedReason, SAFETYNET_MAX_AGE_SECS,
};
pub use authentication::{
    verify_authentication, AuthenticationExpectation, StoredCredential, VerifiedAuthentication,
};
pub use authenticator_data::{
    Aaguid, AttestedCredentialData, AuthenticatorData, AuthenticatorExtensionOutputs, Flags,
    MAX_CREDENTIAL_ID_LEN,
};
pub use client_data::{challenge_of, CollectedClientData};
pub use cose::{CoseAlgorithm, CredentialPublicKey};
pub use error::Error;
pub use options::{
    random_challenge, AttestationConveyancePreference, AuthenticatorAttachment,
    AuthenticatorSelectionCriteria, PublicKeyCredentialCreationOptions,
    PublicKeyCredentialDescriptor, PublicKeyCredentialHint, PublicKeyCredentialParameters,
    PublicKeyCredentialRequestOptions, PublicKeyCredentialRpEntity, PublicKeyCredentialUserEntity,
    ResidentKeyRequirement, UserVerificationRequirement, CHALLENGE_LEN,
};
pub use origin::{InvalidOrigin, OriginPolicy};
pub use registration::{
    verify_registration, verify_registration_json, RegistrationExpectation, VerifiedRegistration,
};
pub use response::{AuthenticationResponse, ClientExtensionResults, RegistrationResponse};
