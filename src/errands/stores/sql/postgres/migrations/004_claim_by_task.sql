-- Workers claim only the tasks they know (a mixed fleet: two apps on one store and queue).
-- A claim reads each of its (queue, task) pairs on its own, in claim order, so jobs that this
-- worker cannot run cost it nothing however many wait. These replace the ready indexes without
-- the task: every worker's claim names its tasks now, an enqueue writes no more entries than
-- before, and the planner cannot pick an index where a task absent from the backlog costs a
-- scan of all of it (the task in a lateral is a parameter it cannot estimate).
CREATE INDEX jobs_ready_task ON {schema}.jobs (task, priority DESC, run_at, id) WHERE state IN ('queued', 'scheduled');
CREATE INDEX jobs_ready_queue_task ON {schema}.jobs (queue, task, priority DESC, run_at, id)
    WHERE state IN ('queued', 'scheduled');
DROP INDEX {schema}.jobs_ready;
DROP INDEX {schema}.jobs_ready_queue;
-- The tasks each live worker knows (NULL for a worker from before this migration, which claims
-- every task): what tells a job that no live worker can run it.
ALTER TABLE {schema}.workers ADD COLUMN tasks json;
