-- Events that call for attention carry a severity (info, warning, high).
ALTER TABLE audit_events ADD COLUMN severity TEXT;
-- Credentials may now also be 'quarantined' (a suspected clone: no sign-in
-- until an administrator clears or revokes it).
