-- Fails the actions a stop cut short (the worker runs one at a time: any still running when it starts was); the recommendations whose index build was.
WITH cut AS (
    UPDATE optischema.action_log a
       SET status = 'failed', finished_at = clock_timestamp(),
           error = 'interrupted: the server or the apply worker stopped while it ran'
     WHERE status = 'running'
    RETURNING a.recommendation_id, a.mode)
SELECT coalesce(array_agg(c.recommendation_id), '{}')
  FROM cut c JOIN optischema.recommendation_store r ON r.id = c.recommendation_id
 WHERE c.mode = 'apply' AND r.kind = 'index'
