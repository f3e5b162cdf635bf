-- Set-based statements of a worker's claim-and-settle transaction (SQLite): one statement for a
-- whole batch. SQLite has no writes inside WITH, so the events follow in a statement of their own.

-- settle_many: end runs of jobs whose lease token still holds them. :outcomes is a JSON array of
-- objects (the fields read below). Returns the settled jobs, with what the caller needs to follow
-- their end (notification jobs, continuations).
UPDATE jobs
SET state = o.state, result = o.result, finished_at = CASE WHEN o.finished THEN :now END,
    run_at = coalesce(:now + o.retry_in, jobs.run_at),
    error_type = o.error_type, error_message = o.error_message, error_traceback = o.error_traceback,
    progress_current = coalesce(o.progress_current, jobs.progress_current),
    progress_total = coalesce(o.progress_total, jobs.progress_total),
    progress_message = coalesce(o.progress_message, jobs.progress_message),
    worker_losses = jobs.worker_losses + o.worker_lost, attempt = jobs.attempt - o.released,
    lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
FROM (
    SELECT json_extract(value, '$.job_id') AS job_id, json_extract(value, '$.lease_token') AS lease_token,
           json_extract(value, '$.state') AS state, json_extract(value, '$.result') AS result,
           json_extract(value, '$.finished') AS finished, json_extract(value, '$.retry_in') AS retry_in,
           json_extract(value, '$.error_type') AS error_type, json_extract(value, '$.error_message') AS error_message,
           json_extract(value, '$.error_traceback') AS error_traceback, json_extract(value, '$.progress_current') AS progress_current,
           json_extract(value, '$.progress_total') AS progress_total,
           json_extract(value, '$.progress_message') AS progress_message,
           json_extract(value, '$.worker_lost') AS worker_lost, json_extract(value, '$.released') AS released
    FROM json_each(:outcomes)
) AS o
WHERE jobs.id = o.job_id AND jobs.lease_token = o.lease_token AND jobs.state = 'running'
RETURNING id, state, notify IS NOT NULL AS notifies, has_children;

-- log_settled: the 'state' event of each job settle_many just ended (:ids, a JSON array), in id
-- order, with the data its outcome carries in :outcomes
INSERT INTO job_events (job_id, at, kind, state, data)
SELECT json_extract(value, '$.job_id'), :now, 'state', json_extract(value, '$.state'), json_extract(value, '$.data')
FROM json_each(:outcomes)
WHERE json_extract(value, '$.job_id') IN (SELECT value FROM json_each(:ids))
ORDER BY json_extract(value, '$.job_id');

-- log_claimed: the 'running' event of each job a claim just leased (:ids, a JSON array), in id order
INSERT INTO job_events (job_id, at, kind, state, data)
SELECT id, :now, 'state', 'running', json_object('worker', lease_owner, 'attempt', attempt, 'task', task)
FROM jobs WHERE id IN (SELECT value FROM json_each(:ids))
ORDER BY id;
