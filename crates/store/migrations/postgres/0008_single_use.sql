-- Issue 13: single-use values that carry no state of their own (OIDC
-- codes, DPoP proof ids, join tokens) share one table. (Identities have
-- had their kind column, 'person' so far, since 0001.)

CREATE TABLE single_use (
    token_hash BYTEA NOT NULL,
    kind       TEXT NOT NULL,
    expires_ms BIGINT NOT NULL,
    used_ms    BIGINT,
    PRIMARY KEY (kind, token_hash)
);
CREATE INDEX single_use_expiry ON single_use (expires_ms);
