-- Aging (PostgreSQL): due jobs that waited over max_wait behind a higher priority are raised to it.
-- Its reads cost one index probe per (queue, task) pair with waiting jobs, however many wait, and
-- a queue is searched for overdue jobs only when its waiting jobs hold more than one priority.

-- waiting_pairs: every (queue, task) pair with waiting jobs (a skip scan over jobs_ready_queue_task),
-- with the highest priority due now (NULL: none due) and the lowest priority waiting
WITH RECURSIVE pair AS (
    (SELECT queue, task FROM {schema}.jobs WHERE state IN ('queued', 'scheduled') ORDER BY queue, task LIMIT 1)
    UNION ALL
    SELECT next.queue, next.task FROM pair CROSS JOIN LATERAL (
        SELECT queue, task FROM {schema}.jobs
        WHERE state IN ('queued', 'scheduled') AND (queue, task) > (pair.queue, pair.task)
        ORDER BY queue, task LIMIT 1
    ) next
)
SELECT queue, task,
    (SELECT priority FROM {schema}.jobs j
     WHERE j.queue = pair.queue AND j.task = pair.task AND j.state IN ('queued', 'scheduled') AND j.run_at <= %(now)s
     ORDER BY j.priority DESC, j.run_at, j.id LIMIT 1) AS top,
    (SELECT priority FROM {schema}.jobs j
     WHERE j.queue = pair.queue AND j.task = pair.task AND j.state IN ('queued', 'scheduled')
     ORDER BY j.priority, j.run_at DESC, j.id DESC LIMIT 1) AS bottom
FROM pair;

-- select_overdue: due jobs of a queue that waited since %(cutoff)s or longer below priority %(top)s,
-- oldest first
SELECT id, priority AS was FROM {schema}.jobs
WHERE queue = %(queue)s AND state IN ('queued', 'scheduled') AND priority < %(top)s AND run_at <= %(cutoff)s
ORDER BY run_at, id LIMIT %(limit)s;
