-- Expired challenges and finished sessions are purged (Tx::purge_expired);
-- these make finding them cheap.
CREATE INDEX challenges_by_expiry ON challenges(expires_ms);
CREATE INDEX sessions_by_expiry ON sessions(expires_ms);
