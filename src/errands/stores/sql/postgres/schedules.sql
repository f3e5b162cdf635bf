-- Named statements of periodic jobs (PostgreSQL). Each opens with "-- name: purpose".

-- save_schedule: store a schedule, or redefine one by that name (its pause, cursor and history kept)
INSERT INTO {schema}.schedules (name, task, args, queue, priority, max_attempts, timeout, lease_seconds,
                                max_worker_losses, notify, cron, every, timezone, catch_up, origin, created_at,
                                fired_until)
VALUES (%(name)s, %(task)s, %(args)s, %(queue)s, %(priority)s, %(max_attempts)s, %(timeout)s, %(lease_seconds)s,
        %(max_worker_losses)s, %(notify)s, %(cron)s, %(every)s, %(timezone)s, %(catch_up)s, %(origin)s, %(now)s,
        %(now)s)
ON CONFLICT (name) DO UPDATE SET
    task = excluded.task, args = excluded.args, queue = excluded.queue, priority = excluded.priority,
    max_attempts = excluded.max_attempts, timeout = excluded.timeout, lease_seconds = excluded.lease_seconds,
    max_worker_losses = excluded.max_worker_losses, notify = excluded.notify, cron = excluded.cron,
    every = excluded.every, timezone = excluded.timezone, catch_up = excluded.catch_up, origin = excluded.origin
RETURNING *;

-- select_schedules: every schedule, by name
SELECT * FROM {schema}.schedules ORDER BY name;

-- select_schedule: one schedule by name
SELECT * FROM {schema}.schedules WHERE name = %(name)s;

-- active_schedules: the schedules the leader fires, locked for this transaction (a second firer
-- waits, then reads the cursor the first one moved)
SELECT * FROM {schema}.schedules WHERE NOT paused ORDER BY name FOR UPDATE;

-- pause_schedule: stop firing a schedule (jobs already enqueued still run)
UPDATE {schema}.schedules SET paused = true WHERE name = %(name)s RETURNING *;

-- resume_schedule: fire a paused schedule again from now on (fire times while paused are not missed ones)
UPDATE {schema}.schedules SET paused = false, fired_until = greatest(fired_until, %(now)s)
WHERE name = %(name)s RETURNING *;

-- delete_schedule: forget a schedule and its fire rows
DELETE FROM {schema}.schedules WHERE name = %(name)s RETURNING *;

-- delete_schedule_fires: forget the fire rows of a schedule
DELETE FROM {schema}.schedule_fires WHERE schedule = %(name)s;

-- take_fire: claim one fire time of a schedule; returns a row only for the first taker
INSERT INTO {schema}.schedule_fires (schedule, fire_time) VALUES (%(name)s, %(fire_time)s)
ON CONFLICT DO NOTHING
RETURNING fire_time;

-- record_fire: tie a taken fire time to the job it stored
UPDATE {schema}.schedule_fires SET job_id = %(job_id)s WHERE schedule = %(name)s AND fire_time = %(fire_time)s;

-- set_scheduled_for: the fire time a periodic job runs for
UPDATE {schema}.jobs SET scheduled_for = %(fire_time)s WHERE id = %(job_id)s;

-- advance_schedule: move a schedule's cursor forward (never back), with its latest job
UPDATE {schema}.schedules
SET fired_until = greatest(fired_until, %(fired_until)s), last_job_id = coalesce(%(job_id)s, last_job_id)
WHERE name = %(name)s;

-- delete_old_fires: forget fire rows too old for any worker to try their fire time again
DELETE FROM {schema}.schedule_fires WHERE fire_time < %(before)s;
