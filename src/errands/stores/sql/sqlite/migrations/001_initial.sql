-- Jobs, their append-only event log, their result files, live workers and leader leases.
-- Times are epoch seconds (REAL) from the writer's clock; JSON is stored as TEXT.

CREATE TABLE jobs (
    id INTEGER PRIMARY KEY,
    task TEXT NOT NULL,
    queue TEXT NOT NULL,
    priority INTEGER NOT NULL DEFAULT 0,
    args TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('scheduled', 'queued', 'running', 'succeeded', 'failed', 'cancelled')),
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
    timeout REAL
);

-- Claiming reads only waiting jobs: the index stays small however many finished jobs the table holds.
CREATE INDEX jobs_ready ON jobs (queue, priority DESC, run_at, id) WHERE state IN ('queued', 'scheduled');
-- Rescue scans only running jobs by lease expiry.
CREATE INDEX jobs_leases ON jobs (lease_expires_at) WHERE state = 'running';
-- Pruning and listing by state.
CREATE INDEX jobs_state_finished ON jobs (state, finished_at);
CREATE INDEX jobs_task ON jobs (task, id);
-- At most one unfinished job per unique key.
CREATE UNIQUE INDEX jobs_unique_key ON jobs (unique_key) WHERE unique_key IS NOT NULL AND state IN ('scheduled', 'queued', 'running');

CREATE TABLE job_events (
    id INTEGER PRIMARY KEY,
    job_id INTEGER NOT NULL,
    at REAL NOT NULL,
    kind TEXT NOT NULL,
    state TEXT,
    data TEXT
);
CREATE INDEX job_events_job ON job_events (job_id, id);

CREATE TABLE job_files (
    job_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    data BLOB NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (job_id, name)
);

CREATE TABLE workers (
    id TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    queues TEXT NOT NULL,
    concurrency INTEGER NOT NULL,
    started_at REAL NOT NULL,
    last_seen REAL NOT NULL
);

CREATE TABLE leader_leases (
    name TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    expires_at REAL NOT NULL
);
