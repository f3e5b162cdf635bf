-- SQLite tests `state IN (three or more values)` against a temporary b-tree that it builds for each
-- statement and probes for each row: the CHECK on jobs.state and the conditions of jobs_finished and
-- jobs_unique_key cost ~30% of the engine's time per job a bulk enqueue writes, and a temporary
-- b-tree each for every single enqueue, claim and settle. Written as ORs of equalities they cost a
-- few comparisons. A CHECK cannot be changed in place: the table is rebuilt (SQLite's generalized
-- ALTER TABLE procedure), copying every job once (seconds for a million jobs), and its indexes and
-- trigger are made again. Queries that must read these two indexes repeat their conditions word for
-- word: SQLite uses a partial index only for a query whose WHERE holds its condition (or one side of
-- an OR of it, such as state = 'failed').
CREATE TABLE jobs_rebuilt (
    id INTEGER PRIMARY KEY,
    task TEXT NOT NULL,
    queue TEXT NOT NULL,
    priority INTEGER NOT NULL DEFAULT 0,
    args TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state = 'scheduled' OR state = 'queued' OR state = 'running'
                               OR state = 'succeeded' OR state = 'failed' OR state = 'cancelled'),
    attempt INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL DEFAULT 1,
    worker_losses INTEGER NOT NULL DEFAULT 0,
    max_worker_losses INTEGER NOT NULL DEFAULT 3,
    run_at REAL NOT NULL,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    progress_current REAL,
    progress_total REAL,
    progress_message TEXT,
    checkpoint TEXT,
    result TEXT,
    error_type TEXT,
    error_message TEXT,
    error_traceback TEXT,
    lease_owner TEXT,
    lease_expires_at REAL,
    lease_token TEXT,
    lease_seconds REAL NOT NULL DEFAULT 30,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    unique_key TEXT,
    notify TEXT,
    parent_id INTEGER,
    timeout REAL,
    has_children INTEGER NOT NULL DEFAULT 0,
    scheduled_for REAL
);
INSERT INTO jobs_rebuilt (
    id, task, queue, priority, args, state, attempt, max_attempts, worker_losses, max_worker_losses, run_at,
    created_at, started_at, finished_at, progress_current, progress_total, progress_message, checkpoint, result,
    error_type, error_message, error_traceback, lease_owner, lease_expires_at, lease_token, lease_seconds,
    cancel_requested, unique_key, notify, parent_id, timeout, has_children, scheduled_for
)
SELECT
    id, task, queue, priority, args, state, attempt, max_attempts, worker_losses, max_worker_losses, run_at,
    created_at, started_at, finished_at, progress_current, progress_total, progress_message, checkpoint, result,
    error_type, error_message, error_traceback, lease_owner, lease_expires_at, lease_token, lease_seconds,
    cancel_requested, unique_key, notify, parent_id, timeout, has_children, scheduled_for
FROM jobs;
DROP TABLE jobs;
ALTER TABLE jobs_rebuilt RENAME TO jobs;
CREATE INDEX jobs_ready_task ON jobs (queue, task, priority DESC, run_at, id) WHERE state IN ('queued', 'scheduled');
CREATE INDEX jobs_leases ON jobs (lease_expires_at) WHERE state = 'running';
CREATE INDEX jobs_running_task ON jobs (task, queue) WHERE state = 'running';
CREATE INDEX jobs_scheduled ON jobs (run_at) WHERE state = 'scheduled';
CREATE INDEX jobs_retrying ON jobs (queue, task) WHERE state IN ('scheduled', 'queued') AND attempt > 0;
CREATE INDEX jobs_parent ON jobs (parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX jobs_finished ON jobs (state, finished_at)
    WHERE (state = 'succeeded' OR state = 'failed' OR state = 'cancelled');
CREATE UNIQUE INDEX jobs_unique_key ON jobs (unique_key)
    WHERE unique_key IS NOT NULL AND (state = 'scheduled' OR state = 'queued' OR state = 'running');
CREATE TRIGGER jobs_first_event AFTER INSERT ON jobs
BEGIN
    INSERT INTO job_events (job_id, at, kind, state, data)
    VALUES (new.id, new.created_at, 'state', new.state, '{"task": ' || json_quote(new.task) || '}');
END;
