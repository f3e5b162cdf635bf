-- Continuations: a job's end looks up the jobs waiting for it; only jobs with a parent are indexed.
CREATE INDEX jobs_parent ON jobs (parent_id) WHERE parent_id IS NOT NULL;
