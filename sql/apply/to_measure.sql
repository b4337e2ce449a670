-- $1 window in minutes. Applied recommendations whose apply finished a whole window (and the
-- minute it ended in) ago and that were not measured since: the recommendation, when its apply
-- finished, and the statements it helps (its own and those in evidence.statements_helped).
SELECT r.id, a.finished_at,
       ARRAY(SELECT DISTINCT q FROM (
                 SELECT r.queryid AS q WHERE r.queryid IS NOT NULL
                 UNION ALL
                 SELECT (h ->> 'queryid')::bigint
                   FROM jsonb_array_elements(coalesce(r.evidence -> 'statements_helped', '[]')) h) s
              WHERE q IS NOT NULL)
  FROM optischema.recommendation_store r
  JOIN LATERAL (SELECT finished_at FROM optischema.action_log
                 WHERE recommendation_id = r.id AND mode = 'apply' AND status = 'done'
                 ORDER BY id DESC LIMIT 1) a ON true
 WHERE r.status = 'applied'
   AND a.finished_at < now() - make_interval(mins => $1 + 1)
   AND (r.realized_at IS NULL OR r.realized_at < a.finished_at)
