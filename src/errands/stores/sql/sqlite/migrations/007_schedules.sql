-- Periodic jobs: the schedules (a timing plus the job each fire time enqueues) and one row per
-- fire time taken, unique per (schedule, fire time) and written in the transaction that stores
-- its job: however many workers try a fire time, it runs once. `fired_until` is the latest fire
-- time handled (enqueued or skipped). Jobs remember the fire time they run for.
CREATE TABLE schedules (
    name TEXT PRIMARY KEY,
    task TEXT NOT NULL,
    args TEXT NOT NULL,
    queue TEXT NOT NULL,
    priority INTEGER NOT NULL,
    max_attempts INTEGER NOT NULL,
    timeout REAL,
    lease_seconds REAL NOT NULL,
    max_worker_losses INTEGER NOT NULL,
    notify TEXT,
    cron TEXT,
    every REAL,
    timezone TEXT NOT NULL,
    catch_up INTEGER NOT NULL,
    paused INTEGER NOT NULL DEFAULT 0,
    origin TEXT NOT NULL,
    created_at REAL NOT NULL,
    fired_until REAL NOT NULL,
    last_job_id INTEGER
);
CREATE TABLE schedule_fires (
    schedule TEXT NOT NULL,
    fire_time REAL NOT NULL,
    job_id INTEGER,
    PRIMARY KEY (schedule, fire_time)
);
CREATE INDEX schedule_fires_time ON schedule_fires (fire_time);
ALTER TABLE jobs ADD COLUMN scheduled_for REAL;
