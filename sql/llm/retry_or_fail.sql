-- $1 request, $2 error, $3 seconds to wait: the request is queued again, not before then.
UPDATE optischema.ai_requests
   SET status = 'queued', error = $2, not_before = now() + make_interval(secs => $3)
 WHERE id = $1
