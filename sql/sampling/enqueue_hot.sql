-- $1 how many, $2 window in minutes. Queues the hottest statements of this database that have
-- open recommendations and were not asked about in the last day.
INSERT INTO optischema.ai_requests (queryid, requested_by)
SELECT h.queryid, 'optischema worker'
  FROM (SELECT queryid, sum(total_ms) AS total_ms
          FROM optischema.history_all
         WHERE dbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
           AND bucket > now() - make_interval(mins => $2)
         GROUP BY queryid) h
 WHERE EXISTS (SELECT FROM optischema.recommendation_store r
                WHERE r.queryid = h.queryid AND r.status = 'open')
   AND NOT EXISTS (SELECT FROM optischema.ai_requests q
                    WHERE q.queryid = h.queryid AND q.requested_at > now() - interval '1 day')
 ORDER BY h.total_ms DESC
 LIMIT $1
ON CONFLICT DO NOTHING
