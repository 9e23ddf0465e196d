-- Authority over accounts (issue 12).
-- A credential added from a signed-in session counts at most the tier that
-- session proved until attestation or a second administrator vouches for
-- it: NULL means no cap.
ALTER TABLE credentials ADD COLUMN tier_cap BIGINT;

-- Granting the admin role from the console is a proposal that needs the
-- same number of administrators as a recovery.
CREATE TABLE role_proposals (
    id          TEXT PRIMARY KEY,
    identity_id TEXT NOT NULL REFERENCES identities(id),
    proposed_by TEXT NOT NULL REFERENCES identities(id),
    created_ms  BIGINT NOT NULL,
    expires_ms  BIGINT NOT NULL,
    -- pending, granted, denied, voided
    status      TEXT NOT NULL
);
CREATE INDEX role_proposals_by_identity ON role_proposals(identity_id);

CREATE TABLE role_approvals (
    proposal_id TEXT NOT NULL REFERENCES role_proposals(id),
    approver_id TEXT NOT NULL REFERENCES identities(id),
    approved_ms BIGINT NOT NULL,
    PRIMARY KEY (proposal_id, approver_id)
);

-- The grant a recovery issued (its token's hash), so the person can still
-- object while the grant is unused.
ALTER TABLE recoveries ADD COLUMN grant_hash BYTEA;
