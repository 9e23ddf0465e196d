-- Issue 16: device posture. One row per device, fact and source: what the
-- browser said at its last proof (client_hints), what an MDM export said
-- (import), what an administrator set (admin), each with the time it was
-- observed so a stale fact can be ignored. Values are text ('true' /
-- 'false' for the yes-no facts).
CREATE TABLE device_posture (
    device_id   TEXT NOT NULL REFERENCES identities(id),
    fact        TEXT NOT NULL,
    source      TEXT NOT NULL,
    value       TEXT NOT NULL,
    observed_ms INTEGER NOT NULL,
    PRIMARY KEY (device_id, fact, source)
);

-- Inventory records an import could not match to a device yet, by the
-- identifier they name (an authenticator serial): a later enrolment whose
-- enterprise attestation carries that serial takes them as its facts.
CREATE TABLE device_inventory (
    identifier  TEXT NOT NULL,
    fact        TEXT NOT NULL,
    value       TEXT NOT NULL,
    observed_ms INTEGER NOT NULL,
    PRIMARY KEY (identifier, fact)
);
