-- $1 queryid: queues a question to the AI worker unless one is queued or running; the request's id and whether it is new.
WITH new AS (INSERT INTO optischema.ai_requests (queryid, requested_by) VALUES ($1, $2)
             ON CONFLICT DO NOTHING RETURNING id)
SELECT id FROM new
UNION ALL
SELECT id FROM optischema.ai_requests WHERE queryid = $1 AND status IN ('queued', 'running')
LIMIT 1
