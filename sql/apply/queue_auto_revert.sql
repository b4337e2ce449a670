-- $1 recommendation, $2 typed plan, $3 the statements as they read, $4 why: a revert asked by auto_revert.
INSERT INTO optischema.action_log (recommendation_id, mode, plan, steps, requested_by, reason)
VALUES ($1, 'revert', $2, $3, 'optischema auto_revert', $4)
ON CONFLICT DO NOTHING
