-- Moves the rows of minutes that have closed from history_open to history.
WITH closed AS (
    DELETE FROM optischema.history_open
     WHERE bucket < date_trunc('minute', now())
    RETURNING *
)
INSERT INTO optischema.history AS h
SELECT * FROM closed
    ON CONFLICT (queryid, bucket, userid, dbid, toplevel) DO UPDATE
   SET calls = h.calls + excluded.calls,
       total_ms = h.total_ms + excluded.total_ms,
       rows = h.rows + excluded.rows,
       shared_blks_hit = h.shared_blks_hit + excluded.shared_blks_hit,
       shared_blks_read = h.shared_blks_read + excluded.shared_blks_read,
       temp_blks_written = h.temp_blks_written + excluded.temp_blks_written
