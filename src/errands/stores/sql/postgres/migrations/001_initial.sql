-- Jobs, their append-only event log, their result files, live workers and leader leases.
-- {schema} is the store's own schema. Times are epoch seconds (double precision) from the
-- server's clock, as in SQLite, so both stores share one row format; JSON is `json`, which
-- keeps the exact text the application wrote.

CREATE TABLE {schema}.jobs (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    task text NOT NULL,
    queue text NOT NULL,
    priority integer NOT NULL DEFAULT 0,
    args json NOT NULL,
    state text NOT NULL CHECK (state IN ('scheduled', 'queued', 'running', 'succeeded', 'failed', 'cancelled')),
    attempt integer NOT NULL DEFAULT 0,
    max_attempts integer NOT NULL DEFAULT 1,
    worker_losses integer NOT NULL DEFAULT 0,
    max_worker_losses integer NOT NULL DEFAULT 3,
    run_at double precision NOT NULL,
    created_at double precision NOT NULL,
    started_at double precision,
    finished_at double precision,
    progress_current double precision,
    progress_total double precision,
    progress_message text,
    checkpoint json,
    result json,
    error_type text,
    error_message text,
    error_traceback text,
    lease_owner text,
    lease_expires_at double precision,
    lease_token text,
    lease_seconds double precision NOT NULL DEFAULT 30,
    cancel_requested boolean NOT NULL DEFAULT false,
    unique_key text,
    notify json,
    parent_id bigint,
    timeout double precision
) WITH (fillfactor = 85);
-- Free room on each page lets heartbeats, progress and checkpoints (which touch no indexed
-- column) update rows in place (HOT) instead of adding index entries.

-- Claiming reads only waiting jobs, in claim order: its cost does not grow with the number
-- of finished jobs. One index for workers of every queue, one for workers of some queues.
CREATE INDEX jobs_ready ON {schema}.jobs (priority DESC, run_at, id) WHERE state IN ('queued', 'scheduled');
CREATE INDEX jobs_ready_queue ON {schema}.jobs (queue, priority DESC, run_at, id)
    WHERE state IN ('queued', 'scheduled');
-- Heartbeats, cancel checks and rescue read running jobs by owner; the key never changes
-- while a job runs, so renewing a lease stays a HOT update.
CREATE INDEX jobs_running ON {schema}.jobs (lease_owner) WHERE state = 'running';
-- Pruning and listing by state, listing by task.
CREATE INDEX jobs_state_finished ON {schema}.jobs (state, finished_at);
CREATE INDEX jobs_task ON {schema}.jobs (task, id);
-- At most one unfinished job per unique key.
CREATE UNIQUE INDEX jobs_unique_key ON {schema}.jobs (unique_key)
    WHERE unique_key IS NOT NULL AND state IN ('scheduled', 'queued', 'running');

CREATE TABLE {schema}.job_events (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id bigint NOT NULL,
    at double precision NOT NULL,
    kind text NOT NULL,
    state text,
    data json
);
CREATE INDEX job_events_job ON {schema}.job_events (job_id, id);

CREATE TABLE {schema}.job_files (
    job_id bigint NOT NULL,
    name text NOT NULL,
    content_type text NOT NULL,
    size bigint NOT NULL,
    data bytea NOT NULL,
    created_at double precision NOT NULL,
    PRIMARY KEY (job_id, name)
);

CREATE TABLE {schema}.workers (
    id text PRIMARY KEY,
    host text NOT NULL,
    pid integer NOT NULL,
    queues json NOT NULL,
    concurrency integer NOT NULL,
    started_at double precision NOT NULL,
    last_seen double precision NOT NULL
);

CREATE TABLE {schema}.leader_leases (
    name text PRIMARY KEY,
    owner text NOT NULL,
    expires_at double precision NOT NULL
);
