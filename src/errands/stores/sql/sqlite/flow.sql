-- Named statements of flow control (limits, rates, pauses) in the SQLite store.
-- SQLite has one writer at a time (BEGIN IMMEDIATE): a claim reads its flow rows and counts
-- running jobs with no other claim in between.

-- lock_flow: the rows that constrain a claim of these queues and tasks (NULL: all of them)
SELECT * FROM flow
WHERE (concurrency IS NOT NULL OR rate_count IS NOT NULL OR paused = 1)
  AND ((kind = 'queue' AND (:queues IS NULL OR name IN (SELECT value FROM json_each(:queues))))
    OR (kind = 'task' AND (:tasks IS NULL OR name IN (SELECT value FROM json_each(:tasks)))))
ORDER BY kind, name;

-- read_flow: the same rows as lock_flow (in SQLite a claim needs no row lock: it is the only writer)
SELECT * FROM flow
WHERE (concurrency IS NOT NULL OR rate_count IS NOT NULL OR paused = 1)
  AND ((kind = 'queue' AND (:queues IS NULL OR name IN (SELECT value FROM json_each(:queues))))
    OR (kind = 'task' AND (:tasks IS NULL OR name IN (SELECT value FROM json_each(:tasks)))))
ORDER BY kind, name;

-- select_flow: every flow row (limits, rates, pauses)
SELECT * FROM flow ORDER BY kind, name;

-- count_running_tasks: running jobs (leased, not yet settled or rescued) of the given tasks
SELECT task AS name, count(*) AS n FROM jobs
WHERE state = 'running' AND task IN (SELECT value FROM json_each(:names)) GROUP BY task;

-- count_running_queues: running jobs (leased, not yet settled or rescued) of the given queues
SELECT queue AS name, count(*) AS n FROM jobs
WHERE state = 'running' AND queue IN (SELECT value FROM json_each(:names)) GROUP BY queue;

-- declare_flow: set a queue's or task's limits as declared in code (the newest declaration wins)
INSERT INTO flow (kind, name, concurrency, rate_count, rate_period)
VALUES (:kind, :name, :concurrency, :rate_count, :rate_period)
ON CONFLICT (kind, name) DO UPDATE
SET concurrency = excluded.concurrency, rate_count = excluded.rate_count, rate_period = excluded.rate_period;

-- set_paused: pause (1) or resume (0) a queue, recording who did it and when
INSERT INTO flow (kind, name, paused, paused_by, paused_at) VALUES ('queue', :name, :paused, :by, :now)
ON CONFLICT (kind, name) DO UPDATE
SET paused = excluded.paused, paused_by = excluded.paused_by, paused_at = excluded.paused_at;

-- save_starts: keep a rate-limited key's start times within its window
UPDATE flow SET starts = :starts WHERE kind = :kind AND name = :name;
