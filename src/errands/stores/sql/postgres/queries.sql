-- Named statements of the PostgreSQL store. Each opens with "-- name: purpose".
-- Parameters are %(named)s; %(now)s is always the server's clock, read when the transaction
-- began. {schema} is the store's schema; {channel} the NOTIFY channel that wakes idle workers:
-- every statement that makes a job claimable notifies it with the job's id (ids only, never data).

-- insert_job: store one new job with its first event (%(data)s), or nothing when an unfinished job
-- holds its unique key
WITH job AS (
    INSERT INTO {schema}.jobs (task, queue, priority, args, state, max_attempts, run_at, created_at,
                               unique_key, notify, parent_id, timeout, lease_seconds, max_worker_losses)
    VALUES (%(task)s, %(queue)s, %(priority)s, %(args)s, %(state)s, %(max_attempts)s, %(run_at)s, %(now)s,
            %(unique_key)s, %(notify)s, %(parent_id)s, %(timeout)s, %(lease_seconds)s, %(max_worker_losses)s)
    ON CONFLICT DO NOTHING
    RETURNING *
), logged AS (
    INSERT INTO {schema}.job_events (job_id, at, kind, state, data)
    SELECT id, created_at, 'state', state, %(data)s::json FROM job
)
SELECT job.*, CASE WHEN job.state = 'queued' THEN pg_notify({channel}, job.id::text) END AS notified FROM job;

-- part_began: the head of enqueue_job and enqueue_jobs, statements that are transactions of their own
-- (autocommit): the event-log gate (see EventLogGate, with %(lock_timeout)s for waiting on it) and the
-- clock are taken first, in `began`, before any id is given out, as a transaction's BEGIN takes them;
-- `due` is when the jobs may run: a %(delay)s counts from that clock, an absolute %(run_at)s stays as
-- given, neither means now
WITH began AS MATERIALIZED (
    SELECT set_config('lock_timeout', %(lock_timeout)s, true) AS lock_timeout,
           pg_advisory_xact_lock_shared(%(gate)s) AS gate, extract(epoch FROM clock_timestamp())::float8 AS now
), due AS (
    SELECT now, coalesce(%(run_at)s::float8, now + %(delay)s::float8, now) AS run_at FROM began
)

-- enqueue_job: store one job without a unique key or parent, with its first event, as a transaction
-- of its own (autocommit: one round trip; gate, clock and due time in part_began). The job is
-- scheduled when it is due later than now, queued otherwise. Returns what the caller does not know
-- (`produce.new_job` makes the rest of the job).
{part_began}, job AS (
    INSERT INTO {schema}.jobs (task, queue, priority, args, state, max_attempts, run_at, created_at,
                               notify, timeout, lease_seconds, max_worker_losses)
    SELECT %(task)s::text, %(queue)s::text, %(priority)s::integer, %(args)s::json,
           CASE WHEN run_at > now THEN 'scheduled' ELSE 'queued' END, %(max_attempts)s::integer, run_at, now,
           %(notify)s::json, %(timeout)s::float8, %(lease_seconds)s::float8, %(max_worker_losses)s::integer
    FROM due
    RETURNING id, state, run_at, created_at
), logged AS (
    INSERT INTO {schema}.job_events (job_id, at, kind, state, data)
    SELECT id, created_at, 'state', state, %(data)s::json FROM job
)
SELECT id, run_at, created_at, CASE WHEN state = 'queued' THEN pg_notify({channel}, id::text) END AS notified
FROM job;

-- insert_jobs_bulk: store many jobs alike but for their arguments (no unique keys, no parents) and
-- their first events (%(data)s) in one statement, waking idle workers once; %(args)s is a JSON array
-- of their arguments as strings, in the order ids are given out (the caller sorts the ids back to its list)
WITH inserted AS (
    INSERT INTO {schema}.jobs (task, queue, priority, args, state, max_attempts, run_at, created_at,
                               notify, timeout, lease_seconds, max_worker_losses)
    SELECT %(task)s::text, %(queue)s::text, %(priority)s::integer, a.args::json, %(state)s::text,
           %(max_attempts)s::integer, %(run_at)s::float8, %(now)s::float8, %(notify)s::json, %(timeout)s::float8,
           %(lease_seconds)s::float8, %(max_worker_losses)s::integer
    FROM json_array_elements_text(%(args)s::json) WITH ORDINALITY AS a(args, position)
    ORDER BY position
    RETURNING id, state
), logged AS (
    INSERT INTO {schema}.job_events (job_id, at, kind, state, data)
    SELECT id, %(now)s, 'state', state, %(data)s::json FROM inserted ORDER BY id
), woken AS (
    SELECT pg_notify({channel}, min(id)::text) FROM inserted WHERE state = 'queued'
)
SELECT id, (SELECT count(*) FROM woken) AS notified FROM inserted;

-- enqueue_jobs: store many jobs alike but for their arguments (no unique keys, no parents) with their
-- first events as a transaction of its own (autocommit: one round trip; gate, clock and due time in
-- part_began); %(args)s is a JSON array of their arguments (objects), in the
-- order ids are given out
{part_began}, inserted AS (
    INSERT INTO {schema}.jobs (task, queue, priority, args, state, max_attempts, run_at, created_at,
                               notify, timeout, lease_seconds, max_worker_losses)
    SELECT %(task)s::text, %(queue)s::text, %(priority)s::integer, a.args::json,
           CASE WHEN run_at > now THEN 'scheduled' ELSE 'queued' END, %(max_attempts)s::integer, run_at, now,
           %(notify)s::json, %(timeout)s::float8, %(lease_seconds)s::float8, %(max_worker_losses)s::integer
    FROM due, json_array_elements_text(%(args)s::json) WITH ORDINALITY AS a(args, position)
    ORDER BY position
    RETURNING id, state, created_at
), logged AS (
    INSERT INTO {schema}.job_events (job_id, at, kind, state, data)
    SELECT id, created_at, 'state', state, %(data)s::json FROM inserted ORDER BY id
), woken AS (
    SELECT pg_notify({channel}, min(id)::text) FROM inserted WHERE state = 'queued'
)
SELECT id, (SELECT count(*) FROM woken) AS notified FROM inserted;

-- find_unfinished_by_key: the unfinished job that already holds a unique key
SELECT * FROM {schema}.jobs
WHERE unique_key = %(unique_key)s AND state IN ('scheduled', 'queued', 'running');

-- insert_event: append one line to a job's history
INSERT INTO {schema}.job_events (job_id, at, kind, state, data)
VALUES (%(job_id)s, %(now)s, %(kind)s, %(state)s, %(data)s);

-- insert_events_bulk: append many lines to job histories in one statement, in the order given;
-- %(events)s is a JSON array of [job_id, kind, state, data]
INSERT INTO {schema}.job_events (job_id, at, kind, state, data)
SELECT (e ->> 0)::bigint, %(now)s, e ->> 1, e ->> 2, (e ->> 3)::json
FROM json_array_elements(%(events)s::json) WITH ORDINALITY AS x(e, position)
ORDER BY position;

-- has_ready: whether a due job waits in the given queues (a read: idle workers ask before they lock)
SELECT EXISTS (
    SELECT 1 FROM {schema}.jobs
    WHERE state IN ('queued', 'scheduled') AND run_at <= %(now)s
      AND queue IN (SELECT json_array_elements_text(%(queues)s::json))
) AS ready;

-- has_ready_any_queue: the same as has_ready, for a worker that serves every queue
SELECT EXISTS (SELECT 1 FROM {schema}.jobs WHERE state IN ('queued', 'scheduled') AND run_at <= %(now)s) AS ready;

-- has_ready_tasks: the same as has_ready, for the given tasks only; each (queue, task) pair is
-- read as the claim reads it (in claim order, the first row only), so the planner cannot prefer
-- a scan that meets every finished job before a ready one
SELECT EXISTS (
    SELECT 1 FROM json_array_elements_text(%(queues)s::json) AS q(name)
    CROSS JOIN json_array_elements_text(%(tasks)s::json) AS t(name)
    CROSS JOIN LATERAL (
        SELECT id FROM {schema}.jobs
        WHERE queue = q.name AND task = t.name AND state IN ('queued', 'scheduled') AND run_at <= %(now)s
        ORDER BY priority DESC, run_at, id
        LIMIT 1
    ) c
) AS ready;

-- has_ready_any_queue_tasks: the same as has_ready_tasks, for a worker that serves every queue but
-- %(skip_queues)s
SELECT EXISTS (
    SELECT 1 FROM json_array_elements_text(%(tasks)s::json) AS t(name)
    CROSS JOIN LATERAL (
        SELECT id FROM {schema}.jobs
        WHERE task = t.name AND state IN ('queued', 'scheduled') AND run_at <= %(now)s
          AND queue NOT IN (SELECT json_array_elements_text(%(skip_queues)s::json))
        ORDER BY priority DESC, run_at, id
        LIMIT 1
    ) c
) AS ready;

-- count_retrying: failed jobs waiting for their retry (in backoff or due), in the given queues and of
-- the given tasks (NULL: all)
SELECT count(*) AS n FROM {schema}.jobs
WHERE state IN ('scheduled', 'queued') AND attempt > 0
  AND (%(queues)s::json IS NULL OR queue IN (SELECT json_array_elements_text(%(queues)s::json)))
  AND (%(tasks)s::json IS NULL OR task IN (SELECT json_array_elements_text(%(tasks)s::json)));

-- extend_leases: renew, in one statement, the leases a worker knows it holds (%(tokens)s, a JSON
-- array); a claim whose answer never reached the worker is not renewed, so it expires and is
-- rescued. Rows are locked in id order, as every multi-row write here does: no deadlocks. `mine`
-- reads the worker's running jobs (its own, through jobs_running); the update finds them by id.
UPDATE {schema}.jobs j SET lease_expires_at = %(now)s + j.lease_seconds
FROM (
    SELECT id FROM {schema}.jobs
    WHERE state = 'running' AND lease_owner = %(worker_id)s
      AND lease_token IN (SELECT json_array_elements_text(%(tokens)s::json))
    ORDER BY id FOR UPDATE
) mine
WHERE j.id = mine.id
RETURNING j.id, j.lease_token, j.cancel_requested;

-- cancel_requests: running jobs of a worker that someone asked to cancel
SELECT id FROM {schema}.jobs WHERE lease_owner = %(worker_id)s AND state = 'running' AND cancel_requested;

-- save_progress: record progress of a job this worker still holds, renewing its lease
UPDATE {schema}.jobs
SET progress_current = %(current)s, progress_total = %(total)s, progress_message = %(message)s,
    lease_expires_at = %(now)s + lease_seconds
WHERE id = %(job_id)s AND lease_token = %(lease_token)s AND state = 'running';

-- save_checkpoint: record resumable state of a job this worker still holds, renewing its lease
UPDATE {schema}.jobs SET checkpoint = %(checkpoint)s, lease_expires_at = %(now)s + lease_seconds
WHERE id = %(job_id)s AND lease_token = %(lease_token)s AND state = 'running';

-- holds_lease: whether a lease token still owns a running job
SELECT 1 AS held FROM {schema}.jobs WHERE id = %(job_id)s AND lease_token = %(lease_token)s AND state = 'running';

-- upsert_file: store or replace one result file of a job
INSERT INTO {schema}.job_files (job_id, name, content_type, size, data, created_at)
VALUES (%(job_id)s, %(name)s, %(content_type)s, %(size)s, %(data)s, %(now)s)
ON CONFLICT (job_id, name) DO UPDATE
SET content_type = excluded.content_type, size = excluded.size, data = excluded.data, created_at = excluded.created_at;

-- expired_leases: running jobs whose lease ran out, locked in id order; a row another transaction
-- holds (a heartbeat in flight) is skipped, not waited for. %(since)s (or NULL): when the leader
-- regained the store after an outage; a job is then left one lease after it, for its worker to renew
SELECT id, lease_token, worker_losses, max_worker_losses FROM {schema}.jobs
WHERE state = 'running' AND lease_expires_at < %(now)s
  AND (%(since)s::float8 IS NULL OR %(now)s >= %(since)s::float8 + lease_seconds)
ORDER BY id FOR UPDATE SKIP LOCKED;

-- promote_due: move scheduled jobs whose time came to the queue
WITH promoted AS (
    UPDATE {schema}.jobs SET state = 'queued'
    WHERE id IN (
        SELECT id FROM {schema}.jobs WHERE state = 'scheduled' AND run_at <= %(now)s ORDER BY id FOR UPDATE SKIP LOCKED
    )
    RETURNING id
)
SELECT id, pg_notify({channel}, id::text) AS notified FROM promoted;

-- age_job: raise a waiting job's priority (aging); nothing when it was claimed or cancelled meanwhile
UPDATE {schema}.jobs SET priority = %(priority)s
WHERE id = %(job_id)s AND state IN ('queued', 'scheduled') AND priority < %(priority)s;

-- cancel_waiting: cancel a job that has not started
UPDATE {schema}.jobs SET state = 'cancelled', finished_at = %(now)s
WHERE id = %(job_id)s AND state IN ('scheduled', 'queued')
RETURNING *;

-- mark_parent: note that a job has a continuation waiting for it
UPDATE {schema}.jobs SET has_children = true WHERE id = %(job_id)s AND NOT has_children;

-- release_children: queue the continuations of a job that succeeded, waking idle workers
WITH released AS (
    UPDATE {schema}.jobs SET state = 'queued', run_at = %(now)s
    WHERE parent_id = %(job_id)s AND state = 'scheduled'
    RETURNING id
)
SELECT id, pg_notify({channel}, id::text) AS notified FROM released;

-- cancel_children: cancel the waiting continuations of a job that did not succeed
UPDATE {schema}.jobs
SET state = 'cancelled', finished_at = %(now)s, error_type = 'ParentNotSucceeded', error_message = %(message)s
WHERE parent_id = %(job_id)s AND state IN ('scheduled', 'queued')
RETURNING *;

-- request_cancel: ask the worker running a job to stop it
UPDATE {schema}.jobs SET cancel_requested = true
WHERE id = %(job_id)s AND state = 'running' AND NOT cancel_requested;

-- requeue_finished: put a failed or cancelled job back in the queue, keeping its checkpoint
WITH requeued AS (
    UPDATE {schema}.jobs
    SET state = 'queued', run_at = %(now)s, attempt = 0, worker_losses = 0, finished_at = NULL,
        error_type = NULL, error_message = NULL, error_traceback = NULL, result = NULL
    WHERE id = %(job_id)s AND state IN ('failed', 'cancelled')
    RETURNING id
)
SELECT id, pg_notify({channel}, id::text) AS notified FROM requeued;

-- select_job: one job by id
SELECT * FROM {schema}.jobs WHERE id = %(job_id)s;

-- select_prunable: finished jobs of one state that ended before a time (the literal states let a
-- generic plan read jobs_finished, whose condition a bound %(state)s cannot prove)
SELECT id FROM {schema}.jobs
WHERE state IN ('succeeded', 'failed', 'cancelled') AND state = %(state)s AND finished_at < %(before)s
LIMIT %(limit)s;

-- count_by_queue_state: how many jobs each queue holds in each state (a scan of every job)
SELECT queue, state, count(*) AS n FROM {schema}.jobs GROUP BY queue, state;

-- count_unfinished_by_queue_state: waiting and running jobs per queue and state, with the oldest due
-- time of each (each half read through its partial index: the waiting jobs, the running jobs)
SELECT queue, state, count(*) AS n, min(run_at) AS oldest FROM {schema}.jobs
WHERE state IN ('queued', 'scheduled') GROUP BY queue, state
UNION ALL
SELECT queue, state, count(*), min(run_at) FROM {schema}.jobs WHERE state = 'running' GROUP BY queue, state;

-- select_events: a job's history after an event id
SELECT * FROM {schema}.job_events WHERE job_id = %(job_id)s AND id > %(after)s ORDER BY id LIMIT %(limit)s;

-- select_all_events: every job's history after an event id
SELECT * FROM {schema}.job_events WHERE id > %(after)s ORDER BY id LIMIT %(limit)s;

-- select_last_event_id: the newest event id (0 when there is none)
SELECT coalesce(max(id), 0) AS id FROM {schema}.job_events;

-- select_file: one result file with its bytes
SELECT * FROM {schema}.job_files WHERE job_id = %(job_id)s AND name = %(name)s;

-- select_files: a job's result files without their bytes
SELECT job_id, name, content_type, size, created_at FROM {schema}.job_files WHERE job_id = %(job_id)s ORDER BY name;

-- upsert_worker: register a worker (with the tasks it knows) or refresh its last-seen time
INSERT INTO {schema}.workers (id, host, pid, queues, concurrency, started_at, last_seen, tasks)
VALUES (%(id)s, %(host)s, %(pid)s, %(queues)s, %(concurrency)s, %(now)s, %(now)s, %(tasks)s)
ON CONFLICT (id) DO UPDATE SET last_seen = excluded.last_seen;

-- touch_worker: record that a worker is alive
UPDATE {schema}.workers SET last_seen = %(now)s WHERE id = %(id)s;

-- delete_worker: forget a worker that stopped
DELETE FROM {schema}.workers WHERE id = %(id)s;

-- delete_stale_workers: forget workers not seen for a while
DELETE FROM {schema}.workers WHERE last_seen < %(before)s;

-- count_waiting_by_task: waiting jobs (queued or scheduled) per queue and task, read from the ready index
SELECT queue, task, count(*) AS n FROM {schema}.jobs WHERE state IN ('queued', 'scheduled') GROUP BY queue, task;

-- select_workers: every registered worker
SELECT * FROM {schema}.workers ORDER BY started_at;

-- take_leadership: become or stay the leader of a named duty while the lease is free or ours
INSERT INTO {schema}.leader_leases AS held (name, owner, expires_at)
VALUES (%(name)s, %(owner)s, %(now)s + %(ttl)s)
ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
WHERE held.owner = excluded.owner OR held.expires_at < %(now)s
RETURNING owner;

-- release_leadership: give up a leader lease this owner holds
DELETE FROM {schema}.leader_leases WHERE name = %(name)s AND owner = %(owner)s;

-- select_jobs: newest jobs first, filtered, after a cursor (the last id of the previous page)
SELECT * FROM {schema}.jobs
WHERE (%(state)s::text IS NULL OR state = %(state)s::text) AND (%(task)s::text IS NULL OR task = %(task)s::text)
  AND (%(queue)s::text IS NULL OR queue = %(queue)s::text) AND (%(cursor)s::bigint IS NULL OR id < %(cursor)s::bigint)
ORDER BY id DESC LIMIT %(limit)s;

-- delete_jobs: remove jobs by id (a JSON array)
DELETE FROM {schema}.jobs WHERE id IN (SELECT value::bigint FROM json_array_elements_text(%(ids)s::json) AS value);

-- delete_job_events: remove the history of jobs by id (a JSON array)
DELETE FROM {schema}.job_events
WHERE job_id IN (SELECT value::bigint FROM json_array_elements_text(%(ids)s::json) AS value);

-- delete_job_files: remove the files of jobs by id (a JSON array)
DELETE FROM {schema}.job_files
WHERE job_id IN (SELECT value::bigint FROM json_array_elements_text(%(ids)s::json) AS value);

-- rescue: put a job whose lease is still expired back in the queue, counting the lost worker
WITH rescued AS (
    UPDATE {schema}.jobs
    SET state = 'queued', run_at = %(now)s, worker_losses = worker_losses + 1,
        lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
    WHERE id = %(job_id)s AND lease_token = %(lease_token)s AND state = 'running' AND lease_expires_at < %(now)s
    RETURNING id
)
SELECT id, pg_notify({channel}, id::text) AS notified FROM rescued;

-- fail_lost: fail a job whose workers died too often (its lease still expired)
UPDATE {schema}.jobs
SET state = 'failed', finished_at = %(now)s, worker_losses = worker_losses + 1,
    error_type = 'WorkerLost', error_message = %(message)s, error_traceback = NULL,
    lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
WHERE id = %(job_id)s AND lease_token = %(lease_token)s AND state = 'running' AND lease_expires_at < %(now)s
RETURNING *;
