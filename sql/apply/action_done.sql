-- $1 action, $2 duration (ms).
UPDATE optischema.action_log SET status = 'done', finished_at = clock_timestamp(), duration_ms = $2
WHERE id = $1
