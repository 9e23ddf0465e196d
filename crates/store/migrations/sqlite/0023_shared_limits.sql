-- Issue 19 item 6: rate-limit usage and anomaly observations shared by the
-- nodes on one database. Each node keeps deciding from its own memory; a
-- background job adds what it did since its last run and reads back what
-- the others did, so a limit holds across nodes within one flush interval.
-- Nothing here is an audit record: rows are purged after their window.

-- Net tokens one node took from one bucket (a source's or a name's; long
-- keys are hashed by the service) within one minute starting at window_ms.
CREATE TABLE limit_usage (
    key        TEXT NOT NULL,
    window_ms  INTEGER NOT NULL,
    node       TEXT NOT NULL,
    count      INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (key, window_ms, node)
);
CREATE INDEX limit_usage_by_update ON limit_usage(updated_ms);

-- What one node's anomaly detectors observed: (detector, source) did
-- something about a target (a keyed 64-bit hash, never client text).
CREATE TABLE limit_observations (
    node      TEXT NOT NULL,
    seq       INTEGER NOT NULL,
    detector  TEXT NOT NULL,
    source    TEXT NOT NULL,
    target    INTEGER NOT NULL,
    time_ms   INTEGER NOT NULL,
    PRIMARY KEY (node, seq)
);
CREATE INDEX limit_observations_by_time ON limit_observations(time_ms);

-- The last alert of a detector for a source, on any node: a node records
-- an alert only if it moved fired_ms forward, so a spread attack fires once.
CREATE TABLE limit_alerts (
    detector  TEXT NOT NULL,
    source    TEXT NOT NULL,
    node      TEXT NOT NULL,
    fired_ms  INTEGER NOT NULL,
    PRIMARY KEY (detector, source)
);
