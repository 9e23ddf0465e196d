-- Names under one rule (keybound-names): the look-up key (PRECIS
-- UsernameCaseMapped mappings) and its Unicode TR39 skeleton, each unique,
-- so two spellings or look-alikes of one name cannot both exist, on however
-- many nodes. Rows from before are keyed when the store opens (oldest
-- first); a row whose key or skeleton an older row holds keeps NULL there
-- and is found by its exact name only.
ALTER TABLE identities ADD COLUMN name_key TEXT;
ALTER TABLE identities ADD COLUMN name_skeleton TEXT;
CREATE UNIQUE INDEX identities_by_name_key ON identities(name_key);
CREATE UNIQUE INDEX identities_by_name_skeleton ON identities(name_skeleton);
