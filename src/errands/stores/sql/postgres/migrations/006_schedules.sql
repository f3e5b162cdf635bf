-- Periodic jobs: the schedules (a timing plus the job each fire time enqueues) and one row per
-- fire time taken, unique per (schedule, fire time) and written in the transaction that stores
-- its job: however many workers try a fire time, it runs once. `fired_until` is the latest fire
-- time handled (enqueued or skipped). Jobs remember the fire time they run for.
CREATE TABLE {schema}.schedules (
    name text PRIMARY KEY,
    task text NOT NULL,
    args json NOT NULL,
    queue text NOT NULL,
    priority integer NOT NULL,
    max_attempts integer NOT NULL,
    timeout double precision,
    lease_seconds double precision NOT NULL,
    max_worker_losses integer NOT NULL,
    notify json,
    cron text,
    every double precision,
    timezone text NOT NULL,
    catch_up boolean NOT NULL,
    paused boolean NOT NULL DEFAULT false,
    origin text NOT NULL,
    created_at double precision NOT NULL,
    fired_until double precision NOT NULL,
    last_job_id bigint
);
CREATE TABLE {schema}.schedule_fires (
    schedule text NOT NULL,
    fire_time double precision NOT NULL,
    job_id bigint,
    PRIMARY KEY (schedule, fire_time)
);
CREATE INDEX schedule_fires_time ON {schema}.schedule_fires (fire_time);
ALTER TABLE {schema}.jobs ADD COLUMN scheduled_for double precision;
