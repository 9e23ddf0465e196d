//! Why a request was refused: one table of stable names. The name is what
//! the audit log records and what tests and dashboards match on, so a
//! variant's name never changes once released; the client never sees it
//! (it gets one generic answer per kind of failure).

use std::fmt;

/// A refusal's reason. `Verification` carries the WebAuthn core's own
/// reason ([`keybound_webauthn::Error::reason`]), itself a stable table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// The response failed WebAuthn verification; the core's reason.
    Verification(&'static str),
    /// The AAGUID is on the deny list.
    AaguidDenied,
    /// An allow list is set and the AAGUID is not on it.
    AaguidNotAllowed,
    /// This administrator already approved.
    AlreadyApproved,
    /// Approvals counted at issue time no longer reach the threshold.
    ApprovalsNoLongerStand,
    /// The attestation chain is longer or larger than any real one.
    AttestationChainTooLarge,
    /// Metadata reports the authenticator model compromised.
    AuthenticatorModelCompromised,
    /// Another credential already has this id.
    CredentialIdTaken,
    /// The credential belongs to someone other than the named account.
    CredentialOfAnotherIdentity,
    /// The credential is quarantined (suspected clone).
    CredentialQuarantined,
    /// The credential was revoked.
    CredentialRevoked,
    /// A decoy id offered for a name that has no account answered.
    DecoyCredential,
    /// The enrolment grant was used or expired.
    GrantUsedOrExpired,
    /// The account is already live (invitations are for new accounts).
    IdentityActive,
    /// The account the ceremony was for no longer exists.
    IdentityGone,
    /// The account is not active (suspended, offboarded, invited).
    IdentityNotActive,
    /// The account cannot enrol a key in its state.
    IdentityNotEnrollable,
    /// A display name outside the bounds.
    InvalidDisplayName,
    /// A name the naming rule refuses.
    InvalidName,
    /// A credential nickname outside the bounds.
    InvalidNickname,
    /// A tier outside 1-3.
    InvalidTier,
    /// The action would leave no active administrator.
    LastAdmin,
    /// The metadata BLOB's signature does not verify.
    MetadataBadSignature,
    /// The metadata BLOB is past its `nextUpdate`.
    MetadataExpired,
    /// The metadata BLOB is not a well-formed JWT.
    MetadataMalformed,
    /// The metadata BLOB is not newer than the one held.
    MetadataNotNewer,
    /// The metadata BLOB was refused for another reason.
    MetadataRefused,
    /// The metadata BLOB is signed with an algorithm we do not accept.
    MetadataUnsupportedAlgorithm,
    /// The metadata BLOB's signer does not chain to the FIDO root.
    MetadataUntrustedSigner,
    /// The name looks like an existing one.
    NameConfusable,
    /// The name differs from the one the grant or session is for.
    NameMismatch,
    /// The name (or one equal under the naming rule) is taken.
    NameTaken,
    /// The ceremony names no account and no new name.
    NoIdentity,
    /// No live challenge matches the answer.
    NoMatchingChallenge,
    /// Metadata needs a configured FIDO root.
    NoMdsRootConfigured,
    /// The caller is not an administrator.
    NotAdmin,
    /// The action on an administrator needs the local operator (`keybound
    /// admin ...` on the server), not a console session.
    NeedsOperator,
    /// The credential has no cap to lift.
    NothingToVouch,
    /// An administrator may not offboard themself.
    OffboardSelf,
    /// The person already has (or lacks) the role asked for.
    RoleUnchanged,
    /// The COSE key is larger than any real one.
    PublicKeyTooLarge,
    /// The recovery lacks approvals or is still waiting.
    RecoveryNotReady,
    /// Nobody approves their own request.
    SelfApproval,
    /// Nobody vouches for their own key.
    SelfVouch,
    /// The person is already in the status asked for.
    StatusUnchanged,
    /// An administrator may not suspend themself.
    SuspendSelf,
    /// The session the ceremony started from has ended.
    SessionEnded,
    /// The session is older than the step-up window.
    SessionNotFresh,
    /// The session's tier is below what the action needs.
    SessionTierTooLow,
    /// Ceremony state written by an older node that this one does not honour.
    StaleCeremonyState,
    /// The key's tier is below the grant's minimum.
    TierBelowGrant,
    /// The key's tier is below the account's group minimum.
    TierBelowGroupPolicy,
    /// The key's tier is below the registration minimum.
    TierBelowPolicy,
    /// The account holds the most credentials allowed.
    TooManyCredentials,
    /// No such credential here.
    UnknownCredential,
    // Policy with Cedar (issue 15).
    /// An access policy forbids it (the console: an operator's forbid).
    PolicyForbids,
    // oidc: the OpenID Connect provider (issue 15).
    /// No registered client has this `client_id`.
    OidcUnknownClient,
    /// The `redirect_uri` is not exactly one the client registered (or not the one its code was sent to).
    OidcRedirectUriMismatch,
    /// A redirect URI offered at registration is not absolute https (or http on loopback), or has a fragment.
    OidcInvalidRedirectUri,
    /// A `response_type` other than `code`.
    OidcUnsupportedResponseType,
    /// The scope lacks `openid`, or asks for more than was granted.
    OidcScopeWithoutOpenid,
    /// No PKCE challenge, or one with a method other than S256.
    OidcPkceRequired,
    /// The PKCE verifier is missing or does not match the challenge.
    OidcPkceMismatch,
    /// The client did not authenticate as it registered to.
    OidcClientAuthFailed,
    /// An authorization code presented again.
    OidcCodeReplayed,
    /// No such authorization code, or it expired.
    OidcUnknownCode,
    /// The code was issued to another client.
    OidcCodeOfAnotherClient,
    /// A refresh token presented after it was exchanged.
    OidcRefreshReused,
    /// No such live token.
    OidcUnknownToken,
    /// A grant type not offered (refresh tokens off, or unknown).
    OidcUnsupportedGrantType,
    /// A parameter longer than its bound.
    OidcOversizedParameter,
    /// A parameter missing, repeated or malformed.
    OidcMalformedRequest,
    /// An `id_token_hint` that is not an ID token this provider signed.
    OidcBadIdTokenHint,
    /// A `post_logout_redirect_uri` the client did not register.
    OidcLogoutUriUnknown,
    /// Policy denies the person this client.
    OidcAccessDenied,
    /// The session the code or token came from has ended, or its person is no longer active.
    OidcSessionEnded,
    /// An ID token algorithm the key custody cannot sign with yet.
    OidcUnsupportedAlgorithm,
    // private_key_jwt client authentication (issue 15, gkeys).
    /// A client assertion whose `alg` is `none`, HMAC, not allowed, or not its key's (algorithm confusion).
    OidcClientAssertionAlgorithm,
    /// A client assertion signed with a key the client did not register.
    OidcClientAssertionUnknownKey,
    /// A client assertion whose signature does not verify.
    OidcClientAssertionSignature,
    /// A client assertion with the wrong `iss`, `sub` or `aud`, no `jti`, or malformed.
    OidcClientAssertionClaims,
    /// A client assertion expired, not yet valid, or living too long.
    OidcClientAssertionExpired,
    /// A client assertion whose `jti` was used before.
    OidcClientAssertionReplayed,
    /// A client JWK Set that is not public keys keybound can verify with.
    OidcInvalidClientJwks,
    // Trusted devices (issue 16).
    /// The device credential is backup eligible (a synced passkey): it proves no one device.
    DeviceBackupEligible,
    /// The device credential was created without user verification.
    DeviceUserNotVerified,
    /// The authenticator is roaming (a security key), never "this device".
    DeviceRoamingAttachment,
    /// The person holds the most devices allowed.
    TooManyDevices,
    /// A device label outside the bounds (1-64 printable characters).
    InvalidDeviceLabel,
    /// The device belongs to someone else.
    DeviceOfAnotherPerson,
    /// The device is decommissioned: it never comes back.
    DeviceDecommissioned,
    /// The device already has the trust asked for.
    DeviceStatusUnchanged,
    /// An administrator asked to trust a device of their own: one person
    /// must not vouch for the device that then admits them.
    DeviceSelfApproval,
    // Devices: posture (issue 16).
    /// A posture fact an administrator may not set, or a malformed value.
    PostureFactInvalid,
    // --- Issue 16: device-bound sessions (DBSC).
    /// A DBSC proof that is not a well-formed `dbsc+jwt` with a public key
    /// and a `jti` (too large, wrong `typ`, private `jwk`...).
    DbscProofMalformed,
    /// A DBSC proof signed with an algorithm not offered (`none`, HMAC...).
    DbscProofAlgorithm,
    /// A DBSC proof whose signature does not verify with the session key.
    DbscProofSignature,
    /// A DBSC proof answering a challenge keybound did not make for this
    /// session.
    DbscChallengeInvalid,
    /// A DBSC proof answering a challenge past its lifetime.
    DbscChallengeExpired,
    /// A DBSC proof answering a challenge already answered (on any node).
    DbscChallengeReplayed,
    /// No live session or binding to register or refresh (ended, expired,
    /// unknown).
    DbscSessionNotLive,
    /// A refresh with another session's cookie than the one bound.
    DbscSessionMismatch,
    /// The session is already bound to a key.
    DbscAlreadyBound,
    /// A registration for a session signed in longer ago than a browser
    /// takes to register: only a copied cookie asks that late.
    DbscBindTooLate,
    // Workload identity (issue 17).
    /// A SPIFFE ID that is not one (scheme, trust domain, path segments, length).
    WorkloadInvalidSpiffeId,
    /// A SPIFFE ID outside this trust domain.
    WorkloadForeignTrustDomain,
    /// A SPIFFE ID under `/keybound/node/`, which only nodes hold.
    WorkloadReservedSpiffeId,
    /// An entry without selectors would match every workload.
    WorkloadNoSelectors,
    /// A selector of an unknown type or a malformed value.
    WorkloadInvalidSelector,
    /// An entry's parent that is neither a node name nor `set:<label>`.
    WorkloadInvalidParent,
    /// An entry field outside its bounds (TTL, DNS name, hint, federated trust domain).
    WorkloadInvalidEntryField,
    /// An entry with the same SPIFFE ID, parent and selectors exists.
    WorkloadEntryExists,
    /// An entry's owner that is not an active person.
    WorkloadOwnerNotActive,
    /// A node name outside the rule (1-63 of a-z, 0-9, -).
    WorkloadInvalidNodeName,
    /// A node of that name exists already.
    WorkloadNodeNameTaken,
    /// A join token that is unknown, spent or expired.
    WorkloadJoinTokenInvalid,
    /// A node key that is not a public EC P-256 JWK.
    WorkloadNodeKeyInvalid,
    /// Another node is bound to that key.
    WorkloadNodeKeyTaken,
    /// A node proof that is not a well-formed `kb-node+jwt` JWS.
    WorkloadNodeProofMalformed,
    /// A node proof whose signature does not verify, or whose key is no node's.
    WorkloadNodeProofSignature,
    /// A node proof made for another method or URL, or naming another node.
    WorkloadNodeProofWrongTarget,
    /// A node proof issued outside the accepted window.
    WorkloadNodeProofStale,
    /// A node proof whose `jti` was seen already.
    WorkloadNodeProofReplayed,
    /// The node is decommissioned: it never comes back.
    WorkloadNodeDecommissioned,
    /// A node asked for an entry not parented to it.
    WorkloadEntryNotForNode,
    /// A node asked for an entry's SVID more often than rotation needs.
    WorkloadSvidRateLimited,
    /// An SVID public key that is not an EC P-256 SubjectPublicKeyInfo.
    WorkloadInvalidSvidKey,
    /// A JWT-SVID request without an audience, or with too many or too long.
    WorkloadInvalidAudience,
    /// A sync asking for more SVIDs than the bound.
    WorkloadTooManyRequests,
    /// A trust domain name that is not one, or is our own.
    WorkloadInvalidTrustDomain,
    /// That trust domain is federated already.
    WorkloadFederationExists,
    /// A federated bundle that is not a SPIFFE bundle, or a bundle URL that is not https.
    WorkloadInvalidBundle,
    /// TPM attestation without any `--tpm-ek-roots` configured.
    WorkloadTpmNotConfigured,
    /// A TPM structure or field that does not parse or is out of bounds.
    WorkloadTpmMalformed,
    /// An EK certificate that does not chain to a configured root or certify the EK, or an EK that is not a restricted decryption key.
    WorkloadTpmEkUntrusted,
    /// An AK that is not a restricted signing key fixed to its TPM.
    WorkloadTpmAkRefused,
    /// A TPM attestation attempt not made here, expired, or spent already.
    WorkloadTpmAttemptInvalid,
    /// A secret that is not the credential's: the TPM could not activate it.
    WorkloadTpmActivationFailed,
    /// A quote not signed by the AK, not a quote, or over another nonce.
    WorkloadTpmQuoteInvalid,
    /// A request that must carry a DPoP proof came without one.
    DpopMissing,
    /// A DPoP proof failed a check; the reason names which (`dpop_*`, the
    /// table `agents::dpop::DPOP_INVALID_REASONS`).
    DpopInvalid(&'static str),
    /// A DPoP proof without a nonce, or with one that is not current.
    DpopNonceRequired,
    /// A DPoP proof already seen (its key and `jti`), on any node.
    DpopReplayed,
    // Task tokens (issue 18, h-exchange).
    /// A token exchange without an `actor_token` (the agent's proof).
    ExchangeActorMissing,
    /// A token exchange whose `actor_token_type` is not a JWT.
    ExchangeActorTypeUnsupported,
    /// A token exchange naming no `task_id`.
    ExchangeTaskMissing,
    /// A token exchange for a task that does not exist or is another agent's.
    ExchangeTaskUnknown,
    /// A token exchange for a task that is not active (pending, denied, ended, expired).
    ExchangeTaskNotActive,
    /// A token exchange for a task whose lifetime has passed.
    ExchangeTaskExpired,
    /// A subject token that is not live, not ours, or of the wrong type.
    ExchangeSubjectInvalid,
    /// A subject token of someone other than the task's delegator (or, autonomous, another agent).
    ExchangeSubjectNotDelegator,
    /// The task's delegator is no longer active.
    ExchangeDelegatorNotActive,
    /// A `resource` the task does not cover (RFC 8707 `invalid_target`).
    ExchangeResourceNotInTask,
    /// A `scope` value that is not one of the task's actions.
    ExchangeScopeNotInTask,
    /// A task token whose signature, `typ` or claims do not verify.
    TaskTokenInvalid,
    /// A task token past its `exp`.
    TaskTokenExpired,
    /// A task token with no row (never issued here).
    TaskTokenUnknown,
    /// A task token revoked (RFC 7009).
    TaskTokenRevoked,
    /// A DPoP-bound task token presented as a bearer token.
    TaskTokenAsBearer,
    /// A task token whose task is no longer active or has run out.
    TaskTokenTaskEnded,
    /// A task token whose agent, its owner or its delegator is no longer active.
    TaskTokenAgentNotActive,
    /// A DPoP proof signed by a key other than the one the token is bound to.
    TaskTokenKeyMismatch,
    /// A task token used at a URL outside its audience (its resources).
    TaskTokenWrongResource,
    // Agents and task credentials (issue 18).
    /// An agent's SPIFFE ID that does not parse or is outside this trust domain.
    AgentInvalidSpiffeId,
    /// An agent's key that is not a usable public JWK (private members, weak or unknown type).
    AgentInvalidKey,
    /// An agent registered with neither or both of a SPIFFE ID and a key.
    AgentProofChoice,
    /// An agent's description that is too long or not printable.
    AgentInvalidDescription,
    /// The agent's name is taken by another identity.
    AgentNameTaken,
    /// Another agent is registered with this SPIFFE ID.
    AgentSpiffeIdTaken,
    /// Another agent is registered with this key.
    AgentKeyTaken,
    /// An agent's owner who is not an active person.
    AgentOwnerNotActive,
    /// An agent proof naming no registered agent.
    AgentUnknown,
    /// An agent proof that does not verify (signature, algorithm, audience, claims).
    AgentProofInvalid,
    /// An agent proof past its expiry, not yet valid, or living too long.
    AgentProofExpired,
    /// An agent key assertion whose `jti` was used already.
    AgentProofReplayed,
    /// An agent that is disabled or removed, or whose identity is not active.
    AgentDisabled,
    /// A task's resources: none, too many, or one that is not an absolute https URI within bounds.
    TaskInvalidResource,
    /// A task's actions: none, too many, or one outside `[a-z0-9:._-]{1,64}`.
    TaskInvalidAction,
    /// A task's purpose that is too long or not printable.
    TaskInvalidPurpose,
    /// A task's lifetime outside 60 s to `--task-max-lifetime`.
    TaskInvalidLifetime,
    /// A task's delegator who is not an active person.
    TaskDelegatorNotActive,
    /// The agent has as many tasks waiting for approval as it may.
    TaskTooManyPending,
    /// Policy does not let the agent ask for this task.
    TaskNotPermitted,
    /// A task that does not exist or is not the caller's.
    TaskUnknown,
    /// A task that has already ended, been denied or expired.
    TaskNotLive,
    // Task approval on /me (issue 18).
    /// The signed-in person is neither the task's delegator nor, for a task
    /// with no delegator, its agent's owner.
    TaskNotApprover,
    /// The task is not waiting for an approval (approved, denied or ended).
    TaskNotPending,
    /// The task's approval deadline passed.
    TaskApprovalExpired,
    /// The assertion signed another challenge than this task's (a copied
    /// approval of another task).
    TaskApprovalChallengeMismatch,
    /// The approving passkey is not the approver's, or not active.
    TaskApprovalCredentialRefused,
    /// Policy wants a stronger passkey to approve this task.
    TaskApprovalTierTooLow,
    /// Policy does not let this approval happen at any tier.
    TaskApprovalForbidden,
}

impl Refusal {
    /// Every reason the service itself names (not the WebAuthn core's).
    pub const ALL: &'static [Refusal] = &[
        Refusal::AaguidDenied,
        Refusal::AaguidNotAllowed,
        Refusal::AlreadyApproved,
        Refusal::ApprovalsNoLongerStand,
        Refusal::AttestationChainTooLarge,
        Refusal::AuthenticatorModelCompromised,
        Refusal::CredentialIdTaken,
        Refusal::CredentialOfAnotherIdentity,
        Refusal::CredentialQuarantined,
        Refusal::CredentialRevoked,
        Refusal::DecoyCredential,
        Refusal::GrantUsedOrExpired,
        Refusal::IdentityActive,
        Refusal::IdentityGone,
        Refusal::IdentityNotActive,
        Refusal::IdentityNotEnrollable,
        Refusal::InvalidDisplayName,
        Refusal::InvalidName,
        Refusal::InvalidNickname,
        Refusal::InvalidTier,
        Refusal::LastAdmin,
        Refusal::MetadataBadSignature,
        Refusal::MetadataExpired,
        Refusal::MetadataMalformed,
        Refusal::MetadataNotNewer,
        Refusal::MetadataRefused,
        Refusal::MetadataUnsupportedAlgorithm,
        Refusal::MetadataUntrustedSigner,
        Refusal::NameConfusable,
        Refusal::NameMismatch,
        Refusal::NameTaken,
        Refusal::NoIdentity,
        Refusal::NoMatchingChallenge,
        Refusal::NoMdsRootConfigured,
        Refusal::NeedsOperator,
        Refusal::NotAdmin,
        Refusal::NothingToVouch,
        Refusal::OffboardSelf,
        Refusal::PublicKeyTooLarge,
        Refusal::RecoveryNotReady,
        Refusal::RoleUnchanged,
        Refusal::SelfApproval,
        Refusal::SelfVouch,
        Refusal::SessionEnded,
        Refusal::SessionNotFresh,
        Refusal::SessionTierTooLow,
        Refusal::StatusUnchanged,
        Refusal::SuspendSelf,
        Refusal::StaleCeremonyState,
        Refusal::TierBelowGrant,
        Refusal::TierBelowGroupPolicy,
        Refusal::TierBelowPolicy,
        Refusal::TooManyCredentials,
        Refusal::UnknownCredential,
        // Policy with Cedar (issue 15).
        Refusal::PolicyForbids,
        // oidc
        Refusal::OidcUnknownClient,
        Refusal::OidcRedirectUriMismatch,
        Refusal::OidcInvalidRedirectUri,
        Refusal::OidcUnsupportedResponseType,
        Refusal::OidcScopeWithoutOpenid,
        Refusal::OidcPkceRequired,
        Refusal::OidcPkceMismatch,
        Refusal::OidcClientAuthFailed,
        Refusal::OidcCodeReplayed,
        Refusal::OidcUnknownCode,
        Refusal::OidcCodeOfAnotherClient,
        Refusal::OidcRefreshReused,
        Refusal::OidcUnknownToken,
        Refusal::OidcUnsupportedGrantType,
        Refusal::OidcOversizedParameter,
        Refusal::OidcMalformedRequest,
        Refusal::OidcBadIdTokenHint,
        Refusal::OidcLogoutUriUnknown,
        Refusal::OidcAccessDenied,
        Refusal::OidcSessionEnded,
        Refusal::OidcUnsupportedAlgorithm,
        Refusal::OidcClientAssertionAlgorithm,
        Refusal::OidcClientAssertionUnknownKey,
        Refusal::OidcClientAssertionSignature,
        Refusal::OidcClientAssertionClaims,
        Refusal::OidcClientAssertionExpired,
        Refusal::OidcClientAssertionReplayed,
        Refusal::OidcInvalidClientJwks,
        // Trusted devices (issue 16).
        Refusal::DeviceBackupEligible,
        Refusal::DeviceUserNotVerified,
        Refusal::DeviceRoamingAttachment,
        Refusal::TooManyDevices,
        Refusal::InvalidDeviceLabel,
        Refusal::DeviceOfAnotherPerson,
        Refusal::DeviceDecommissioned,
        Refusal::DeviceStatusUnchanged,
        Refusal::DeviceSelfApproval,
        Refusal::PostureFactInvalid,
        Refusal::DbscProofMalformed,
        Refusal::DbscProofAlgorithm,
        Refusal::DbscProofSignature,
        Refusal::DbscChallengeInvalid,
        Refusal::DbscChallengeExpired,
        Refusal::DbscChallengeReplayed,
        Refusal::DbscSessionNotLive,
        Refusal::DbscSessionMismatch,
        Refusal::DbscAlreadyBound,
        Refusal::DbscBindTooLate,
        Refusal::WorkloadInvalidSpiffeId,
        Refusal::WorkloadForeignTrustDomain,
        Refusal::WorkloadReservedSpiffeId,
        Refusal::WorkloadNoSelectors,
        Refusal::WorkloadInvalidSelector,
        Refusal::WorkloadInvalidParent,
        Refusal::WorkloadInvalidEntryField,
        Refusal::WorkloadEntryExists,
        Refusal::WorkloadOwnerNotActive,
        Refusal::WorkloadInvalidNodeName,
        Refusal::WorkloadNodeNameTaken,
        Refusal::WorkloadJoinTokenInvalid,
        Refusal::WorkloadNodeKeyInvalid,
        Refusal::WorkloadNodeKeyTaken,
        Refusal::WorkloadNodeProofMalformed,
        Refusal::WorkloadNodeProofSignature,
        Refusal::WorkloadNodeProofWrongTarget,
        Refusal::WorkloadNodeProofStale,
        Refusal::WorkloadNodeProofReplayed,
        Refusal::WorkloadNodeDecommissioned,
        Refusal::WorkloadEntryNotForNode,
        Refusal::WorkloadSvidRateLimited,
        Refusal::WorkloadInvalidSvidKey,
        Refusal::WorkloadInvalidAudience,
        Refusal::WorkloadTooManyRequests,
        Refusal::WorkloadInvalidTrustDomain,
        Refusal::WorkloadFederationExists,
        Refusal::WorkloadInvalidBundle,
        Refusal::WorkloadTpmNotConfigured,
        Refusal::WorkloadTpmMalformed,
        Refusal::WorkloadTpmEkUntrusted,
        Refusal::WorkloadTpmAkRefused,
        Refusal::WorkloadTpmAttemptInvalid,
        Refusal::WorkloadTpmActivationFailed,
        Refusal::WorkloadTpmQuoteInvalid,
        Refusal::DpopMissing,
        Refusal::DpopNonceRequired,
        Refusal::DpopReplayed,
        Refusal::ExchangeActorMissing,
        Refusal::ExchangeActorTypeUnsupported,
        Refusal::ExchangeTaskMissing,
        Refusal::ExchangeTaskUnknown,
        Refusal::ExchangeTaskNotActive,
        Refusal::ExchangeTaskExpired,
        Refusal::ExchangeSubjectInvalid,
        Refusal::ExchangeSubjectNotDelegator,
        Refusal::ExchangeDelegatorNotActive,
        Refusal::ExchangeResourceNotInTask,
        Refusal::ExchangeScopeNotInTask,
        Refusal::TaskTokenInvalid,
        Refusal::TaskTokenExpired,
        Refusal::TaskTokenUnknown,
        Refusal::TaskTokenRevoked,
        Refusal::TaskTokenAsBearer,
        Refusal::TaskTokenTaskEnded,
        Refusal::TaskTokenAgentNotActive,
        Refusal::TaskTokenKeyMismatch,
        Refusal::TaskTokenWrongResource,
        Refusal::AgentInvalidSpiffeId,
        Refusal::AgentInvalidKey,
        Refusal::AgentProofChoice,
        Refusal::AgentInvalidDescription,
        Refusal::AgentNameTaken,
        Refusal::AgentSpiffeIdTaken,
        Refusal::AgentKeyTaken,
        Refusal::AgentOwnerNotActive,
        Refusal::AgentUnknown,
        Refusal::AgentProofInvalid,
        Refusal::AgentProofExpired,
        Refusal::AgentProofReplayed,
        Refusal::AgentDisabled,
        Refusal::TaskInvalidResource,
        Refusal::TaskInvalidAction,
        Refusal::TaskInvalidPurpose,
        Refusal::TaskInvalidLifetime,
        Refusal::TaskDelegatorNotActive,
        Refusal::TaskTooManyPending,
        Refusal::TaskNotPermitted,
        Refusal::TaskUnknown,
        Refusal::TaskNotLive,
        Refusal::TaskNotApprover,
        Refusal::TaskNotPending,
        Refusal::TaskApprovalExpired,
        Refusal::TaskApprovalChallengeMismatch,
        Refusal::TaskApprovalCredentialRefused,
        Refusal::TaskApprovalTierTooLow,
        Refusal::TaskApprovalForbidden,
    ];

    /// The stable snake_case name the audit log records.
    pub const fn reason(self) -> &'static str {
        match self {
            Refusal::Verification(reason) => reason,
            Refusal::AaguidDenied => "aaguid_denied",
            Refusal::AaguidNotAllowed => "aaguid_not_allowed",
            Refusal::AlreadyApproved => "already_approved",
            Refusal::ApprovalsNoLongerStand => "approvals_no_longer_stand",
            Refusal::AttestationChainTooLarge => "attestation_chain_too_large",
            Refusal::AuthenticatorModelCompromised => "authenticator_model_compromised",
            Refusal::CredentialIdTaken => "credential_id_taken",
            Refusal::CredentialOfAnotherIdentity => "credential_of_another_identity",
            Refusal::CredentialQuarantined => "credential_quarantined",
            Refusal::CredentialRevoked => "credential_revoked",
            Refusal::DecoyCredential => "decoy_credential",
            Refusal::GrantUsedOrExpired => "grant_used_or_expired",
            Refusal::IdentityActive => "identity_active",
            Refusal::IdentityGone => "identity_gone",
            Refusal::IdentityNotActive => "identity_not_active",
            Refusal::IdentityNotEnrollable => "identity_not_enrollable",
            Refusal::InvalidDisplayName => "invalid_display_name",
            Refusal::InvalidName => "invalid_name",
            Refusal::InvalidNickname => "invalid_nickname",
            Refusal::InvalidTier => "invalid_tier",
            Refusal::LastAdmin => "last_admin",
            Refusal::MetadataBadSignature => "metadata_bad_signature",
            Refusal::MetadataExpired => "metadata_expired",
            Refusal::MetadataMalformed => "metadata_malformed",
            Refusal::MetadataNotNewer => "metadata_not_newer",
            Refusal::MetadataRefused => "metadata_refused",
            Refusal::MetadataUnsupportedAlgorithm => "metadata_unsupported_algorithm",
            Refusal::MetadataUntrustedSigner => "metadata_untrusted_signer",
            Refusal::NameConfusable => "name_confusable",
            Refusal::NameMismatch => "name_mismatch",
            Refusal::NameTaken => "name_taken",
            Refusal::NoIdentity => "no_identity",
            Refusal::NoMatchingChallenge => "no_matching_challenge",
            Refusal::NoMdsRootConfigured => "no_mds_root_configured",
            Refusal::NeedsOperator => "needs_operator",
            Refusal::NotAdmin => "not_admin",
            Refusal::NothingToVouch => "nothing_to_vouch",
            Refusal::OffboardSelf => "offboard_self",
            Refusal::PublicKeyTooLarge => "public_key_too_large",
            Refusal::RecoveryNotReady => "recovery_not_ready",
            Refusal::RoleUnchanged => "role_unchanged",
            Refusal::SelfApproval => "self_approval",
            Refusal::SelfVouch => "self_vouch",
            Refusal::SessionEnded => "session_ended",
            Refusal::SessionNotFresh => "session_not_fresh",
            Refusal::SessionTierTooLow => "session_tier_too_low",
            Refusal::StatusUnchanged => "status_unchanged",
            Refusal::SuspendSelf => "suspend_self",
            Refusal::StaleCeremonyState => "stale_ceremony_state",
            Refusal::TierBelowGrant => "tier_below_grant",
            Refusal::TierBelowGroupPolicy => "tier_below_group_policy",
            Refusal::TierBelowPolicy => "tier_below_policy",
            Refusal::TooManyCredentials => "too_many_credentials",
            Refusal::UnknownCredential => "unknown_credential",
            // Policy with Cedar (issue 15).
            Refusal::PolicyForbids => "policy_forbids",
            // oidc
            Refusal::OidcUnknownClient => "oidc_unknown_client",
            Refusal::OidcRedirectUriMismatch => "oidc_redirect_uri_mismatch",
            Refusal::OidcInvalidRedirectUri => "oidc_invalid_redirect_uri",
            Refusal::OidcUnsupportedResponseType => "oidc_unsupported_response_type",
            Refusal::OidcScopeWithoutOpenid => "oidc_scope_without_openid",
            Refusal::OidcPkceRequired => "oidc_pkce_required",
            Refusal::OidcPkceMismatch => "oidc_pkce_mismatch",
            Refusal::OidcClientAuthFailed => "oidc_client_auth_failed",
            Refusal::OidcCodeReplayed => "oidc_code_replayed",
            Refusal::OidcUnknownCode => "oidc_unknown_code",
            Refusal::OidcCodeOfAnotherClient => "oidc_code_of_another_client",
            Refusal::OidcRefreshReused => "oidc_refresh_reused",
            Refusal::OidcUnknownToken => "oidc_unknown_token",
            Refusal::OidcUnsupportedGrantType => "oidc_unsupported_grant_type",
            Refusal::OidcOversizedParameter => "oidc_oversized_parameter",
            Refusal::OidcMalformedRequest => "oidc_malformed_request",
            Refusal::OidcBadIdTokenHint => "oidc_bad_id_token_hint",
            Refusal::OidcLogoutUriUnknown => "oidc_logout_uri_unknown",
            Refusal::OidcAccessDenied => "oidc_access_denied",
            Refusal::OidcSessionEnded => "oidc_session_ended",
            Refusal::OidcUnsupportedAlgorithm => "oidc_unsupported_algorithm",
            Refusal::OidcClientAssertionAlgorithm => "oidc_client_assertion_algorithm",
            Refusal::OidcClientAssertionUnknownKey => "oidc_client_assertion_unknown_key",
            Refusal::OidcClientAssertionSignature => "oidc_client_assertion_signature",
            Refusal::OidcClientAssertionClaims => "oidc_client_assertion_claims",
            Refusal::OidcClientAssertionExpired => "oidc_client_assertion_expired",
            Refusal::OidcClientAssertionReplayed => "oidc_client_assertion_replayed",
            Refusal::OidcInvalidClientJwks => "oidc_invalid_client_jwks",
            // Trusted devices (issue 16).
            Refusal::DeviceBackupEligible => "device_backup_eligible",
            Refusal::DeviceUserNotVerified => "device_user_not_verified",
            Refusal::DeviceRoamingAttachment => "device_roaming_attachment",
            Refusal::TooManyDevices => "too_many_devices",
            Refusal::InvalidDeviceLabel => "invalid_device_label",
            Refusal::DeviceOfAnotherPerson => "device_of_another_person",
            Refusal::DeviceDecommissioned => "device_decommissioned",
            Refusal::DeviceStatusUnchanged => "device_status_unchanged",
            Refusal::DeviceSelfApproval => "device_self_approval",
            Refusal::PostureFactInvalid => "posture_fact_invalid",
            Refusal::DbscProofMalformed => "dbsc_proof_malformed",
            Refusal::DbscProofAlgorithm => "dbsc_proof_algorithm",
            Refusal::DbscProofSignature => "dbsc_proof_signature",
            Refusal::DbscChallengeInvalid => "dbsc_challenge_invalid",
            Refusal::DbscChallengeExpired => "dbsc_challenge_expired",
            Refusal::DbscChallengeReplayed => "dbsc_challenge_replayed",
            Refusal::DbscSessionNotLive => "dbsc_session_not_live",
            Refusal::DbscSessionMismatch => "dbsc_session_mismatch",
            Refusal::DbscAlreadyBound => "dbsc_already_bound",
            Refusal::DbscBindTooLate => "dbsc_bind_too_late",
            Refusal::WorkloadInvalidSpiffeId => "workload_invalid_spiffe_id",
            Refusal::WorkloadForeignTrustDomain => "workload_foreign_trust_domain",
            Refusal::WorkloadReservedSpiffeId => "workload_reserved_spiffe_id",
            Refusal::WorkloadNoSelectors => "workload_no_selectors",
            Refusal::WorkloadInvalidSelector => "workload_invalid_selector",
            Refusal::WorkloadInvalidParent => "workload_invalid_parent",
            Refusal::WorkloadInvalidEntryField => "workload_invalid_entry_field",
            Refusal::WorkloadEntryExists => "workload_entry_exists",
            Refusal::WorkloadOwnerNotActive => "workload_owner_not_active",
            Refusal::WorkloadInvalidNodeName => "workload_invalid_node_name",
            Refusal::WorkloadNodeNameTaken => "workload_node_name_taken",
            Refusal::WorkloadJoinTokenInvalid => "workload_join_token_invalid",
            Refusal::WorkloadNodeKeyInvalid => "workload_node_key_invalid",
            Refusal::WorkloadNodeKeyTaken => "workload_node_key_taken",
            Refusal::WorkloadNodeProofMalformed => "workload_node_proof_malformed",
            Refusal::WorkloadNodeProofSignature => "workload_node_proof_signature",
            Refusal::WorkloadNodeProofWrongTarget => "workload_node_proof_wrong_target",
            Refusal::WorkloadNodeProofStale => "workload_node_proof_stale",
            Refusal::WorkloadNodeProofReplayed => "workload_node_proof_replayed",
            Refusal::WorkloadNodeDecommissioned => "workload_node_decommissioned",
            Refusal::WorkloadEntryNotForNode => "workload_entry_not_for_node",
            Refusal::WorkloadSvidRateLimited => "workload_svid_rate_limited",
            Refusal::WorkloadInvalidSvidKey => "workload_invalid_svid_key",
            Refusal::WorkloadInvalidAudience => "workload_invalid_audience",
            Refusal::WorkloadTooManyRequests => "workload_too_many_requests",
            Refusal::WorkloadInvalidTrustDomain => "workload_invalid_trust_domain",
            Refusal::WorkloadFederationExists => "workload_federation_exists",
            Refusal::WorkloadInvalidBundle => "workload_invalid_bundle",
            Refusal::WorkloadTpmNotConfigured => "workload_tpm_not_configured",
            Refusal::WorkloadTpmMalformed => "workload_tpm_malformed",
            Refusal::WorkloadTpmEkUntrusted => "workload_tpm_ek_untrusted",
            Refusal::WorkloadTpmAkRefused => "workload_tpm_ak_refused",
            Refusal::WorkloadTpmAttemptInvalid => "workload_tpm_attempt_invalid",
            Refusal::WorkloadTpmActivationFailed => "workload_tpm_activation_failed",
            Refusal::WorkloadTpmQuoteInvalid => "workload_tpm_quote_invalid",
            Refusal::DpopMissing => "dpop_missing",
            Refusal::DpopInvalid(reason) => reason,
            Refusal::DpopNonceRequired => "dpop_nonce_required",
            Refusal::DpopReplayed => "dpop_replayed",
            Refusal::ExchangeActorMissing => "exchange_actor_missing",
            Refusal::ExchangeActorTypeUnsupported => "exchange_actor_type_unsupported",
            Refusal::ExchangeTaskMissing => "exchange_task_missing",
            Refusal::ExchangeTaskUnknown => "exchange_task_unknown",
            Refusal::ExchangeTaskNotActive => "exchange_task_not_active",
            Refusal::ExchangeTaskExpired => "exchange_task_expired",
            Refusal::ExchangeSubjectInvalid => "exchange_subject_invalid",
            Refusal::ExchangeSubjectNotDelegator => "exchange_subject_not_delegator",
            Refusal::ExchangeDelegatorNotActive => "exchange_delegator_not_active",
            Refusal::ExchangeResourceNotInTask => "exchange_resource_not_in_task",
            Refusal::ExchangeScopeNotInTask => "exchange_scope_not_in_task",
            Refusal::TaskTokenInvalid => "task_token_invalid",
            Refusal::TaskTokenExpired => "task_token_expired",
            Refusal::TaskTokenUnknown => "task_token_unknown",
            Refusal::TaskTokenRevoked => "task_token_revoked",
            Refusal::TaskTokenAsBearer => "task_token_as_bearer",
            Refusal::TaskTokenTaskEnded => "task_token_task_ended",
            Refusal::TaskTokenAgentNotActive => "task_token_agent_not_active",
            Refusal::TaskTokenKeyMismatch => "task_token_key_mismatch",
            Refusal::TaskTokenWrongResource => "task_token_wrong_resource",
            Refusal::AgentInvalidSpiffeId => "agent_invalid_spiffe_id",
            Refusal::AgentInvalidKey => "agent_invalid_key",
            Refusal::AgentProofChoice => "agent_proof_choice",
            Refusal::AgentInvalidDescription => "agent_invalid_description",
            Refusal::AgentNameTaken => "agent_name_taken",
            Refusal::AgentSpiffeIdTaken => "agent_spiffe_id_taken",
            Refusal::AgentKeyTaken => "agent_key_taken",
            Refusal::AgentOwnerNotActive => "agent_owner_not_active",
            Refusal::AgentUnknown => "agent_unknown",
            Refusal::AgentProofInvalid => "agent_proof_invalid",
            Refusal::AgentProofExpired => "agent_proof_expired",
            Refusal::AgentProofReplayed => "agent_proof_replayed",
            Refusal::AgentDisabled => "agent_disabled",
            Refusal::TaskInvalidResource => "task_invalid_resource",
            Refusal::TaskInvalidAction => "task_invalid_action",
            Refusal::TaskInvalidPurpose => "task_invalid_purpose",
            Refusal::TaskInvalidLifetime => "task_invalid_lifetime",
            Refusal::TaskDelegatorNotActive => "task_delegator_not_active",
            Refusal::TaskTooManyPending => "task_too_many_pending",
            Refusal::TaskNotPermitted => "task_not_permitted",
            Refusal::TaskUnknown => "task_unknown",
            Refusal::TaskNotLive => "task_not_live",
            Refusal::TaskNotApprover => "task_not_approver",
            Refusal::TaskNotPending => "task_not_pending",
            Refusal::TaskApprovalExpired => "task_approval_expired",
            Refusal::TaskApprovalChallengeMismatch => "task_approval_challenge_mismatch",
            Refusal::TaskApprovalCredentialRefused => "task_approval_credential_refused",
            Refusal::TaskApprovalTierTooLow => "task_approval_tier_too_low",
            Refusal::TaskApprovalForbidden => "task_approval_forbidden",
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names are what the audit log and dashboards match on: one per
    /// variant, snake_case, and none shared with another variant.
    #[test]
    fn names_are_unique_and_snake_case() {
        let mut seen = std::collections::BTreeSet::new();
        for refusal in Refusal::ALL {
            let name = refusal.reason();
            assert!(
                !name.is_empty()
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{name}"
            );
            assert!(seen.insert(name), "{name} named twice");
        }
    }
}
