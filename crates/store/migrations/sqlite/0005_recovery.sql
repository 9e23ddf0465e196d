-- Account recovery by M-of-N administrator approval.
CREATE TABLE recoveries (
    id           TEXT PRIMARY KEY,
    identity_id  TEXT NOT NULL REFERENCES identities(id),
    requested_ms INTEGER NOT NULL,
    expires_ms   INTEGER NOT NULL,
    -- When enough approvals arrived, plus the waiting period.
    ready_ms     INTEGER,
    -- pending, issued, denied, voided
    status       TEXT NOT NULL,
    revoke_old   INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX recoveries_by_identity ON recoveries(identity_id);

CREATE TABLE recovery_approvals (
    recovery_id TEXT NOT NULL REFERENCES recoveries(id),
    approver_id TEXT NOT NULL REFERENCES identities(id),
    approved_ms INTEGER NOT NULL,
    PRIMARY KEY (recovery_id, approver_id)
);
