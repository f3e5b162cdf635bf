-- Named statements of periodic jobs (SQLite). Each opens with "-- name: purpose".

-- save_schedule: store a schedule, or redefine one by that name (its pause, cursor and history kept)
INSERT INTO schedules (name, task, args, queue, priority, max_attempts, timeout, lease_seconds,
                       max_worker_losses, notify, cron, every, timezone, catch_up, origin, created_at, fired_until)
VALUES (:name, :task, :args, :queue, :priority, :max_attempts, :timeout, :lease_seconds,
        :max_worker_losses, :notify, :cron, :every, :timezone, :catch_up, :origin, :now, :now)
ON CONFLICT (name) DO UPDATE SET
    task = excluded.task, args = excluded.args, queue = excluded.queue, priority = excluded.priority,
    max_attempts = excluded.max_attempts, timeout = excluded.timeout, lease_seconds = excluded.lease_seconds,
    max_worker_losses = excluded.max_worker_losses, notify = excluded.notify, cron = excluded.cron,
    every = excluded.every, timezone = excluded.timezone, catch_up = excluded.catch_up, origin = excluded.origin
RETURNING *;

-- select_schedules: every schedule, by name
SELECT * FROM schedules ORDER BY name;

-- select_schedule: one schedule by name
SELECT * FROM schedules WHERE name = :name;

-- active_schedules: the schedules the leader fires, locked for this transaction
SELECT * FROM schedules WHERE NOT paused ORDER BY name;

-- pause_schedule: stop firing a schedule (jobs already enqueued still run)
UPDATE schedules SET paused = 1 WHERE name = :name RETURNING *;

-- resume_schedule: fire a paused schedule again from now on (fire times while paused are not missed ones)
UPDATE schedules SET paused = 0, fired_until = max(fired_until, :now) WHERE name = :name RETURNING *;

-- delete_schedule: forget a schedule and its fire rows
DELETE FROM schedules WHERE name = :name RETURNING *;

-- delete_schedule_fires: forget the fire rows of a schedule
DELETE FROM schedule_fires WHERE schedule = :name;

-- take_fire: claim one fire time of a schedule; returns a row only for the first taker
INSERT INTO schedule_fires (schedule, fire_time) VALUES (:name, :fire_time)
ON CONFLICT DO NOTHING
RETURNING fire_time;

-- record_fire: tie a taken fire time to the job it stored
UPDATE schedule_fires SET job_id = :job_id WHERE schedule = :name AND fire_time = :fire_time;

-- set_scheduled_for: the fire time a periodic job runs for
UPDATE jobs SET scheduled_for = :fire_time WHERE id = :job_id;

-- advance_schedule: move a schedule's cursor forward (never back), with its latest job
UPDATE schedules SET fired_until = max(fired_until, :fired_until), last_job_id = coalesce(:job_id, last_job_id)
WHERE name = :name;

-- delete_old_fires: forget fire rows too old for any worker to try their fire time again
DELETE FROM schedule_fires WHERE fire_time < :before;
