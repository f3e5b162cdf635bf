-- Named statements of flow control (limits, rates, pauses) in the PostgreSQL store.
-- A claim locks the flow rows of the keys it may take (FOR UPDATE, in key order, so claimers
-- never deadlock) before it counts running jobs: under READ COMMITTED that count, a later
-- statement, sees every claim committed by the previous holder of the lock.

-- lock_flow: the rows that constrain a claim of these queues and tasks (NULL: all of them), locked
SELECT * FROM {schema}.flow
WHERE (concurrency IS NOT NULL OR rate_count IS NOT NULL OR paused = 1)
  AND ((kind = 'queue' AND (%(queues)s::json IS NULL
                            OR name IN (SELECT json_array_elements_text(%(queues)s::json))))
    OR (kind = 'task' AND (%(tasks)s::json IS NULL
                           OR name IN (SELECT json_array_elements_text(%(tasks)s::json)))))
ORDER BY kind, name
FOR UPDATE;

-- read_flow: the same rows as lock_flow, read without a lock (an idle worker's look)
SELECT * FROM {schema}.flow
WHERE (concurrency IS NOT NULL OR rate_count IS NOT NULL OR paused = 1)
  AND ((kind = 'queue' AND (%(queues)s::json IS NULL
                            OR name IN (SELECT json_array_elements_text(%(queues)s::json))))
    OR (kind = 'task' AND (%(tasks)s::json IS NULL
                           OR name IN (SELECT json_array_elements_text(%(tasks)s::json)))));

-- select_flow: every flow row (limits, rates, pauses)
SELECT * FROM {schema}.flow ORDER BY kind, name;

-- count_running_tasks: running jobs (leased, not yet settled or rescued) of the given tasks
SELECT task AS name, count(*) AS n FROM {schema}.jobs
WHERE state = 'running' AND task IN (SELECT json_array_elements_text(%(names)s::json)) GROUP BY task;

-- count_running_queues: running jobs (leased, not yet settled or rescued) of the given queues
SELECT queue AS name, count(*) AS n FROM {schema}.jobs
WHERE state = 'running' AND queue IN (SELECT json_array_elements_text(%(names)s::json)) GROUP BY queue;

-- declare_flow: set a queue's or task's limits as declared in code (the newest declaration wins)
INSERT INTO {schema}.flow (kind, name, concurrency, rate_count, rate_period)
VALUES (%(kind)s, %(name)s, %(concurrency)s, %(rate_count)s, %(rate_period)s)
ON CONFLICT (kind, name) DO UPDATE
SET concurrency = excluded.concurrency, rate_count = excluded.rate_count, rate_period = excluded.rate_period;

-- set_paused: pause (1) or resume (0) a queue, recording who did it and when
INSERT INTO {schema}.flow (kind, name, paused, paused_by, paused_at) VALUES ('queue', %(name)s, %(paused)s, %(by)s, %(now)s)
ON CONFLICT (kind, name) DO UPDATE
SET paused = excluded.paused, paused_by = excluded.paused_by, paused_at = excluded.paused_at;

-- save_starts: keep a rate-limited key's start times within its window
UPDATE {schema}.flow SET starts = %(starts)s WHERE kind = %(kind)s AND name = %(name)s;
