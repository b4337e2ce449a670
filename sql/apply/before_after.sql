-- $1 statements, $2 when the fix was applied, $3 window in minutes: their calls and time in the
-- whole minutes before it and after it (the minute it happened in belongs to neither).
SELECT coalesce(sum(calls) FILTER (WHERE bucket <  date_trunc('minute', $2)), 0)::int8,
       coalesce(sum(total_ms) FILTER (WHERE bucket <  date_trunc('minute', $2)), 0)::float8,
       coalesce(sum(calls) FILTER (WHERE bucket >  date_trunc('minute', $2)), 0)::int8,
       coalesce(sum(total_ms) FILTER (WHERE bucket >  date_trunc('minute', $2)), 0)::float8
  FROM optischema.history_all
 WHERE queryid = ANY ($1)
   AND dbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
   AND bucket >= date_trunc('minute', $2) - make_interval(mins => $3)
   AND bucket <= date_trunc('minute', $2) + make_interval(mins => $3)
