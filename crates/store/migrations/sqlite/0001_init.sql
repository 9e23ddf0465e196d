-- keybound schema, SQLite flavour. Times are milliseconds since the Unix epoch;
-- transports are a JSON array of strings.

CREATE TABLE identities (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL DEFAULT 'person',
    status      TEXT NOT NULL,
    is_admin    INTEGER NOT NULL DEFAULT 0,
    user_handle BLOB NOT NULL UNIQUE,
    created_ms  INTEGER NOT NULL
);

CREATE TABLE credentials (
    id                 BLOB PRIMARY KEY,
    identity_id        TEXT NOT NULL REFERENCES identities(id),
    public_key         BLOB NOT NULL,
    alg                INTEGER NOT NULL,
    sign_count         INTEGER NOT NULL,
    aaguid             TEXT NOT NULL,
    attestation_format TEXT NOT NULL,
    attestation_type   TEXT NOT NULL,
    attestation_trust  TEXT NOT NULL,
    transports         TEXT NOT NULL DEFAULT '[]',
    backup_eligible    INTEGER NOT NULL,
    backup_state       INTEGER NOT NULL,
    user_verified      INTEGER NOT NULL,
    nickname           TEXT,
    created_ms         INTEGER NOT NULL,
    last_used_ms       INTEGER,
    status             TEXT NOT NULL DEFAULT 'active',
    revoked_reason     TEXT
);
CREATE INDEX credentials_by_identity ON credentials(identity_id);

CREATE TABLE audit_events (
    seq           INTEGER PRIMARY KEY,
    time_ms       INTEGER NOT NULL,
    kind          TEXT NOT NULL,
    actor         TEXT,
    subject       TEXT,
    credential_id TEXT,
    aaguid        TEXT,
    attestation   TEXT,
    user_verified INTEGER,
    sign_count    INTEGER,
    origin        TEXT,
    ip            TEXT,
    user_agent    TEXT,
    outcome       TEXT,
    reason        TEXT,
    prev_hash     TEXT NOT NULL,
    hash          TEXT NOT NULL
);

-- A ceremony's server-side state: single use, expiring, bound to the browser
-- session (by the hash of its cookie) that asked for the options.
CREATE TABLE challenges (
    challenge_hash BLOB PRIMARY KEY,
    session_hash   BLOB NOT NULL,
    ceremony       TEXT NOT NULL,
    payload        TEXT NOT NULL,
    expires_ms     INTEGER NOT NULL,
    used           INTEGER NOT NULL DEFAULT 0
);

-- Single-use enrolment grants (invitations, additional credentials, recovery).
-- Only the token's hash is stored.
CREATE TABLE grants (
    token_hash  BLOB PRIMARY KEY,
    kind        TEXT NOT NULL,
    identity_id TEXT NOT NULL REFERENCES identities(id),
    issued_by   TEXT NOT NULL,
    min_tier    INTEGER NOT NULL DEFAULT 1,
    created_ms  INTEGER NOT NULL,
    expires_ms  INTEGER NOT NULL,
    used_ms     INTEGER
);

-- Signed-in sessions; only the cookie's hash is stored.
CREATE TABLE sessions (
    id_hash       BLOB PRIMARY KEY,
    identity_id   TEXT NOT NULL REFERENCES identities(id),
    credential_id BLOB NOT NULL REFERENCES credentials(id),
    user_verified INTEGER NOT NULL,
    tier          INTEGER NOT NULL DEFAULT 1,
    created_ms    INTEGER NOT NULL,
    expires_ms    INTEGER NOT NULL,
    ended_ms      INTEGER
);
CREATE INDEX sessions_by_credential ON sessions(credential_id);

-- Server-wide secrets generated on first start (e.g. the key that makes
-- unknown names' sign-in options look like real ones).
CREATE TABLE secrets (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
