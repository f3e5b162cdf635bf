-- Set-based statements of a worker's claim-and-settle transaction (PostgreSQL): one statement,
-- one round trip, for a whole batch, with the events it causes written by the same statement.

-- settle_many: end runs of jobs whose lease token still holds them. %(outcomes)s is a JSON array of
-- objects (the fields of `o` below; `data` is the 'state' event's data). Rows are locked in id
-- order, as every multi-row write here does; each settled job gets its 'state' event, and a
-- released job wakes idle workers. Returns the settled jobs, with what the caller needs to follow
-- their end (notification jobs, continuations). `mine` finds its rows by id, as a list (`=
-- ANY(ARRAY(...))`: the primary key, however stale the statistics), joined to their outcomes by id
-- and token (a token list as a filter would compare each row with every token), and holds them
-- locked; `settled` finds them by id one by one and checks their state on `mine`'s latest
-- versions, not on the table: a condition on the table's state would let the planner read every
-- running job through a partial index (statistics that saw few running jobs make that look cheap),
-- a thousand rows for each settle in a drain, where a worker holds hundreds of jobs ahead.
WITH o AS (
    SELECT * FROM json_to_recordset(%(outcomes)s::json) AS o(
        job_id bigint, lease_token text, state text, result text, finished boolean, retry_in double precision,
        error_type text, error_message text, error_traceback text, progress_current double precision,
        progress_total double precision, progress_message text, worker_lost integer, released integer, data json)
), mine AS (
    SELECT j.id, j.lease_token, j.state FROM {schema}.jobs j JOIN o ON o.job_id = j.id AND o.lease_token = j.lease_token
    WHERE j.id = ANY(ARRAY(SELECT job_id FROM o))
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
    FROM mine JOIN o ON o.job_id = mine.id AND o.lease_token = mine.lease_token
    WHERE j.id = mine.id AND mine.state = 'running'
    RETURNING j.id, j.state, j.notify IS NOT NULL AS notifies, j.has_children, o.data
), logged AS (
    INSERT INTO {schema}.job_events (job_id, at, kind, state, data)
    SELECT id, %(now)s, 'state', state, data FROM settled ORDER BY id
)
SELECT id, state, notifies, has_children,
       CASE WHEN state = 'queued' THEN pg_notify({channel}, id::text) END AS notified
FROM settled;

-- part_claim_began: the head of a claim statement run as a transaction of its own (autocommit): the
-- claim of an idle worker with nothing to settle (woken by a job just enqueued), in one round trip
-- instead of three. `began` takes what a claim transaction's BEGIN takes (the event-log
-- gate, waiting %(lock_timeout)s at most; the clock) and whether any flow row constrains claims: then
-- nothing is claimed, and the caller claims again in a transaction that locks the flow rows
-- (postgres_pool.claim_alone makes the statements). Its commit waits for the disk, as every write does.
WITH began AS MATERIALIZED (
    SELECT set_config('lock_timeout', %(lock_timeout)s, true) AS lock_timeout,
           pg_advisory_xact_lock_shared(%(gate)s) AS gate, extract(epoch FROM clock_timestamp())::float8 AS now,
           EXISTS (SELECT 1 FROM {schema}.flow WHERE concurrency IS NOT NULL OR rate_count IS NOT NULL
                   OR paused = 1) AS flow
)

-- part_lease: the tail of every claim statement below, after its `picked` CTE: lease the picked
-- jobs to %(worker_id)s and write their 'running' events in the same statement. A job's lease token
-- is the claim's random %(lease_nonce)s and its id (leases.lease_nonce). The picked jobs are
-- found by id as a list, through the primary key (a join on id let the planner read the whole table
-- when a batch looked like a large share of it: 10,000 rows for each claim of 500 in a drain)
, claimed AS (
    UPDATE {schema}.jobs j
    SET state = 'running', attempt = j.attempt + 1, started_at = %(now)s,
        lease_owner = %(worker_id)s, lease_token = %(lease_nonce)s || j.id::text,
        lease_expires_at = %(now)s + j.lease_seconds, cancel_requested = false
    WHERE j.id = ANY(ARRAY(SELECT id FROM picked))
    RETURNING j.*
), logged AS (
    INSERT INTO {schema}.job_events (job_id, at, kind, state, data)
    SELECT id, %(now)s, 'state', 'running', json_build_object('worker', lease_owner, 'attempt', attempt, 'task', task)
    FROM claimed ORDER BY id
)
SELECT * FROM claimed

-- claim: lease up to %(limit)s due jobs of the given queues, highest priority first, then oldest.
-- For a caller that names no tasks: workers use claim_tasks, whose indexes give claim order; here
-- each queue's ready jobs are read through jobs_ready_queue_task's queue prefix and sorted.
-- With several queues up to %(limit)s rows per queue stay locked, unclaimed, until commit.
WITH picked AS (
    SELECT c.id FROM json_array_elements_text(%(queues)s::json) AS q(name)
    CROSS JOIN LATERAL (
        SELECT id, priority, run_at FROM {schema}.jobs
        WHERE queue = q.name AND state IN ('queued', 'scheduled') AND run_at <= %(now)s
          AND task NOT IN (SELECT json_array_elements_text(%(skip_tasks)s::json))
        ORDER BY priority DESC, run_at, id
        LIMIT %(limit)s
        FOR UPDATE SKIP LOCKED
    ) c
    ORDER BY c.priority DESC, c.run_at, c.id
    LIMIT %(limit)s
)
{part_lease};

-- claim_any_queue: the same as claim, for a worker that serves every queue but %(skip_queues)s;
-- rows another claimer holds are skipped, and the CTE's LIMIT caps how many are taken
WITH picked AS (
    SELECT id FROM {schema}.jobs
    WHERE state IN ('queued', 'scheduled') AND run_at <= %(now)s
      AND queue NOT IN (SELECT json_array_elements_text(%(skip_queues)s::json))
      AND task NOT IN (SELECT json_array_elements_text(%(skip_tasks)s::json))
    ORDER BY priority DESC, run_at, id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
{part_lease};

-- claim_tasks: the same as claim, for the given tasks only (a worker claims what it knows). Each
-- (queue, task) pair is read on its own through jobs_ready_queue_task, in claim order: jobs of
-- tasks this worker does not know are never read. Up to %(limit)s rows per pair stay locked,
-- unclaimed, until commit.
WITH picked AS (
    SELECT c.id FROM json_array_elements_text(%(queues)s::json) AS q(name)
    CROSS JOIN json_array_elements_text(%(tasks)s::json) AS t(name)
    CROSS JOIN LATERAL (
        SELECT id, priority, run_at FROM {schema}.jobs
        WHERE queue = q.name AND task = t.name AND state IN ('queued', 'scheduled') AND run_at <= %(now)s
        ORDER BY priority DESC, run_at, id
        LIMIT %(limit)s
        FOR UPDATE SKIP LOCKED
    ) c
    ORDER BY c.priority DESC, c.run_at, c.id
    LIMIT %(limit)s
)
{part_lease};

-- claim_any_queue_tasks: the same as claim_tasks, for a worker that serves every queue but
-- %(skip_queues)s (one read per task through jobs_ready_task)
WITH picked AS (
    SELECT c.id FROM json_array_elements_text(%(tasks)s::json) AS t(name)
    CROSS JOIN LATERAL (
        SELECT id, priority, run_at FROM {schema}.jobs
        WHERE task = t.name AND state IN ('queued', 'scheduled') AND run_at <= %(now)s
          AND queue NOT IN (SELECT json_array_elements_text(%(skip_queues)s::json))
        ORDER BY priority DESC, run_at, id
        LIMIT %(limit)s
        FOR UPDATE SKIP LOCKED
    ) c
    ORDER BY c.priority DESC, c.run_at, c.id
    LIMIT %(limit)s
)
{part_lease};

