-- Workers claim only the tasks they know (a mixed fleet: two apps on one store and queue).
-- A claim reads each of its (queue, task) pairs on its own, in claim order, so jobs that this
-- worker cannot run cost it nothing however many wait. These replace the ready indexes without
-- the task (every worker's claim names its tasks now): an enqueue writes no more entries than before.
CREATE INDEX jobs_ready_task ON jobs (queue, task, priority DESC, run_at, id) WHERE state IN ('queued', 'scheduled');
CREATE INDEX jobs_ready_any_task ON jobs (task, priority DESC, run_at, id) WHERE state IN ('queued', 'scheduled');
DROP INDEX jobs_ready;
DROP INDEX jobs_ready_any;
-- The tasks each live worker knows (a JSON array; NULL for a worker from before this migration,
-- which claims every task): what tells a job that no live worker can run it.
ALTER TABLE workers ADD COLUMN tasks TEXT;
