-- Issue 15: the OpenID Connect provider. Registered clients; the state an
-- authorization code is bound to (the code itself is taken once through
-- the single_use table, kind 'oidc_code'); and the tokens issued, by hash,
-- so a replayed code, a reused refresh token, revocation and introspection
-- can find them.

CREATE TABLE oidc_clients (
    client_id                 TEXT PRIMARY KEY,
    name                      TEXT NOT NULL,
    secret_hash               BLOB,
    is_public                 INTEGER NOT NULL,
    redirect_uris             TEXT NOT NULL,
    auth_method               TEXT NOT NULL,
    jwks                      TEXT,
    backchannel_logout_uri    TEXT,
    post_logout_redirect_uris TEXT NOT NULL,
    pairwise                  INTEGER NOT NULL,
    id_token_alg              TEXT NOT NULL,
    created_ms                INTEGER NOT NULL,
    removed_ms                INTEGER
);
-- A name is unique among the clients not removed.
CREATE UNIQUE INDEX oidc_clients_live_name ON oidc_clients (name) WHERE removed_ms IS NULL;

CREATE TABLE oidc_codes (
    code_hash      BLOB PRIMARY KEY,
    client_id      TEXT NOT NULL,
    redirect_uri   TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    nonce          TEXT,
    scope          TEXT NOT NULL,
    session_hash   BLOB NOT NULL,
    sid            TEXT NOT NULL,
    identity_id    TEXT NOT NULL,
    auth_time_ms   INTEGER NOT NULL,
    acr            TEXT NOT NULL,
    amr            TEXT NOT NULL,
    created_ms     INTEGER NOT NULL,
    expires_ms     INTEGER NOT NULL
);

CREATE TABLE oidc_tokens (
    token_hash   BLOB PRIMARY KEY,
    kind         TEXT NOT NULL,
    family_id    TEXT NOT NULL,
    code_hash    BLOB,
    session_hash BLOB NOT NULL,
    sid          TEXT NOT NULL,
    identity_id  TEXT NOT NULL,
    client_id    TEXT NOT NULL,
    scope        TEXT NOT NULL,
    created_ms   INTEGER NOT NULL,
    expires_ms   INTEGER NOT NULL,
    used_ms      INTEGER,
    revoked_ms   INTEGER
);
CREATE INDEX oidc_tokens_code ON oidc_tokens (code_hash);
CREATE INDEX oidc_tokens_family ON oidc_tokens (family_id);
CREATE INDEX oidc_tokens_session ON oidc_tokens (session_hash);
CREATE INDEX oidc_tokens_identity ON oidc_tokens (identity_id);
