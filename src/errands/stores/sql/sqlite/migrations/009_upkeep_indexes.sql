-- Maintenance reads that grew with the table: promoting scheduled jobs and counting the jobs that
-- await a retry scanned every job (each maintenance tick, with a million finished or queued jobs).
-- Both sets are small and only their rows are indexed, so an enqueue of a job due now and a claim
-- write no entry to either.
CREATE INDEX jobs_scheduled ON jobs (run_at) WHERE state = 'scheduled';
CREATE INDEX jobs_retrying ON jobs (queue, task) WHERE state IN ('scheduled', 'queued') AND attempt > 0;
