-- keybound schema, PostgreSQL flavour: the same tables and columns as the
-- SQLite migrations 0001-0005 reach, in PostgreSQL types. Times are
-- milliseconds since the Unix epoch; transports and attestation chains are
-- JSON arrays kept as text (the store reads them whole).

CREATE TABLE identities (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL DEFAULT 'person',
    status      TEXT NOT NULL,
    is_admin    BOOLEAN NOT NULL DEFAULT FALSE,
    user_handle BYTEA NOT NULL UNIQUE,
    created_ms  BIGINT NOT NULL
);

CREATE TABLE credentials (
    id                 BYTEA PRIMARY KEY,
    identity_id        TEXT NOT NULL REFERENCES identities(id),
    public_key         BYTEA NOT NULL,
    alg                BIGINT NOT NULL,
    sign_count         BIGINT NOT NULL,
    aaguid             TEXT NOT NULL,
    attestation_format TEXT NOT NULL,
    attestation_type   TEXT NOT NULL,
    attestation_trust  TEXT NOT NULL,
    transports         TEXT NOT NULL DEFAULT '[]',
    backup_eligible    BOOLEAN NOT NULL,
    backup_state       BOOLEAN NOT NULL,
    user_verified      BOOLEAN NOT NULL,
    nickname           TEXT,
    created_ms         BIGINT NOT NULL,
    last_used_ms       BIGINT,
    -- active, quarantined (a suspected clone), revoked
    status             TEXT NOT NULL DEFAULT 'active',
    revoked_reason     TEXT,
    -- 1 synced passkey, 2 device-bound with UV, 3 certified hardware
    tier               BIGINT NOT NULL DEFAULT 1,
    tier_reasons       TEXT NOT NULL DEFAULT '',
    attestation_chain  TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX credentials_by_identity ON credentials(identity_id);

CREATE TABLE audit_events (
    seq           BIGINT PRIMARY KEY,
    time_ms       BIGINT NOT NULL,
    kind          TEXT NOT NULL,
    actor         TEXT,
    subject       TEXT,
    credential_id TEXT,
    aaguid        TEXT,
    attestation   TEXT,
    user_verified BOOLEAN,
    sign_count    BIGINT,
    origin        TEXT,
    ip            TEXT,
    user_agent    TEXT,
    outcome       TEXT,
    reason        TEXT,
    prev_hash     TEXT NOT NULL,
    hash          TEXT NOT NULL,
    severity      TEXT
);

CREATE TABLE challenges (
    challenge_hash BYTEA PRIMARY KEY,
    session_hash   BYTEA NOT NULL,
    ceremony       TEXT NOT NULL,
    payload        TEXT NOT NULL,
    expires_ms     BIGINT NOT NULL,
    used           BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE grants (
    token_hash  BYTEA PRIMARY KEY,
    kind        TEXT NOT NULL,
    identity_id TEXT NOT NULL REFERENCES identities(id),
    issued_by   TEXT NOT NULL,
    min_tier    BIGINT NOT NULL DEFAULT 1,
    created_ms  BIGINT NOT NULL,
    expires_ms  BIGINT NOT NULL,
    used_ms     BIGINT
);

CREATE TABLE sessions (
    id_hash       BYTEA PRIMARY KEY,
    identity_id   TEXT NOT NULL REFERENCES identities(id),
    credential_id BYTEA NOT NULL REFERENCES credentials(id),
    user_verified BOOLEAN NOT NULL,
    tier          BIGINT NOT NULL DEFAULT 1,
    created_ms    BIGINT NOT NULL,
    expires_ms    BIGINT NOT NULL,
    ended_ms      BIGINT
);
CREATE INDEX sessions_by_credential ON sessions(credential_id);
CREATE INDEX sessions_by_identity ON sessions(identity_id);
CREATE INDEX grants_by_identity ON grants(identity_id);

CREATE TABLE secrets (
    name  TEXT PRIMARY KEY,
    value BYTEA NOT NULL
);

CREATE TABLE metadata_blobs (
    no          BIGINT PRIMARY KEY,
    next_update TEXT NOT NULL,
    jwt         BYTEA NOT NULL,
    imported_ms BIGINT NOT NULL
);

CREATE TABLE recoveries (
    id           TEXT PRIMARY KEY,
    identity_id  TEXT NOT NULL REFERENCES identities(id),
    requested_ms BIGINT NOT NULL,
    expires_ms   BIGINT NOT NULL,
    ready_ms     BIGINT,
    -- pending, issued, denied, voided
    status       TEXT NOT NULL,
    revoke_old   BOOLEAN NOT NULL DEFAULT TRUE
);
CREATE INDEX recoveries_by_identity ON recoveries(identity_id);

CREATE TABLE recovery_approvals (
    recovery_id TEXT NOT NULL REFERENCES recoveries(id),
    approver_id TEXT NOT NULL REFERENCES identities(id),
    approved_ms BIGINT NOT NULL,
    PRIMARY KEY (recovery_id, approver_id)
);
