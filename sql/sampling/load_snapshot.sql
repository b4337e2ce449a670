-- The counters seen at the last sample: the baseline of the next.
SELECT userid::int8, dbid::int8, queryid, toplevel, calls, total_ms, rows,
       shared_blks_hit, shared_blks_read, temp_blks_written
  FROM optischema.snapshot
