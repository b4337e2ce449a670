-- $1 a database that has taken nothing yet: the history the home database keeps of it over
-- the last day (this sample's deltas included), per minute, role and toplevel, for its
-- catch-up batch. A day bounds the batch; older minutes stay in the home database's history.
-- Columns as pgss::entry_of reads them, then the minute (seconds since the epoch).
SELECT h.userid::int8, h.dbid::int8, h.queryid, h.toplevel,
       h.calls, h.total_ms, h.rows, h.shared_blks_hit, h.shared_blks_read, h.temp_blks_written,
       extract(epoch FROM h.bucket)::int8
  FROM optischema.history_all h
 WHERE h.dbid = $1::oid
   AND h.bucket > now() - interval '1 day'
 ORDER BY h.bucket, h.queryid
