-- $1 recommendation, $2 mode, $3 typed plan, $4 the statements as they read, $5 who asked: the action's id, NULL when one is already queued or running.
WITH a AS (INSERT INTO optischema.action_log (recommendation_id, mode, plan, steps, requested_by)
           VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING id)
SELECT (SELECT id FROM a)
