-- Set-based statements of a worker's claim-and-settle transaction (PostgreSQL): one statement,
-- one round trip, for a whole batch, with the events it causes written by the same statement.

-- settle_many: end runs of jobs whose lease token still holds them. %(outcomes)s is a JSON array of
-- objects (the fields of `o` below; `data` is the 'state' event's data). Rows are locked in id
-- order, as every multi-row write here does; each settled job gets its 'state' event, and a
-- released job wakes idle workers. Returns the settled jobs, with what the caller needs to follow
-- their end (notification jobs, continuations).
WITH o AS (
    SELECT * FROM json_to_recordset(%(outcomes)s::json) AS o(
        job_id bigint, lease_token text, state text, result text, finished boolean, retry_in double precision,
        error_type text, error_message text, error_traceback text, progress_current double precision,
        progress_total double precision, progress_message text, worker_lost integer, released integer, data json)
), mine AS (
    SELECT j.id FROM {schema}.jobs j JOIN o ON o.job_id = j.id
    WHERE j.lease_token = o.lease_token AND j.state = 'running'
    ORDER BY j.id FOR UPDATE OF j
), settled AS (
    UPDATE {schema}.jobs j
    SET state = o.state, result = o.result::json, finished_at = CASE WHEN o.finished THEN %(now)s END,
        run_at = coalesce(%(now)s + o.retry_in, j.run_at),
        error_type = o.error_type, error_message = o.error_message, error_traceback = o.error_traceback,
        progress_current = coalesce(o.progress_current, j.progress_current),
        progress_total = coalesce(o.progress_total, j.progress_total),
        progress_message = coalesce(o.progress_message, j.progress_message),
        worker_losses = j.worker_losses + o.worker_lost, attempt = j.attempt - o.released,
        lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
    FROM o, mine
    WHERE j.id = mine.id AND o.job_id = j.id AND j.lease_token = o.lease_token AND j.state = 'running'
    RETURNING j.id, j.state, j.notify IS NOT NULL AS notifies, j.has_children, o.data
), logged AS (
    INSERT INTO {schema}.job_events (job_id, at, kind, state, data)
    SELECT id, %(now)s, 'state', state, data FROM settled ORDER BY id
)
SELECT id, state, notifies, has_children,
       CASE WHEN state = 'queued' THEN pg_notify({channel}, id::text) END AS notified
FROM settled;
