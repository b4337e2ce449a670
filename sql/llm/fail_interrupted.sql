-- Fails the requests a stop cut short (the worker runs one at a time).
UPDATE optischema.ai_requests
   SET status = 'failed', finished_at = now(),
       error = 'interrupted: the AI worker stopped while the request was running'
 WHERE status = 'running'
