-- A job's end looks for continuations only when it has some: one round trip less per finished job.
ALTER TABLE {schema}.jobs ADD COLUMN has_children boolean NOT NULL DEFAULT false;
UPDATE {schema}.jobs SET has_children = true WHERE id IN (SELECT parent_id FROM {schema}.jobs WHERE parent_id IS NOT NULL);
