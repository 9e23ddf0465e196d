-- Issue 16: Device Bound Session Credentials. A signed-in session the
-- browser bound to a key it holds (W3C DBSC): the public key it proved at
-- registration, and how it has refreshed since. Once a session has a row
-- here, its cookie alone no longer admits: the short-lived bound cookie,
-- renewed only by proving the key, must come with it. Purging the session
-- purges its binding.

CREATE TABLE dbsc_sessions (
    -- The session_identifier the browser names it by (random, not secret).
    id               TEXT PRIMARY KEY,
    -- The session it binds (the session cookie's SHA-256): one binding each.
    session_hash     BYTEA NOT NULL UNIQUE REFERENCES sessions(id_hash) ON DELETE CASCADE,
    identity_id      TEXT NOT NULL REFERENCES identities(id),
    -- The session key: a public JWK (JSON) and its RFC 7638 thumbprint.
    public_key       TEXT NOT NULL,
    thumbprint       TEXT NOT NULL,
    created_ms       BIGINT NOT NULL,
    last_refresh_ms  BIGINT,
    refresh_count    BIGINT NOT NULL DEFAULT 0,
    ended_ms         BIGINT
);
CREATE INDEX dbsc_sessions_by_identity ON dbsc_sessions(identity_id);
