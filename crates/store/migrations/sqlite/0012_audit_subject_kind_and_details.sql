-- One event shape for every kind of principal: the kind of the subject
-- (person, device, workload, agent) and kind-specific details, a JSON object
-- of strings with its keys in byte order, as keybound_audit hashes it. Both
-- are NULL on events without them, which is every event written before this
-- migration, and such events hash as they always did.
ALTER TABLE audit_events ADD COLUMN subject_kind TEXT;
ALTER TABLE audit_events ADD COLUMN details TEXT;
