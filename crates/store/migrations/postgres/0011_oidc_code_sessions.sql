-- Back-channel logout looks up the apps a session signed in to by the
-- session's hash on every sign-out; without this index that is a scan.
CREATE INDEX oidc_codes_session ON oidc_codes (session_hash);
