-- Issue 15: key custody with rotation. Several keys per purpose and
-- algorithm, each named by its RFC 7638 thumbprint: prepared (published,
-- not signing), active (signing; one per purpose and algorithm), retired
-- (published until every token it signed has expired, then removed).
-- The private key is PKCS#8, like the other deployment secrets.

CREATE TABLE signing_keys (
    kid          TEXT PRIMARY KEY,
    purpose      TEXT NOT NULL,
    alg          TEXT NOT NULL,
    private_key  BLOB NOT NULL,
    public_jwk   TEXT NOT NULL,
    created_ms   INTEGER NOT NULL,
    activated_ms INTEGER,
    retired_ms   INTEGER
);
-- At most one prepared and one active key per purpose and algorithm, so
-- two nodes rotating at once cannot both add one.
CREATE UNIQUE INDEX signing_keys_one_prepared ON signing_keys (purpose, alg)
    WHERE activated_ms IS NULL;
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (purpose, alg)
    WHERE activated_ms IS NOT NULL AND retired_ms IS NULL;

-- Back-channel logout deliveries waiting to be sent (OIDC Back-Channel
-- Logout 1.0): the signed logout token and where it goes, retried with
-- backoff a bounded number of times.
CREATE TABLE logout_outbox (
    id              TEXT PRIMARY KEY,
    client_id       TEXT NOT NULL,
    url             TEXT NOT NULL,
    body            TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms INTEGER NOT NULL,
    last_error      TEXT,
    created_ms      INTEGER NOT NULL
);
CREATE INDEX logout_outbox_due ON logout_outbox (next_attempt_ms);
