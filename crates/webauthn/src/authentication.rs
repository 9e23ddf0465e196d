//! Verifying an authentication assertion (§7.2).

use crate::authenticator_data::{signed_message, AuthenticatorData, AuthenticatorExtensionOutputs};
use crate::client_data::{self, CeremonyType, CollectedClientData};
use crate::cose::CredentialPublicKey;
use crate::crypto::{ct_eq, sha256};
use crate::error::Error;
use crate::options::UserVerificationRequirement;
use crate::origin::OriginPolicy;
use crate::response::{AuthenticationResponse, ClientExtensionResults};

/// What the relying party stored when it issued the request options.
#[derive(Debug, Clone, Copy)]
pub struct AuthenticationExpectation<'a> {
    /// The challenge sent in the options.
    pub challenge: &'a [u8],
    /// The RP ID.
    pub rp_id: &'a str,
    /// Origins allowed to run the ceremony.
    pub origins: &'a OriginPolicy,
    /// Whether UV must be set.
    pub user_verification: UserVerificationRequirement,
    /// The `allowCredentials` ids sent; empty for a username-less
    /// (discoverable credential) ceremony, where the userHandle identifies
    /// the user.
    pub allowed_credentials: &'a [Vec<u8>],
}

/// The stored state of the credential the response names (looked up by the
/// caller from [`AuthenticationResponse::raw_id`]).
#[derive(Debug, Clone, Copy)]
pub struct StoredCredential<'a> {
    /// The credential id.
    pub credential_id: &'a [u8],
    /// The registered public key.
    pub public_key: &'a CredentialPublicKey,
    /// The user handle (`user.id`) of the credential's owner.
    pub user_handle: &'a [u8],
    /// The last sign count seen.
    pub sign_count: u32,
    /// BE as recorded at registration.
    pub backup_eligible: bool,
}

/// An assertion that passed every check.
#[derive(Debug, Clone)]
pub struct VerifiedAuthentication {
    /// The credential id.
    pub credential_id: Vec<u8>,
    /// The new sign count to store.
    pub sign_count: u32,
    /// UV flag.
    pub user_verified: bool,
    /// BE flag (unchanged from registration, or verification fails).
    pub backup_eligible: bool,
    /// BS flag, which may change between ceremonies.
    pub backup_state: bool,
    /// Authenticator extension outputs, when ED was set.
    pub authenticator_extensions: Option<AuthenticatorExtensionOutputs>,
    /// Client extension outputs.
    pub client_extension_results: ClientExtensionResults,
    /// The verified client data.
    pub client_data: CollectedClientData,
}

/// Verifies an assertion (§7.2 steps 5-22) against the stored credential the
/// caller looked up by [`AuthenticationResponse::raw_id`].
///
/// The counter and BE checks run only after the signature verified, so
/// [`Error::CloneSuspected`] always concerns a genuine authenticator response.
pub fn verify_authentication(
    expectation: &AuthenticationExpectation<'_>,
    response: &AuthenticationResponse,
    stored: &StoredCredential<'_>,
) -> Result<VerifiedAuthentication, Error> {
    // §7.2 steps 5-6: the credential is one we allowed, and belongs to its owner.
    if !expectation.allowed_credentials.is_empty()
        && !expectation.allowed_credentials.contains(&response.raw_id)
    {
        return Err(Error::CredentialNotAllowed);
    }
    if response.raw_id != stored.credential_id {
        return Err(Error::UnknownCredential);
    }
    match &response.user_handle {
        Some(handle) if !ct_eq(handle, stored.user_handle) => {
            return Err(Error::UserHandleMismatch)
        }
        None if expectation.allowed_credentials.is_empty() => return Err(Error::UserHandleMissing),
        _ => {}
    }

    // Steps 10-15.
    let client_data = client_data::verify(
        &response.client_data_json,
        CeremonyType::Get,
        expectation.challenge,
        expectation.origins,
    )?;

    // Steps 15-19.
    let auth_data = AuthenticatorData::parse(&response.authenticator_data)?;
    auth_data.check(
        expectation.rp_id,
        expectation.user_verification.is_required(),
    )?;

    // Steps 20-21: signature over authenticatorData || SHA-256(clientDataJSON).
    let signed = signed_message(
        &response.authenticator_data,
        &sha256(&response.client_data_json),
    );
    if !stored.public_key.verify(&signed, &response.signature) {
        return Err(Error::SignatureInvalid);
    }

    // Only a genuinely signed response may speak about BE and the counter:
    // otherwise anyone could get a credential quarantined.
    let flags = auth_data.flags;
    if flags.backup_eligible() != stored.backup_eligible {
        return Err(Error::BackupEligibilityChanged);
    }
    let received = auth_data.sign_count;
    if (received != 0 || stored.sign_count != 0) && received <= stored.sign_count {
        return Err(Error::CloneSuspected {
            stored: stored.sign_count,
            received,
        });
    }

    Ok(VerifiedAuthentication {
        credential_id: response.raw_id.clone(),
        sign_count: received,
        user_verified: flags.user_verified(),
        backup_eligible: flags.backup_eligible(),
        backup_state: flags.backup_state(),
        authenticator_extensions: auth_data.extensions,
        client_extension_results: response.client_extension_results.clone(),
        client_data,
    })
}
