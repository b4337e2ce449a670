-- $1..$11: bucket (seconds since the epoch), queryid, userid, toplevel, calls, total_ms, rows,
-- hit, read, temp (arrays), and this database's oid. One batch handed over by the sampler: the
-- deltas go to their minute, added to what earlier batches brought to it.
INSERT INTO optischema.history_open AS h
       (bucket, queryid, userid, dbid, toplevel, calls, total_ms, rows,
        shared_blks_hit, shared_blks_read, temp_blks_written)
SELECT to_timestamp(u.bucket), u.queryid, u.userid::oid, $11::oid, u.toplevel,
       u.calls, u.total_ms, u.rows, u.hit, u.read, u.temp
  FROM unnest($1::int8[], $2::int8[], $3::int8[], $4::bool[], $5::int8[], $6::float8[],
              $7::int8[], $8::int8[], $9::int8[], $10::int8[])
       AS u(bucket, queryid, userid, toplevel, calls, total_ms, rows, hit, read, temp)
    ON CONFLICT (queryid, bucket, userid, dbid, toplevel) DO UPDATE
   SET calls = h.calls + excluded.calls,
       total_ms = h.total_ms + excluded.total_ms,
       rows = h.rows + excluded.rows,
       shared_blks_hit = h.shared_blks_hit + excluded.shared_blks_hit,
       shared_blks_read = h.shared_blks_read + excluded.shared_blks_read,
       temp_blks_written = h.temp_blks_written + excluded.temp_blks_written
