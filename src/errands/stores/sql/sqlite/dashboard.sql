-- The dashboard's statements: filtered job lists, capped counts, per-minute throughput and
-- bulk actions. Every list reads one window of ids (:floor <= id < :before) on the primary key,
-- so a page costs the same however many jobs the table holds and however rare the matches.

-- dash_find_jobs: the newest jobs matching a filter inside one window of ids
SELECT * FROM jobs
WHERE id < :before AND id >= :floor
  AND (:states IS NULL OR state IN (SELECT value FROM json_each(:states)))
  AND (:task IS NULL OR task = :task) AND (:queue IS NULL OR queue = :queue)
  AND (:since IS NULL OR created_at >= :since) AND (:until IS NULL OR created_at < :until)
  AND (:pattern IS NULL OR args LIKE :pattern ESCAPE '\' OR error_message LIKE :pattern ESCAPE '\'
       OR progress_message LIKE :pattern ESCAPE '\')
ORDER BY id DESC LIMIT :limit;

-- dash_find_ids: the ids of jobs matching a filter inside one window, newest first (bulk actions)
SELECT id FROM jobs
WHERE id < :before AND id >= :floor
  AND (:states IS NULL OR state IN (SELECT value FROM json_each(:states)))
  AND (:task IS NULL OR task = :task) AND (:queue IS NULL OR queue = :queue)
  AND (:since IS NULL OR created_at >= :since) AND (:until IS NULL OR created_at < :until)
  AND (:pattern IS NULL OR args LIKE :pattern ESCAPE '\' OR error_message LIKE :pattern ESCAPE '\'
       OR progress_message LIKE :pattern ESCAPE '\')
ORDER BY id DESC LIMIT :limit;

-- dash_max_id: the newest job id (0 when there is none)
SELECT coalesce(max(id), 0) AS id FROM jobs;

-- dash_min_id: the oldest job id (0 when there is none)
SELECT coalesce(min(id), 0) AS id FROM jobs;

-- dash_created_below: when the newest job below an id was created (nothing when there is none)
SELECT created_at FROM jobs WHERE id < :before ORDER BY id DESC LIMIT 1;

-- dash_state_counts: jobs in each state, each count stopping at :cap. Each branch repeats the
-- predicate of a partial index (waiting, running, finished) so that SQLite counts in that index.
SELECT 'scheduled' AS state, count(*) AS n FROM (SELECT 1 FROM jobs
    WHERE state IN ('queued', 'scheduled') AND state = 'scheduled' LIMIT :cap)
UNION ALL SELECT 'queued', count(*) FROM (SELECT 1 FROM jobs
    WHERE state IN ('queued', 'scheduled') AND state = 'queued' LIMIT :cap)
UNION ALL SELECT 'running', count(*) FROM (SELECT 1 FROM jobs WHERE state = 'running' LIMIT :cap)
UNION ALL SELECT 'succeeded', count(*) FROM (SELECT 1 FROM jobs
    WHERE (state = 'succeeded' OR state = 'failed' OR state = 'cancelled') AND state = 'succeeded' LIMIT :cap)
UNION ALL SELECT 'failed', count(*) FROM (SELECT 1 FROM jobs
    WHERE (state = 'succeeded' OR state = 'failed' OR state = 'cancelled') AND state = 'failed' LIMIT :cap)
UNION ALL SELECT 'cancelled', count(*) FROM (SELECT 1 FROM jobs
    WHERE (state = 'succeeded' OR state = 'failed' OR state = 'cancelled') AND state = 'cancelled' LIMIT :cap);

-- dash_finished_per_minute: jobs that ended since :since, per minute after it and per final state
SELECT CAST((finished_at - :since) / 60 AS INTEGER) AS minute, state, count(*) AS n FROM jobs
WHERE (state = 'succeeded' OR state = 'failed' OR state = 'cancelled') AND finished_at >= :since
GROUP BY minute, state;

-- dash_recent_claims: the workers that claimed jobs among the newest events, with their last claim
SELECT json_extract(data, '$.worker') AS worker, max(at) AS last, count(*) AS n FROM job_events
WHERE id > :after AND kind = 'state' AND state = 'running' GROUP BY 1;

-- dash_delete_finished: delete the finished jobs among some ids (a JSON array); returns those deleted
DELETE FROM jobs
WHERE id IN (SELECT value FROM json_each(:ids)) AND (state = 'succeeded' OR state = 'failed' OR state = 'cancelled')
RETURNING id;

-- dash_running_by_worker: how many jobs each worker holds now
SELECT lease_owner AS worker, count(*) AS n FROM jobs WHERE state = 'running' GROUP BY lease_owner;
