-- Issue 19: the audit log as a Merkle tree (RFC 9162) with signed
-- checkpoints (C2SP tlog-checkpoint). Events stay in audit_events, their
-- hash chain unchanged; the sealer adds, in batches outside the request
-- path, the complete subtrees each new event completes (leaf i is the
-- event with seq i + 1), and a signed checkpoint of the tree's size and
-- root. The rows here make proofs cheap; they prove nothing by
-- themselves: the signature and the witnesses outside the database do.

-- A complete subtree: covers leaves [idx << level, (idx + 1) << level).
CREATE TABLE audit_tree (
    level BIGINT NOT NULL,
    idx   BIGINT NOT NULL,
    hash  BYTEA NOT NULL,
    PRIMARY KEY (level, idx)
);

-- Signed checkpoints, one per size the sealer signed.
CREATE TABLE audit_checkpoints (
    size    BIGINT PRIMARY KEY,
    root    BYTEA NOT NULL,
    time_ms BIGINT NOT NULL,
    -- The signing key's hash (the signed note's key id, hex).
    key_id  TEXT NOT NULL,
    -- The signed note as published.
    note    TEXT NOT NULL
);
CREATE INDEX audit_checkpoints_time ON audit_checkpoints (time_ms);

-- The log's Ed25519 signing keys. The private key is sealed (AES-256-GCM)
-- under the operator's key-encryption key, so the database does not hold
-- it in clear.
CREATE TABLE audit_keys (
    key_id         TEXT PRIMARY KEY,
    origin         TEXT NOT NULL,
    public_key     BYTEA NOT NULL,
    sealed_private BYTEA NOT NULL,
    created_ms     BIGINT NOT NULL,
    retired_ms     BIGINT
);

-- Work one node at a time does for the whole deployment (the sealer),
-- held by a lease that any node takes over once it expires.
CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_ms BIGINT NOT NULL
);
