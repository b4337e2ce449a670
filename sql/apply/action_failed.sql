-- $1 action, $2 duration (ms), $3 the error.
UPDATE optischema.action_log SET status = 'failed', finished_at = clock_timestamp(),
      duration_ms = $2, error = $3
WHERE id = $1
