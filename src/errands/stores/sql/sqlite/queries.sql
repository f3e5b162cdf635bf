-- Named statements of the SQLite store. Each opens with "-- name: purpose".
-- Parameters are :named; :now is always the writer's clock, passed in by the store.

-- insert_job: store one new job, or nothing when an unfinished job holds its unique key (the trigger
-- jobs_first_event writes its first event: migration 010)
INSERT INTO jobs (task, queue, priority, args, state, max_attempts, run_at, created_at,
                  unique_key, notify, parent_id, timeout, lease_seconds, max_worker_losses)
VALUES (:task, :queue, :priority, :args, :state, :max_attempts, :run_at, :now,
        :unique_key, :notify, :parent_id, :timeout, :lease_seconds, :max_worker_losses)
ON CONFLICT DO NOTHING
RETURNING *;

-- insert_jobs_bulk: store many jobs alike but for their arguments (no unique keys, no parents) in one
-- statement, with their first events (the trigger jobs_first_event); :args is a JSON array of their
-- arguments as strings, in the order ids are given out
INSERT INTO jobs (task, queue, priority, args, state, max_attempts, run_at, created_at,
                  notify, timeout, lease_seconds, max_worker_losses)
SELECT :task, :queue, :priority, value, :state, :max_attempts, :run_at, :now,
       :notify, :timeout, :lease_seconds, :max_worker_losses
FROM json_each(:args)
RETURNING id;

-- find_unfinished_by_key: the unfinished job that already holds a unique key
SELECT * FROM jobs
WHERE unique_key = :unique_key AND (state = 'scheduled' OR state = 'queued' OR state = 'running');

-- enqueue_job: store one job without a unique key or parent as a transaction of its own
-- (autocommit), with its first event (the trigger jobs_first_event)
INSERT INTO jobs (task, queue, priority, args, state, max_attempts, run_at, created_at,
                  notify, timeout, lease_seconds, max_worker_losses)
VALUES (:task, :queue, :priority, :args, :state, :max_attempts, :run_at, :now,
        :notify, :timeout, :lease_seconds, :max_worker_losses);

-- insert_event: append one line to a job's history
INSERT INTO job_events (job_id, at, kind, state, data) VALUES (:job_id, :now, :kind, :state, :data);

-- insert_events_bulk: append many lines to job histories in one statement, in the order given;
-- :events is a JSON array of [job_id, kind, state, data]
INSERT INTO job_events (job_id, at, kind, state, data)
SELECT value ->> 0, :now, value ->> 1, value ->> 2, value ->> 3 FROM json_each(:events);

-- claim: lease up to :limit due jobs of the given queues, highest priority first, then oldest, for a
-- caller that names no tasks (workers use claim_tasks)
UPDATE jobs
SET state = 'running', attempt = attempt + 1, started_at = :now,
    lease_owner = :worker_id, lease_token = :lease_nonce || id,
    lease_expires_at = :now + lease_seconds, cancel_requested = 0
WHERE id IN (
    SELECT id FROM jobs
    WHERE state IN ('queued', 'scheduled') AND run_at <= :now AND queue IN (SELECT value FROM json_each(:queues))
      AND task NOT IN (SELECT value FROM json_each(:skip_tasks))
    ORDER BY priority DESC, run_at, id
    LIMIT :limit
)
RETURNING *;

-- claim_any_queue: the same as claim, for a worker that serves every queue but :skip_queues
UPDATE jobs
SET state = 'running', attempt = attempt + 1, started_at = :now,
    lease_owner = :worker_id, lease_token = :lease_nonce || id,
    lease_expires_at = :now + lease_seconds, cancel_requested = 0
WHERE id IN (
    SELECT id FROM jobs
    WHERE state IN ('queued', 'scheduled') AND run_at <= :now
      AND queue NOT IN (SELECT value FROM json_each(:skip_queues))
      AND task NOT IN (SELECT value FROM json_each(:skip_tasks))
    ORDER BY priority DESC, run_at, id
    LIMIT :limit
)
RETURNING *;

-- claim_tasks: the same as claim, for the given tasks only (a worker claims what it knows; flow
-- control takes paused and full queues and tasks out of both lists before). Each
-- (queue, task) pair is read on its own through jobs_ready_task, in claim order, then the best
-- :limit of them are taken: jobs of tasks this worker does not know are never read. The index is
-- given by name, as statistics of a backlog of one task can lead SQLite to skip-scan another.
UPDATE jobs
SET state = 'running', attempt = attempt + 1, started_at = :now,
    lease_owner = :worker_id, lease_token = :lease_nonce || id,
    lease_expires_at = :now + lease_seconds, cancel_requested = 0
WHERE id IN (
    SELECT j.id FROM json_each(:queues) AS q, json_each(:tasks) AS t, jobs AS j
    WHERE j.id IN (
        SELECT id FROM jobs INDEXED BY jobs_ready_task
        WHERE queue = q.value AND task = t.value AND state IN ('queued', 'scheduled') AND run_at <= :now
        ORDER BY priority DESC, run_at, id
        LIMIT :limit
    )
    ORDER BY j.priority DESC, j.run_at, j.id
    LIMIT :limit
)
RETURNING *;

-- claim_any_queue_tasks: the same as claim_tasks, for a worker that serves every queue but
-- :skip_queues, over the queues that hold waiting jobs (part_waiting_queues)
{part_waiting_queues}
UPDATE jobs
SET state = 'running', attempt = attempt + 1, started_at = :now,
    lease_owner = :worker_id, lease_token = :lease_nonce || id,
    lease_expires_at = :now + lease_seconds, cancel_requested = 0
WHERE id IN (
    SELECT j.id FROM waiting_queue AS q, json_each(:tasks) AS t, jobs AS j
    WHERE q.name IS NOT NULL AND q.name NOT IN (SELECT value FROM json_each(:skip_queues)) AND j.id IN (
        SELECT id FROM jobs INDEXED BY jobs_ready_task
        WHERE queue = q.name AND task = t.value AND state IN ('queued', 'scheduled') AND run_at <= :now
        ORDER BY priority DESC, run_at, id
        LIMIT :limit
    )
    ORDER BY j.priority DESC, j.run_at, j.id
    LIMIT :limit
)
RETURNING *;

-- part_waiting_queues: every queue holding waiting jobs, skipping through jobs_ready_task: one
-- seek per queue, however many jobs wait
WITH RECURSIVE waiting_queue(name) AS (
    SELECT (SELECT min(queue) FROM jobs INDEXED BY jobs_ready_task WHERE state IN ('queued', 'scheduled'))
    UNION ALL
    SELECT (SELECT min(queue) FROM jobs INDEXED BY jobs_ready_task
            WHERE state IN ('queued', 'scheduled') AND queue > waiting_queue.name)
    FROM waiting_queue WHERE name IS NOT NULL
)

-- has_ready: whether a due job waits in the given queues (a read: idle workers ask before they lock)
SELECT EXISTS (
    SELECT 1 FROM jobs
    WHERE state IN ('queued', 'scheduled') AND run_at <= :now AND queue IN (SELECT value FROM json_each(:queues))
) AS ready;

-- has_ready_any_queue: the same as has_ready, for a worker that serves every queue
SELECT EXISTS (SELECT 1 FROM jobs WHERE state IN ('queued', 'scheduled') AND run_at <= :now) AS ready;

-- has_ready_tasks: the same as has_ready, for the given tasks only
SELECT EXISTS (
    SELECT 1 FROM jobs INDEXED BY jobs_ready_task
    WHERE state IN ('queued', 'scheduled') AND run_at <= :now
      AND queue IN (SELECT value FROM json_each(:queues)) AND task IN (SELECT value FROM json_each(:tasks))
) AS ready;

-- has_ready_any_queue_tasks: the same as has_ready_tasks, for a worker that serves every queue but
-- :skip_queues
{part_waiting_queues}
SELECT EXISTS (
    SELECT 1 FROM waiting_queue AS q, jobs INDEXED BY jobs_ready_task
    WHERE q.name IS NOT NULL AND q.name NOT IN (SELECT value FROM json_each(:skip_queues))
      AND queue = q.name AND state IN ('queued', 'scheduled') AND run_at <= :now
      AND task IN (SELECT value FROM json_each(:tasks))
) AS ready;

-- count_retrying: failed jobs waiting for their retry (in backoff or due), in the given queues and of
-- the given tasks (NULL: all)
SELECT count(*) AS n FROM jobs
WHERE state IN ('scheduled', 'queued') AND attempt > 0
  AND (:queues IS NULL OR queue IN (SELECT value FROM json_each(:queues)))
  AND (:tasks IS NULL OR task IN (SELECT value FROM json_each(:tasks)));

-- extend_leases: renew, in one statement, the leases a worker knows it holds (:tokens, a JSON array);
-- a claim whose answer never reached the worker is not renewed, so it expires and is rescued
UPDATE jobs SET lease_expires_at = :now + lease_seconds
WHERE state = 'running' AND lease_owner = :worker_id AND lease_token IN (SELECT value FROM json_each(:tokens))
RETURNING id, lease_token, cancel_requested;

-- cancel_requests: running jobs of a worker that someone asked to cancel
SELECT id FROM jobs WHERE lease_owner = :worker_id AND state = 'running' AND cancel_requested = 1;

-- save_progress: record progress of a job this worker still holds, renewing its lease
UPDATE jobs
SET progress_current = :current, progress_total = :total, progress_message = :message,
    lease_expires_at = :now + lease_seconds
WHERE id = :job_id AND lease_token = :lease_token AND state = 'running';

-- save_checkpoint: record resumable state of a job this worker still holds, renewing its lease
UPDATE jobs SET checkpoint = :checkpoint, lease_expires_at = :now + lease_seconds
WHERE id = :job_id AND lease_token = :lease_token AND state = 'running';

-- holds_lease: whether a lease token still owns a running job
SELECT 1 FROM jobs WHERE id = :job_id AND lease_token = :lease_token AND state = 'running';

-- upsert_file: store or replace one result file of a job
INSERT INTO job_files (job_id, name, content_type, size, data, created_at)
VALUES (:job_id, :name, :content_type, :size, :data, :now)
ON CONFLICT (job_id, name) DO UPDATE
SET content_type = excluded.content_type, size = excluded.size, data = excluded.data, created_at = excluded.created_at;

-- expired_leases: running jobs whose lease ran out; :since (or NULL): when the leader regained
-- the store after an outage; a job is then left one lease after it, for its worker to renew
SELECT id, lease_token, worker_losses, max_worker_losses FROM jobs
WHERE state = 'running' AND lease_expires_at < :now AND (:since IS NULL OR :now >= :since + lease_seconds);

-- promote_due: move scheduled jobs whose time came to the queue
UPDATE jobs SET state = 'queued'
WHERE state = 'scheduled' AND run_at <= :now
RETURNING id;

-- age_job: raise a waiting job's priority (aging); nothing when it was claimed or cancelled meanwhile
UPDATE jobs SET priority = :priority
WHERE id = :job_id AND state IN ('queued', 'scheduled') AND priority < :priority;

-- cancel_waiting: cancel a job that has not started
UPDATE jobs SET state = 'cancelled', finished_at = :now
WHERE id = :job_id AND state IN ('scheduled', 'queued')
RETURNING *;

-- mark_parent: note that a job has a continuation waiting for it
UPDATE jobs SET has_children = 1 WHERE id = :job_id AND has_children = 0;

-- release_children: queue the continuations of a job that succeeded
UPDATE jobs SET state = 'queued', run_at = :now
WHERE parent_id = :job_id AND state = 'scheduled'
RETURNING id;

-- cancel_children: cancel the waiting continuations of a job that did not succeed
UPDATE jobs
SET state = 'cancelled', finished_at = :now, error_type = 'ParentNotSucceeded', error_message = :message
WHERE parent_id = :job_id AND state IN ('scheduled', 'queued')
RETURNING *;

-- request_cancel: ask the worker running a job to stop it
UPDATE jobs SET cancel_requested = 1 WHERE id = :job_id AND state = 'running' AND cancel_requested = 0;

-- requeue_finished: put a failed or cancelled job back in the queue, keeping its checkpoint
UPDATE jobs
SET state = 'queued', run_at = :now, attempt = 0, worker_losses = 0, finished_at = NULL,
    error_type = NULL, error_message = NULL, error_traceback = NULL, result = NULL
WHERE id = :job_id AND state IN ('failed', 'cancelled');

-- select_job: one job by id
SELECT * FROM jobs WHERE id = :job_id;

-- select_prunable: finished jobs of one state that ended before a time (the literal states let
-- SQLite read jobs_finished, whose condition a bound :state cannot prove)
SELECT id FROM jobs
WHERE (state = 'succeeded' OR state = 'failed' OR state = 'cancelled') AND state = :state AND finished_at < :before LIMIT :limit;

-- count_by_queue_state: how many jobs each queue holds in each state (a scan of every job)
SELECT queue, state, count(*) AS n FROM jobs GROUP BY queue, state;

-- count_unfinished_by_queue_state: waiting and running jobs per queue and state, with the oldest due
-- time of each (each half read through its partial index: the waiting jobs, the running jobs)
SELECT queue, state, count(*) AS n, min(run_at) AS oldest FROM jobs
WHERE state IN ('queued', 'scheduled') GROUP BY queue, state
UNION ALL
SELECT queue, state, count(*), min(run_at) FROM jobs WHERE state = 'running' GROUP BY queue, state;

-- select_events: a job's history after an event id
SELECT * FROM job_events WHERE job_id = :job_id AND id > :after ORDER BY id LIMIT :limit;

-- select_all_events: every job's history after an event id
SELECT * FROM job_events WHERE id > :after ORDER BY id LIMIT :limit;

-- select_last_event_id: the newest event id (0 when there is none)
SELECT coalesce(max(id), 0) AS id FROM job_events;

-- select_file: one result file with its bytes
SELECT * FROM job_files WHERE job_id = :job_id AND name = :name;

-- select_files: a job's result files without their bytes
SELECT job_id, name, content_type, size, created_at FROM job_files WHERE job_id = :job_id ORDER BY name;

-- upsert_worker: register a worker (with the tasks it knows) or refresh its last-seen time
INSERT INTO workers (id, host, pid, queues, concurrency, started_at, last_seen, tasks)
VALUES (:id, :host, :pid, :queues, :concurrency, :now, :now, :tasks)
ON CONFLICT (id) DO UPDATE SET last_seen = excluded.last_seen;

-- touch_worker: record that a worker is alive
UPDATE workers SET last_seen = :now WHERE id = :id;

-- delete_worker: forget a worker that stopped
DELETE FROM workers WHERE id = :id;

-- delete_stale_workers: forget workers not seen for a while
DELETE FROM workers WHERE last_seen < :before;

-- count_waiting_by_task: waiting jobs (queued or scheduled) per queue and task, read from the ready index
SELECT queue, task, count(*) AS n FROM jobs WHERE state IN ('queued', 'scheduled') GROUP BY queue, task;

-- select_workers: every registered worker
SELECT * FROM workers ORDER BY started_at;

-- take_leadership: become or stay the leader of a named duty while the lease is free or ours
INSERT INTO leader_leases (name, owner, expires_at) VALUES (:name, :owner, :now + :ttl)
ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
WHERE leader_leases.owner = excluded.owner OR leader_leases.expires_at < :now
RETURNING owner;

-- release_leadership: give up a leader lease this owner holds
DELETE FROM leader_leases WHERE name = :name AND owner = :owner;

-- select_jobs: newest jobs first, filtered, after a cursor (the last id of the previous page)
SELECT * FROM jobs
WHERE (:state IS NULL OR state = :state) AND (:task IS NULL OR task = :task)
  AND (:queue IS NULL OR queue = :queue) AND (:cursor IS NULL OR id < :cursor)
ORDER BY id DESC LIMIT :limit;

-- delete_jobs: remove jobs by id (a JSON array)
DELETE FROM jobs WHERE id IN (SELECT value FROM json_each(:ids));

-- delete_job_events: remove the history of jobs by id (a JSON array)
DELETE FROM job_events WHERE job_id IN (SELECT value FROM json_each(:ids));

-- delete_job_files: remove the files of jobs by id (a JSON array)
DELETE FROM job_files WHERE job_id IN (SELECT value FROM json_each(:ids));

-- rescue: put a job whose lease is still expired back in the queue, counting the lost worker
UPDATE jobs
SET state = 'queued', run_at = :now, worker_losses = worker_losses + 1,
    lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
WHERE id = :job_id AND lease_token = :lease_token AND state = 'running' AND lease_expires_at < :now;

-- fail_lost: fail a job whose workers died too often (its lease still expired)
UPDATE jobs
SET state = 'failed', finished_at = :now, worker_losses = worker_losses + 1,
    error_type = 'WorkerLost', error_message = :message, error_traceback = NULL,
    lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
WHERE id = :job_id AND lease_token = :lease_token AND state = 'running' AND lease_expires_at < :now
RETURNING *;
