-- The next queued action, marked running; its recommendation's kind and its typed plan.
UPDATE optischema.action_log a SET status = 'running', started_at = clock_timestamp()
  FROM optischema.recommendation_store r
 WHERE r.id = a.recommendation_id
   AND a.id = (SELECT id FROM optischema.action_log WHERE status = 'queued'
                ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
RETURNING a.id, a.recommendation_id, a.mode, r.kind, a.plan
