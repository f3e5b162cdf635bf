-- Flow control at claim time: one row per limited or paused queue or task. Limits are declared
-- in code and written by each starting worker (the newest declaration wins); the pause is set by
-- control calls. `starts` holds the recent start times of a rate-limited key (its sliding window).
CREATE TABLE flow (
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    concurrency INTEGER,
    rate_count INTEGER,
    rate_period REAL,
    starts TEXT NOT NULL DEFAULT '[]',
    paused INTEGER NOT NULL DEFAULT 0,
    paused_by TEXT,
    paused_at REAL,
    PRIMARY KEY (kind, name)
);
-- Counting the running jobs of a limited task or queue reads only running jobs.
CREATE INDEX jobs_running_task ON jobs (task, queue) WHERE state = 'running';
