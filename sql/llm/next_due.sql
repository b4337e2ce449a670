-- When the earliest request waiting to be asked again comes due, in seconds since the epoch.
SELECT ceil(extract(epoch FROM min(not_before)))::int8
  FROM optischema.ai_requests
 WHERE status = 'queued'
