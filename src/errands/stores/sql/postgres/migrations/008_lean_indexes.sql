-- Two full indexes took an entry at every change of every job (enqueue, claim, settle: each writes
-- a new row version) for reads that have better ways, as on SQLite (its migrations 003 and 008):
-- no statement needs jobs_task (listings filter by task on the primary key, newest first; the
-- dashboard reads windows of ids; claims, readiness and flow counts have partial indexes), and
-- only finished jobs are looked up by (state, finished_at): purges, throughput per minute, the
-- finished counts. Claims and settles do ~10% more a second without them.
DROP INDEX {schema}.jobs_task;
DROP INDEX {schema}.jobs_state_finished;
CREATE INDEX jobs_finished ON {schema}.jobs (state, finished_at) WHERE state IN ('succeeded', 'failed', 'cancelled');
