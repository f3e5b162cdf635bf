-- Aging (SQLite): due jobs that waited over max_wait behind a higher priority are raised to it.
-- Its reads cost one index probe per (queue, task) pair with waiting jobs, however many wait, and
-- a queue is searched for overdue jobs only when its waiting jobs hold more than one priority.

-- waiting_pairs: every (queue, task) pair with waiting jobs (a skip scan over jobs_ready_task),
-- with the highest priority due now (NULL: none due) and the lowest priority waiting
WITH RECURSIVE pair(k) AS (
    SELECT (SELECT json_array(queue, task) FROM jobs WHERE state IN ('queued', 'scheduled') ORDER BY queue, task LIMIT 1)
    UNION ALL
    -- the next task in this queue, else the first of the next queue: two seeks (SQLite reads a row
    -- value range by its first column only, which would read every job of the last pair)
    SELECT coalesce(
        (SELECT json_array(queue, task) FROM jobs
         WHERE state IN ('queued', 'scheduled') AND queue = json_extract(k, '$[0]') AND task > json_extract(k, '$[1]')
         ORDER BY queue, task LIMIT 1),
        (SELECT json_array(queue, task) FROM jobs
         WHERE state IN ('queued', 'scheduled') AND queue > json_extract(k, '$[0]')
         ORDER BY queue, task LIMIT 1)
    ) FROM pair WHERE k IS NOT NULL
), waiting AS (
    SELECT json_extract(k, '$[0]') AS queue, json_extract(k, '$[1]') AS task FROM pair WHERE k IS NOT NULL
)
SELECT queue, task,
    (SELECT priority FROM jobs j
     WHERE j.queue = waiting.queue AND j.task = waiting.task AND j.state IN ('queued', 'scheduled') AND j.run_at <= :now
     ORDER BY j.priority DESC, j.run_at, j.id LIMIT 1) AS top,
    (SELECT priority FROM jobs j
     WHERE j.queue = waiting.queue AND j.task = waiting.task AND j.state IN ('queued', 'scheduled')
     ORDER BY j.priority, j.run_at DESC, j.id DESC LIMIT 1) AS bottom
FROM waiting;

-- select_overdue: due jobs of a queue that waited since :cutoff or longer below priority :top,
-- oldest first
SELECT id, priority AS was FROM jobs
WHERE queue = :queue AND state IN ('queued', 'scheduled') AND priority < :top AND run_at <= :cutoff
ORDER BY run_at, id LIMIT :limit;
