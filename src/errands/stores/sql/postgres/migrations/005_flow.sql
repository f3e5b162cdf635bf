-- Flow control at claim time: one row per limited or paused queue or task. Limits are declared
-- in code and written by each starting worker (the newest declaration wins); the pause is set by
-- control calls. A claim that may take jobs of a row's key locks the row first (FOR UPDATE), so
-- claimers of one limited key count its running jobs one after the other. `starts` holds the
-- recent start times of a rate-limited key (its sliding window).
CREATE TABLE {schema}.flow (
    kind text NOT NULL,
    name text NOT NULL,
    concurrency integer,
    rate_count integer,
    rate_period double precision,
    starts text NOT NULL DEFAULT '[]',
    paused integer NOT NULL DEFAULT 0,
    paused_by text,
    paused_at double precision,
    PRIMARY KEY (kind, name)
);
-- Counting the running jobs of a limited task or queue reads only running jobs.
CREATE INDEX jobs_running_task ON {schema}.jobs (task, queue) WHERE state = 'running';
