-- Offboarding and sign-out-everywhere look sessions and grants up by
-- identity (PostgreSQL has these from its first migration).
CREATE INDEX sessions_by_identity ON sessions(identity_id);
CREATE INDEX grants_by_identity ON grants(identity_id);
