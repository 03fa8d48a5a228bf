-- `runner serve`: one row per campaign occurrence taken by a serve instance. The primary key is
-- the lease: the instance whose insert succeeds runs the occurrence, every other one skips it.
-- Times are microseconds since the Unix epoch (UTC).
CREATE TABLE occurrences (
    campaign     TEXT    NOT NULL,
    scheduled_at BIGINT  NOT NULL,
    owner        TEXT    NOT NULL,
    started_at   BIGINT  NOT NULL,
    finished_at  BIGINT,
    outcome      TEXT,
    PRIMARY KEY (campaign, scheduled_at)
);
