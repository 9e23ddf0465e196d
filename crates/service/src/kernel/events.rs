//! What an audit event records happened: one table of stable names, as
//! [`crate::Refusal`] is for why something was refused. The names are the
//! `kind` field of the sealed event, so they never change once released;
//! prefixes group them (`admin.`, `offboard.`, `recovery.`) for the
//! console's filter. Alerts (`alert.<detector>`) are named by their
//! detector and built in `alerts.rs`.

use std::fmt;

/// The kind of an audit event the service writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// `admin.approve_role`
    AdminApproveRole,
    /// `admin.clear_credential`
    AdminClearCredential,
    /// `admin.console`
    AdminConsole,
    /// `admin.deny_role`
    AdminDenyRole,
    /// `admin.grant_role`
    AdminGrantRole,
    /// `admin.invite`
    AdminInvite,
    /// `admin.mds_import`
    AdminMdsImport,
    /// `admin.offboard`
    AdminOffboard,
    /// `admin.propose_role`
    AdminProposeRole,
    /// `admin.revoke_credential`
    AdminRevokeCredential,
    /// `admin.revoke_role`
    AdminRevokeRole,
    /// `admin.suspend`
    AdminSuspend,
    /// `admin.void_invitation`
    AdminVoidInvitation,
    /// `admin.void_role_proposal`
    AdminVoidRoleProposal,
    /// `admin.resume`
    AdminResume,
    /// `admin.vouch_credential`
    AdminVouchCredential,
    /// `audit.view`
    AuditView,
    /// `authentication`
    Authentication,
    /// `credential.rename`
    CredentialRename,
    /// `credential.revoke`
    CredentialRevoke,
    /// `metadata.retier`
    MetadataRetier,
    /// `metadata.suspend`
    MetadataSuspend,
    /// `offboard.end_session`
    OffboardEndSession,
    /// `offboard.revoke_credential`
    OffboardRevokeCredential,
    /// `offboard.void_grant`
    OffboardVoidGrant,
    /// `offboard.void_issued_grant`
    OffboardVoidIssuedGrant,
    /// `offboard.void_recovery`
    OffboardVoidRecovery,
    /// `offboard.void_role_proposal`
    OffboardVoidRoleProposal,
    /// `policy.retier`
    PolicyRetier,
    /// `rate_limited`
    RateLimited,
    /// `recovery.approve`
    RecoveryApprove,
    /// `recovery.deny`
    RecoveryDeny,
    /// `recovery.end_session`
    RecoveryEndSession,
    /// `recovery.issue`
    RecoveryIssue,
    /// `recovery.objection`
    RecoveryObjection,
    /// `recovery.request`
    RecoveryRequest,
    /// `recovery.revoke_credential`
    RecoveryRevokeCredential,
    /// `registration`
    Registration,
    /// `registration.options`
    RegistrationOptions,
    /// `server.start`
    ServerStart,
    /// `session.end`
    SessionEnd,
    /// `sign_out`
    SignOut,
    // --- Issue 16: device-bound sessions.
    /// `dbsc.register`: a session was bound to a browser's key.
    DbscRegister,
    /// `dbsc.refused`: a DBSC registration or refresh was refused.
    DbscRefused,
    // --- Issue 15, keys: key custody and back-channel logout delivery.
    /// `signing_key.prepared`: a new key is published, not yet signing.
    SigningKeyPrepared,
    /// `signing_key.activated`: a key starts signing.
    SigningKeyActivated,
    /// `signing_key.retired`: a key stops signing (still published).
    SigningKeyRetired,
    /// `signing_key.removed`: a retired key is unpublished and destroyed.
    SigningKeyRemoved,
    /// `backchannel_logout.failed`: a logout token could not be delivered.
    BackchannelLogoutFailed,
    // Policy with Cedar (issue 15).
    /// `policy.load`: a policy set took effect (at start or on reload), or
    /// a reload was refused.
    PolicyLoad,
    /// `access.denied`: the authorization seam denied a request
    /// (rate-limited per principal, resource and action).
    AccessDenied,
    // oidc: the OpenID Connect provider (issue 15).
    /// `oidc.client_add`
    OidcClientAdd,
    /// `oidc.client_remove`
    OidcClientRemove,
    /// `oidc.authorize`
    OidcAuthorize,
    /// `oidc.token`
    OidcToken,
    /// `oidc.refresh`
    OidcRefresh,
    /// `oidc.code_replay`
    OidcCodeReplay,
    /// `oidc.refresh_reuse`
    OidcRefreshReuse,
    /// `oidc.revoke`
    OidcRevoke,
    /// `oidc.introspect`
    OidcIntrospect,
    /// `oidc.userinfo`
    OidcUserinfo,
    /// `oidc.logout`
    OidcLogout,
    // Trusted devices (issue 16).
    /// `device.enrol`: a person enrolled the device they use.
    DeviceEnrol,
    /// `device.trust`: an administrator or operator trusts a device.
    DeviceTrust,
    /// `device.untrust`: a device's trust was withdrawn.
    DeviceUntrust,
    /// `device.rename`: a device's label changed.
    DeviceRename,
    /// `device.decommission`: a device was decommissioned (lost, retired,
    /// its owner offboarded, its credential revoked).
    DeviceDecommission,
    /// `device.returned`: alert, a decommissioned device was used again.
    DeviceReturned,
    // Devices: posture (issue 16, h-posture).
    /// `device.import`: an inventory import (counts in the details).
    DeviceImport,
    /// `device.posture`: a device's posture facts changed (import, client
    /// hints at a proof, an administrator).
    DevicePosture,
    /// `device.hint_conflict`: client hints contradicted the attested
    /// platform; they were not used.
    DeviceHintConflict,
    // Workload identity (issue 17).
    /// `workload.entry.add`: a registration entry was added.
    WorkloadEntryAdd,
    /// `workload.entry.remove`: a registration entry was removed (by an administrator, or its owner's offboarding); its SVIDs revoked.
    WorkloadEntryRemove,
    /// `workload.token.create`: a join token was created for a node to be.
    WorkloadTokenCreate,
    /// `workload.node.attest`: a node attested (join token, TPM) and its key was bound.
    WorkloadNodeAttest,
    /// `workload.node.refused`: a node's attestation or call was refused, or part of its request was left out.
    WorkloadNodeRefused,
    /// `workload.node.decommission`: a node was decommissioned; its SVIDs revoked.
    WorkloadNodeDecommission,
    /// `workload.svid.issue`: SVIDs issued to a node, one event per sync (counts in the reason).
    WorkloadSvidIssue,
    /// `workload.ca.prepare`: the next X.509 authority was made and published in the bundle.
    WorkloadCaPrepare,
    /// `workload.ca.activate`: the prepared X.509 authority now signs.
    WorkloadCaActivate,
    /// `workload.ca.retire`: an X.509 authority left the bundle.
    WorkloadCaRetire,
    /// `workload.federation.add`: a federated trust domain was added.
    WorkloadFederationAdd,
    /// `workload.federation.remove`: a federated trust domain was removed.
    WorkloadFederationRemove,
    // Agents and task credentials (issue 18).
    /// `agent.add`: an agent was registered (its owner, how it proves itself).
    AgentAdd,
    /// `agent.remove`: an agent was removed; its tasks ended.
    AgentRemove,
    /// `agent.disable`: an agent was disabled (its owner offboarded); its tasks ended.
    AgentDisable,
    /// `task.request`: an agent asked for a task (pending approval, or active when policy needs none).
    TaskRequest,
    /// `task.approve`: a person approved a task with a passkey (the approval's tier and credential in details).
    TaskApprove,
    /// `task.deny`: a person denied a task.
    TaskDeny,
    /// `task.expire`: a task's approval deadline or lifetime passed.
    TaskExpire,
    /// `task.end`: a task was ended (by its agent, its person, an administrator, an offboarding or a removal).
    TaskEnd,
    /// `task.token`: a task token was issued by token exchange (RFC 8693), bound to the agent's key.
    TaskToken,
    /// `task.use`: requests made with a task's tokens through forward-auth, aggregated (count in details).
    TaskUse,
    /// `audit.tamper`: the sealer found the stored tree or events no longer matching what it signed (severity high; sealing stops).
    AuditTamper,
}

impl EventKind {
    /// Every kind, for tests and documentation.
    pub const ALL: &'static [EventKind] = &[
        EventKind::AdminApproveRole,
        EventKind::AdminClearCredential,
        EventKind::AdminConsole,
        EventKind::AdminDenyRole,
        EventKind::AdminGrantRole,
        EventKind::AdminInvite,
        EventKind::AdminMdsImport,
        EventKind::AdminOffboard,
        EventKind::AdminProposeRole,
        EventKind::AdminRevokeCredential,
        EventKind::AdminRevokeRole,
        EventKind::AdminSuspend,
        EventKind::AdminVoidInvitation,
        EventKind::AdminVoidRoleProposal,
        EventKind::AdminResume,
        EventKind::AdminVouchCredential,
        EventKind::AuditView,
        EventKind::Authentication,
        EventKind::CredentialRename,
        EventKind::CredentialRevoke,
        EventKind::MetadataRetier,
        EventKind::MetadataSuspend,
        EventKind::OffboardEndSession,
        EventKind::OffboardRevokeCredential,
        EventKind::OffboardVoidGrant,
        EventKind::OffboardVoidIssuedGrant,
        EventKind::OffboardVoidRecovery,
        EventKind::OffboardVoidRoleProposal,
        EventKind::PolicyRetier,
        EventKind::RateLimited,
        EventKind::RecoveryApprove,
        EventKind::RecoveryDeny,
        EventKind::RecoveryEndSession,
        EventKind::RecoveryIssue,
        EventKind::RecoveryObjection,
        EventKind::RecoveryRequest,
        EventKind::RecoveryRevokeCredential,
        EventKind::Registration,
        EventKind::RegistrationOptions,
        EventKind::ServerStart,
        EventKind::SessionEnd,
        EventKind::SignOut,
        EventKind::DbscRegister,
        EventKind::DbscRefused,
        // Issue 15, keys.
        EventKind::SigningKeyPrepared,
        EventKind::SigningKeyActivated,
        EventKind::SigningKeyRetired,
        EventKind::SigningKeyRemoved,
        EventKind::BackchannelLogoutFailed,
        // Policy with Cedar (issue 15).
        EventKind::PolicyLoad,
        EventKind::AccessDenied,
        // oidc
        EventKind::OidcClientAdd,
        EventKind::OidcClientRemove,
        EventKind::OidcAuthorize,
        EventKind::OidcToken,
        EventKind::OidcRefresh,
        EventKind::OidcCodeReplay,
        EventKind::OidcRefreshReuse,
        EventKind::OidcRevoke,
        EventKind::OidcIntrospect,
        EventKind::OidcUserinfo,
        EventKind::OidcLogout,
        // Trusted devices (issue 16).
        EventKind::DeviceEnrol,
        EventKind::DeviceTrust,
        EventKind::DeviceUntrust,
        EventKind::DeviceRename,
        EventKind::DeviceDecommission,
        EventKind::DeviceReturned,
        // Devices: posture.
        EventKind::DeviceImport,
        EventKind::DevicePosture,
        EventKind::DeviceHintConflict,
        // Workload identity (issue 17).
        EventKind::WorkloadEntryAdd,
        EventKind::WorkloadEntryRemove,
        EventKind::WorkloadTokenCreate,
        EventKind::WorkloadNodeAttest,
        EventKind::WorkloadNodeRefused,
        EventKind::WorkloadNodeDecommission,
        EventKind::WorkloadSvidIssue,
        EventKind::WorkloadCaPrepare,
        EventKind::WorkloadCaActivate,
        EventKind::WorkloadCaRetire,
        EventKind::WorkloadFederationAdd,
        EventKind::WorkloadFederationRemove,
        // Agents and task credentials (issue 18).
        EventKind::AgentAdd,
        EventKind::AgentRemove,
        EventKind::AgentDisable,
        EventKind::TaskRequest,
        EventKind::TaskApprove,
        EventKind::TaskDeny,
        EventKind::TaskExpire,
        EventKind::TaskEnd,
        EventKind::TaskToken,
        EventKind::TaskUse,
        EventKind::AuditTamper,
    ];

    /// The stable name the audit log records.
    pub const fn as_str(self) -> &'static str {
        match self {
            EventKind::AdminApproveRole => "admin.approve_role",
            EventKind::AdminClearCredential => "admin.clear_credential",
            EventKind::AdminConsole => "admin.console",
            EventKind::AdminDenyRole => "admin.deny_role",
            EventKind::AdminGrantRole => "admin.grant_role",
            EventKind::AdminInvite => "admin.invite",
            EventKind::AdminMdsImport => "admin.mds_import",
            EventKind::AdminOffboard => "admin.offboard",
            EventKind::AdminProposeRole => "admin.propose_role",
            EventKind::AdminRevokeCredential => "admin.revoke_credential",
            EventKind::AdminRevokeRole => "admin.revoke_role",
            EventKind::AdminSuspend => "admin.suspend",
            EventKind::AdminVoidInvitation => "admin.void_invitation",
            EventKind::AdminVoidRoleProposal => "admin.void_role_proposal",
            EventKind::AdminResume => "admin.resume",
            EventKind::AdminVouchCredential => "admin.vouch_credential",
            EventKind::AuditView => "audit.view",
            EventKind::Authentication => "authentication",
            EventKind::CredentialRename => "credential.rename",
            EventKind::CredentialRevoke => "credential.revoke",
            EventKind::MetadataRetier => "metadata.retier",
            EventKind::MetadataSuspend => "metadata.suspend",
            EventKind::OffboardEndSession => "offboard.end_session",
            EventKind::OffboardRevokeCredential => "offboard.revoke_credential",
            EventKind::OffboardVoidGrant => "offboard.void_grant",
            EventKind::OffboardVoidIssuedGrant => "offboard.void_issued_grant",
            EventKind::OffboardVoidRecovery => "offboard.void_recovery",
            EventKind::OffboardVoidRoleProposal => "offboard.void_role_proposal",
            EventKind::PolicyRetier => "policy.retier",
            EventKind::RateLimited => "rate_limited",
            EventKind::RecoveryApprove => "recovery.approve",
            EventKind::RecoveryDeny => "recovery.deny",
            EventKind::RecoveryEndSession => "recovery.end_session",
            EventKind::RecoveryIssue => "recovery.issue",
            EventKind::RecoveryObjection => "recovery.objection",
            EventKind::RecoveryRequest => "recovery.request",
            EventKind::RecoveryRevokeCredential => "recovery.revoke_credential",
            EventKind::Registration => "registration",
            EventKind::RegistrationOptions => "registration.options",
            EventKind::ServerStart => "server.start",
            EventKind::SessionEnd => "session.end",
            EventKind::SignOut => "sign_out",
            EventKind::DbscRegister => "dbsc.register",
            EventKind::DbscRefused => "dbsc.refused",
            // Issue 15, keys.
            EventKind::SigningKeyPrepared => "signing_key.prepared",
            EventKind::SigningKeyActivated => "signing_key.activated",
            EventKind::SigningKeyRetired => "signing_key.retired",
            EventKind::SigningKeyRemoved => "signing_key.removed",
            EventKind::BackchannelLogoutFailed => "backchannel_logout.failed",
            // Policy with Cedar (issue 15).
            EventKind::PolicyLoad => "policy.load",
            EventKind::AccessDenied => "access.denied",
            // oidc
            EventKind::OidcClientAdd => "oidc.client_add",
            EventKind::OidcClientRemove => "oidc.client_remove",
            EventKind::OidcAuthorize => "oidc.authorize",
            EventKind::OidcToken => "oidc.token",
            EventKind::OidcRefresh => "oidc.refresh",
            EventKind::OidcCodeReplay => "oidc.code_replay",
            EventKind::OidcRefreshReuse => "oidc.refresh_reuse",
            EventKind::OidcRevoke => "oidc.revoke",
            EventKind::OidcIntrospect => "oidc.introspect",
            EventKind::OidcUserinfo => "oidc.userinfo",
            EventKind::OidcLogout => "oidc.logout",
            // Trusted devices (issue 16).
            EventKind::DeviceEnrol => "device.enrol",
            EventKind::DeviceTrust => "device.trust",
            EventKind::DeviceUntrust => "device.untrust",
            EventKind::DeviceRename => "device.rename",
            EventKind::DeviceDecommission => "device.decommission",
            EventKind::DeviceReturned => "device.returned",
            EventKind::DeviceImport => "device.import",
            EventKind::DevicePosture => "device.posture",
            EventKind::DeviceHintConflict => "device.hint_conflict",
            EventKind::WorkloadEntryAdd => "workload.entry.add",
            EventKind::WorkloadEntryRemove => "workload.entry.remove",
            EventKind::WorkloadTokenCreate => "workload.token.create",
            EventKind::WorkloadNodeAttest => "workload.node.attest",
            EventKind::WorkloadNodeRefused => "workload.node.refused",
            EventKind::WorkloadNodeDecommission => "workload.node.decommission",
            EventKind::WorkloadSvidIssue => "workload.svid.issue",
            EventKind::WorkloadCaPrepare => "workload.ca.prepare",
            EventKind::WorkloadCaActivate => "workload.ca.activate",
            EventKind::WorkloadCaRetire => "workload.ca.retire",
            EventKind::WorkloadFederationAdd => "workload.federation.add",
            EventKind::WorkloadFederationRemove => "workload.federation.remove",
            EventKind::AgentAdd => "agent.add",
            EventKind::AgentRemove => "agent.remove",
            EventKind::AgentDisable => "agent.disable",
            EventKind::TaskRequest => "task.request",
            EventKind::TaskApprove => "task.approve",
            EventKind::TaskDeny => "task.deny",
            EventKind::TaskExpire => "task.expire",
            EventKind::TaskEnd => "task.end",
            EventKind::TaskToken => "task.token",
            EventKind::TaskUse => "task.use",
            EventKind::AuditTamper => "audit.tamper",
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_lowercase_and_dotted_at_most_once() {
        let mut seen = std::collections::BTreeSet::new();
        for kind in EventKind::ALL {
            let name = kind.as_str();
            // Workload events name area, object and verb (issue 17's
            // agreed names: `workload.entry.add`); every other kind one dot.
            let dots = if name.starts_with("workload.") { 2 } else { 1 };
            assert!(name.matches('.').count() <= dots, "{name}");
            assert!(
                name.bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'_' || b == b'.'),
                "{name}"
            );
            assert!(seen.insert(name), "{name} twice");
        }
    }
}
