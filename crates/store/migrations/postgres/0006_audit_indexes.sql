-- The console pages the audit log newest first with optional filters
-- (Tx::audit_page): each filter has an index, so a page costs what it
-- returns, not the length of the chain.
--
-- A kind prefix is matched as a range (kind >= 'recovery.' AND kind <
-- 'recovery/'), which is right only in code point order: the column takes
-- the "C" collation (SQLite's BINARY) whatever the database's locale.
ALTER TABLE audit_events ALTER COLUMN kind TYPE TEXT COLLATE "C";
CREATE INDEX audit_by_subject ON audit_events(subject, seq);
CREATE INDEX audit_by_actor ON audit_events(actor, seq);
CREATE INDEX audit_by_kind ON audit_events(kind, seq);
CREATE INDEX audit_by_outcome ON audit_events(outcome, seq);
CREATE INDEX audit_by_time ON audit_events(time_ms);
