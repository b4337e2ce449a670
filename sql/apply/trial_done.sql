-- $1 action, $2 duration (ms), $3 what the trial measured.
UPDATE optischema.action_log SET status = 'done', finished_at = clock_timestamp(), duration_ms = $2,
      result = $3
WHERE id = $1
