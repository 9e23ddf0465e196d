-- Issue 17: workload identity. Registration entries, attested nodes, the
-- X.509 authorities of the workload CA (keys sealed under the operator's
-- key), the SVIDs they issued (for the CRL), federated trust domains, and
-- the terms of join tokens (the token itself is a `single_use` row).

CREATE TABLE workload_entries (
    id             TEXT PRIMARY KEY,
    spiffe_id      TEXT NOT NULL,
    -- A node's name, or 'set:<label>' for every node carrying the label.
    parent         TEXT NOT NULL,
    -- JSON array of 'type:value' strings, sorted, no duplicates.
    selectors      TEXT NOT NULL,
    x509_ttl_s     INTEGER NOT NULL,
    jwt_ttl_s      INTEGER NOT NULL,
    dns_names      TEXT NOT NULL DEFAULT '[]',
    hint           TEXT NOT NULL DEFAULT '',
    federates_with TEXT NOT NULL DEFAULT '[]',
    -- The person (or team) answerable for it: offboarding reaches it.
    owner_id       TEXT NOT NULL REFERENCES identities(id),
    revision       INTEGER NOT NULL,
    created_ms     INTEGER NOT NULL,
    updated_ms     INTEGER NOT NULL
);
CREATE UNIQUE INDEX workload_entries_unique ON workload_entries(spiffe_id, parent, selectors);
CREATE INDEX workload_entries_by_parent ON workload_entries(parent);
CREATE INDEX workload_entries_by_owner ON workload_entries(owner_id);

CREATE TABLE workload_nodes (
    name              TEXT PRIMARY KEY,
    spiffe_id         TEXT NOT NULL UNIQUE,
    -- 'join_token', 'tpm' or 'local'.
    attestation       TEXT NOT NULL,
    -- RFC 7638 thumbprint of the node key, and the public JWK itself.
    key_thumbprint    TEXT NOT NULL UNIQUE,
    key_jwk           TEXT NOT NULL,
    -- TPM attestation (h-tpm): SHA-256 of the EK public area, AK public.
    tpm_ek_hash       BLOB,
    tpm_ak_public     BLOB,
    -- The device identity of a TPM-attested node.
    device_id         TEXT REFERENCES identities(id),
    -- 'active' or 'decommissioned'.
    status            TEXT NOT NULL,
    -- JSON array of node set labels.
    sets              TEXT NOT NULL DEFAULT '[]',
    attested_ms       INTEGER NOT NULL,
    last_seen_ms      INTEGER,
    decommissioned_ms INTEGER
);
CREATE UNIQUE INDEX workload_nodes_ek ON workload_nodes(tpm_ek_hash);

-- What a join token, spent once through `single_use`, makes its node.
CREATE TABLE workload_join_tokens (
    token_hash  BLOB PRIMARY KEY,
    node_name   TEXT NOT NULL,
    sets        TEXT NOT NULL DEFAULT '[]',
    created_by  TEXT NOT NULL,
    created_ms  INTEGER NOT NULL,
    expires_ms  INTEGER NOT NULL
);
CREATE INDEX workload_join_tokens_expiry ON workload_join_tokens(expires_ms);

CREATE TABLE workload_authorities (
    id            TEXT PRIMARY KEY,
    trust_domain  TEXT NOT NULL,
    -- 'prepared' (in the bundle, not signing), 'active', 'superseded' (in the
    -- bundle until its SVIDs expire, not signing), 'retired' (out of it).
    state         TEXT NOT NULL,
    cert_der      BLOB NOT NULL,
    -- DER certificates above it up to the organisation's root, concatenated
    -- as a JSON array of base64url (empty for a self-signed root).
    upstream      TEXT NOT NULL DEFAULT '[]',
    -- PKCS#8, sealed with AES-256-GCM under the operator's key.
    key_sealed    BLOB NOT NULL,
    not_before_ms INTEGER NOT NULL,
    not_after_ms  INTEGER NOT NULL,
    sequence      INTEGER NOT NULL,
    created_ms    INTEGER NOT NULL,
    activated_ms  INTEGER,
    retired_ms    INTEGER
);
CREATE UNIQUE INDEX workload_authorities_one_active
    ON workload_authorities(trust_domain) WHERE state = 'active';
CREATE UNIQUE INDEX workload_authorities_one_prepared
    ON workload_authorities(trust_domain) WHERE state = 'prepared';

-- This trust domain's bundle sequence: bumped at every change of it.
CREATE TABLE workload_bundles (
    trust_domain TEXT PRIMARY KEY,
    sequence     INTEGER NOT NULL,
    updated_ms   INTEGER NOT NULL
);

CREATE TABLE workload_svids (
    serial       TEXT PRIMARY KEY,
    entry_id     TEXT NOT NULL,
    node         TEXT NOT NULL,
    authority_id TEXT NOT NULL,
    issued_ms    INTEGER NOT NULL,
    not_after_ms INTEGER NOT NULL,
    revoked_ms   INTEGER
);
CREATE INDEX workload_svids_by_entry ON workload_svids(entry_id);
CREATE INDEX workload_svids_by_node ON workload_svids(node);
CREATE INDEX workload_svids_revoked ON workload_svids(authority_id, revoked_ms);
CREATE INDEX workload_svids_expiry ON workload_svids(not_after_ms);

CREATE TABLE workload_federations (
    trust_domain TEXT PRIMARY KEY,
    -- Fetched by the jobs runner (https_web); NULL: a static bundle.
    bundle_url   TEXT,
    bundle_json  TEXT,
    sequence     INTEGER,
    fetched_ms   INTEGER,
    created_ms   INTEGER NOT NULL
);
