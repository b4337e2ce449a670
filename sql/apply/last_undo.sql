-- $1 recommendation: what undoes its last done apply (typed steps), NULL without one.
SELECT (SELECT undo FROM optischema.action_log
         WHERE recommendation_id = $1 AND mode = 'apply' AND status = 'done'
         ORDER BY id DESC LIMIT 1)
