-- A job's end looks for continuations only when it has some: one statement less per finished job.
ALTER TABLE jobs ADD COLUMN has_children INTEGER NOT NULL DEFAULT 0;
UPDATE jobs SET has_children = 1 WHERE id IN (SELECT parent_id FROM jobs WHERE parent_id IS NOT NULL);
