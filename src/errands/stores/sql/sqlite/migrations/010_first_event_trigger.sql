-- Every job's history opens with a 'state' event {"task": <name>} at its created_at, written by the
-- statement that inserts the job: on PostgreSQL by a WITH clause of each insert statement
-- (insert_job, enqueue_job, insert_jobs_bulk), here by this trigger, since SQLite statements cannot
-- write two tables. No Python path writes that event: single and bulk enqueues, continuations,
-- notifications, schedules and replacements all insert through those statements. The data text is
-- what json.dumps({"task": name}, ensure_ascii=False) gives (`produce.first_event_data`). A single
-- enqueue is then one INSERT in autocommit (one statement instead of four), and a bulk enqueue one
-- statement instead of two.
CREATE TRIGGER jobs_first_event AFTER INSERT ON jobs
BEGIN
    INSERT INTO job_events (job_id, at, kind, state, data)
    VALUES (new.id, new.created_at, 'state', new.state, '{"task": ' || json_quote(new.task) || '}');
END;
