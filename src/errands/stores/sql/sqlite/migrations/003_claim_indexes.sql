-- A worker serving every queue claims through its own partial index (the per-queue index cannot
-- give it priority order), and the finished-jobs index covers finished jobs only, so the planner
-- no longer picks it for claims and enqueues no longer write to it.
CREATE INDEX jobs_ready_any ON jobs (priority DESC, run_at, id) WHERE state IN ('queued', 'scheduled');
DROP INDEX jobs_state_finished;
CREATE INDEX jobs_finished ON jobs (state, finished_at) WHERE state IN ('succeeded', 'failed', 'cancelled');
