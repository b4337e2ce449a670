-- The oldest request that may run now, marked running (one AI worker; SKIP LOCKED keeps a
-- concurrent ask() from waiting on it).
UPDATE optischema.ai_requests r
   SET status = 'running', attempts = r.attempts + 1
 WHERE r.id = (SELECT id FROM optischema.ai_requests
                WHERE status = 'queued' AND not_before <= now()
                ORDER BY requested_at, id
                LIMIT 1
                FOR UPDATE SKIP LOCKED)
RETURNING r.id, r.queryid, r.attempts
