-- One index of waiting jobs, not two: a worker that serves every queue finds the queues holding
-- waiting jobs by skipping through jobs_ready_task (one seek per queue), then reads each (queue,
-- task) pair as a worker of named queues does. Every enqueue, claim and retry wrote an entry to
-- jobs_ready_any_task too: one index page less per commit (a single enqueue ~+15%).
DROP INDEX jobs_ready_any_task;
