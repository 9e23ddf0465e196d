-- Issue 19: where each audit stream (`keybound audit stream`) stands. A
-- stream delivers events to a SIEM at least once; acked_seq is the last
-- sequence number its receiver acknowledged, so a restarted stream resumes
-- after it. The cursor only moves forward (see queries/audit_streams.rs).
-- It is not an audit event: streaming reads the log, it changes nothing.

CREATE TABLE audit_streams (
    name       TEXT PRIMARY KEY,
    acked_seq  BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL
);
