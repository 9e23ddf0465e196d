-- Issue 19 (follow-up): each audit event's HMAC-SHA256 tag under a key
-- derived from the operator's key-encryption key (keybound_audit::mac),
-- so the sealer can tell an event keybound wrote from one inserted by a
-- database writer. NULL for events written before tags existed or by a
-- process without the key.
ALTER TABLE audit_events ADD COLUMN mac BYTEA;
