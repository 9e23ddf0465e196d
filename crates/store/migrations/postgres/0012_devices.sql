-- Issue 16: trusted devices. A device is an identity of kind 'device'
-- (its name, status and audit trail live in `identities` like everyone
-- else's) plus this row: who owns it, the credential that binds it, how
-- that key was proven, and whether the organisation trusts it. A session's
-- device is the device whose credential opened it (no column on sessions:
-- revoking the credential already ends them).

CREATE TABLE devices (
    identity_id        TEXT PRIMARY KEY REFERENCES identities(id),
    -- The person it belongs to; NULL: the organisation's (a shared device).
    owner_id           TEXT REFERENCES identities(id),
    label              TEXT NOT NULL,
    platform           TEXT NOT NULL DEFAULT '',
    -- 'platform' (a browser's device) or 'node' (a host, issue 17).
    attachment         TEXT NOT NULL,
    -- The credential that binds it (a credential of the owner).
    credential_id      BYTEA UNIQUE REFERENCES credentials(id),
    aaguid             TEXT NOT NULL DEFAULT '',
    -- The metadata's description of the authenticator, when attested.
    model              TEXT NOT NULL DEFAULT '',
    attestation_format TEXT NOT NULL DEFAULT 'none',
    attestation_trust  TEXT NOT NULL DEFAULT 'not_applicable',
    -- 'hardware', 'device-bound' or 'unknown'.
    key_storage        TEXT NOT NULL DEFAULT 'unknown',
    -- The authenticator's serial from enterprise attestation.
    serial             TEXT,
    -- 'trusted', 'untrusted' or 'decommissioned'.
    status             TEXT NOT NULL,
    trust_reason       TEXT NOT NULL DEFAULT '',
    created_ms         BIGINT NOT NULL,
    last_seen_ms       BIGINT,
    decommissioned_ms  BIGINT
);
CREATE INDEX devices_by_owner ON devices(owner_id);
CREATE INDEX devices_by_serial ON devices(serial);
