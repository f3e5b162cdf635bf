-- No statement reads jobs_task: listings filter by task on the primary key (newest first) and
-- the dashboard reads windows of ids, while claims, readiness checks and flow counts have their
-- own partial indexes. Every enqueue wrote an entry to it; now one index page less per commit.
DROP INDEX jobs_task;
