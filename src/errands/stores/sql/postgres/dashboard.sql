-- The dashboard's statements: filtered job lists, capped counts, per-minute throughput and
-- bulk actions. Every list reads one window of ids (floor <= id < before) on the primary key,
-- so a page costs the same however many jobs the table holds and however rare the matches.

-- dash_find_jobs: the newest jobs matching a filter inside one window of ids
SELECT * FROM {schema}.jobs
WHERE id < %(before)s::bigint AND id >= %(floor)s::bigint
  AND (%(states)s::json IS NULL OR state IN (SELECT json_array_elements_text(%(states)s::json)))
  AND (%(task)s::text IS NULL OR task = %(task)s::text) AND (%(queue)s::text IS NULL OR queue = %(queue)s::text)
  AND (%(since)s::float8 IS NULL OR created_at >= %(since)s::float8)
  AND (%(until)s::float8 IS NULL OR created_at < %(until)s::float8)
  AND (%(pattern)s::text IS NULL OR args::text ILIKE %(pattern)s::text OR error_message ILIKE %(pattern)s::text
       OR progress_message ILIKE %(pattern)s::text)
ORDER BY id DESC LIMIT %(limit)s;

-- dash_find_ids: the ids of jobs matching a filter inside one window, newest first (bulk actions)
SELECT id FROM {schema}.jobs
WHERE id < %(before)s::bigint AND id >= %(floor)s::bigint
  AND (%(states)s::json IS NULL OR state IN (SELECT json_array_elements_text(%(states)s::json)))
  AND (%(task)s::text IS NULL OR task = %(task)s::text) AND (%(queue)s::text IS NULL OR queue = %(queue)s::text)
  AND (%(since)s::float8 IS NULL OR created_at >= %(since)s::float8)
  AND (%(until)s::float8 IS NULL OR created_at < %(until)s::float8)
  AND (%(pattern)s::text IS NULL OR args::text ILIKE %(pattern)s::text OR error_message ILIKE %(pattern)s::text
       OR progress_message ILIKE %(pattern)s::text)
ORDER BY id DESC LIMIT %(limit)s;

-- dash_max_id: the newest job id (0 when there is none)
SELECT coalesce(max(id), 0) AS id FROM {schema}.jobs;

-- dash_min_id: the oldest job id (0 when there is none)
SELECT coalesce(min(id), 0) AS id FROM {schema}.jobs;

-- dash_created_below: when the newest job below an id was created (nothing when there is none)
SELECT created_at FROM {schema}.jobs WHERE id < %(before)s::bigint ORDER BY id DESC LIMIT 1;

-- dash_state_counts: jobs in each state, each count stopping at cap. Each branch repeats the
-- condition of a partial index (waiting, running, finished), so each counts in that index.
SELECT 'scheduled' AS state, count(*) AS n FROM (SELECT 1 FROM {schema}.jobs
    WHERE state IN ('queued', 'scheduled') AND state = 'scheduled' LIMIT %(cap)s) c
UNION ALL SELECT 'queued', count(*) FROM (SELECT 1 FROM {schema}.jobs
    WHERE state IN ('queued', 'scheduled') AND state = 'queued' LIMIT %(cap)s) c
UNION ALL SELECT 'running', count(*) FROM (SELECT 1 FROM {schema}.jobs WHERE state = 'running' LIMIT %(cap)s) c
UNION ALL SELECT 'succeeded', count(*) FROM (SELECT 1 FROM {schema}.jobs
    WHERE state IN ('succeeded', 'failed', 'cancelled') AND state = 'succeeded' LIMIT %(cap)s) c
UNION ALL SELECT 'failed', count(*) FROM (SELECT 1 FROM {schema}.jobs
    WHERE state IN ('succeeded', 'failed', 'cancelled') AND state = 'failed' LIMIT %(cap)s) c
UNION ALL SELECT 'cancelled', count(*) FROM (SELECT 1 FROM {schema}.jobs
    WHERE state IN ('succeeded', 'failed', 'cancelled') AND state = 'cancelled' LIMIT %(cap)s) c;

-- dash_finished_per_minute: jobs that ended since a time, per minute after it and per final state
SELECT floor((finished_at - %(since)s::float8) / 60)::int AS minute, state, count(*) AS n FROM {schema}.jobs
WHERE state IN ('succeeded', 'failed', 'cancelled') AND finished_at >= %(since)s::float8
GROUP BY 1, 2;

-- dash_recent_claims: the workers that claimed jobs among the newest events, with their last claim
SELECT data->>'worker' AS worker, max(at) AS last, count(*) AS n FROM {schema}.job_events
WHERE id > %(after)s::bigint AND kind = 'state' AND state = 'running' GROUP BY 1;

-- dash_delete_finished: delete the finished jobs among some ids (a JSON array); returns those deleted
DELETE FROM {schema}.jobs
WHERE id IN (SELECT value::bigint FROM json_array_elements_text(%(ids)s::json) AS value)
  AND state IN ('succeeded', 'failed', 'cancelled')
RETURNING id;

-- dash_running_by_worker: how many jobs each worker holds now
SELECT lease_owner AS worker, count(*) AS n FROM {schema}.jobs WHERE state = 'running' GROUP BY lease_owner;
