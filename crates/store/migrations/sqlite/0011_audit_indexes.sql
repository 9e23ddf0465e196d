-- The console pages the audit log newest first with optional filters
-- (Tx::audit_page): each filter has an index, so a page costs what it
-- returns, not the length of the chain. In SQLite every index ends with
-- the rowid (seq), so an equality filter also reads in seq order.
CREATE INDEX audit_by_subject ON audit_events(subject, seq);
CREATE INDEX audit_by_actor ON audit_events(actor, seq);
CREATE INDEX audit_by_kind ON audit_events(kind, seq);
CREATE INDEX audit_by_outcome ON audit_events(outcome, seq);
CREATE INDEX audit_by_time ON audit_events(time_ms);
