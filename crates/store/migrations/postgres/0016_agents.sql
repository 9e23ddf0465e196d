-- Issue 18: agents and their task credentials. An agent is an identity of
-- kind 'agent' plus how it proves itself (a SPIFFE ID, or a public key
-- registered for it) and the person answerable for it. A task is what one
-- agent may do, for whom, until when; a task token is one access token
-- minted for a task, bound to a key the agent holds.

CREATE TABLE agents (
    identity_id    TEXT PRIMARY KEY REFERENCES identities(id),
    owner_id       TEXT NOT NULL REFERENCES identities(id),
    -- 'spiffe' (a JWT-SVID or X.509-SVID for spiffe_id) or 'key'.
    proof          TEXT NOT NULL,
    spiffe_id      TEXT UNIQUE,
    -- The registered public JWK (JSON) and its RFC 7638 thumbprint.
    key_jwk        TEXT,
    key_thumbprint TEXT UNIQUE,
    description    TEXT NOT NULL DEFAULT '',
    created_by     TEXT NOT NULL,
    created_ms     BIGINT NOT NULL,
    -- 'active', 'disabled' (its owner was offboarded) or 'removed'.
    status         TEXT NOT NULL,
    status_reason  TEXT,
    changed_ms     BIGINT
);
CREATE INDEX agents_by_owner ON agents(owner_id);

CREATE TABLE tasks (
    id                  TEXT PRIMARY KEY,
    agent_id            TEXT NOT NULL REFERENCES identities(id),
    -- The person who delegated it; NULL when the agent acts on its own
    -- entitlement (its owner approves then).
    delegator_id        TEXT REFERENCES identities(id),
    -- JSON arrays, sorted, no duplicates.
    resources           TEXT NOT NULL,
    actions             TEXT NOT NULL,
    lifetime_s          BIGINT NOT NULL,
    -- What the agent says it is for, shown to the approver.
    purpose             TEXT NOT NULL DEFAULT '',
    -- JSON object: the requesting context (address, user agent, the
    -- agent's proof), shown to the approver and hashed into the approval.
    context             TEXT NOT NULL DEFAULT '{}',
    -- 'pending', 'active', 'denied', 'ended' or 'expired'.
    status              TEXT NOT NULL,
    needs_approval      BOOLEAN NOT NULL,
    created_ms          BIGINT NOT NULL,
    -- Pending: the approval deadline. Active: when the task and every
    -- token minted for it end.
    expires_ms          BIGINT NOT NULL,
    approved_ms         BIGINT,
    approved_by         TEXT,
    approval_tier       BIGINT,
    approval_credential BYTEA,
    ended_ms            BIGINT,
    ended_by            TEXT,
    end_reason          TEXT,
    uses                BIGINT NOT NULL DEFAULT 0,
    last_used_ms        BIGINT
);
CREATE INDEX tasks_by_agent ON tasks(agent_id);
CREATE INDEX tasks_by_delegator ON tasks(delegator_id);
CREATE INDEX tasks_by_status ON tasks(status, expires_ms);

CREATE TABLE task_tokens (
    -- SHA-256 of the token's jti.
    jti_hash   BYTEA PRIMARY KEY,
    task_id    TEXT NOT NULL REFERENCES tasks(id),
    -- 'jkt' (DPoP, RFC 9449) or 'x5t#S256' (mTLS, RFC 8705).
    cnf_kind   TEXT NOT NULL,
    cnf_value  TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL,
    revoked_ms BIGINT
);
CREATE INDEX task_tokens_by_task ON task_tokens(task_id);
