-- $1 window in minutes: open recommendations of statements with no calls in it go stale.
UPDATE optischema.recommendation_store r
   SET status = 'stale', updated_at = now()
 WHERE r.status = 'open'
   AND r.source IN ('rules', 'whatif')
   AND r.queryid IS NOT NULL
   AND NOT EXISTS (SELECT FROM optischema.history_all h
                    WHERE h.queryid = r.queryid
                      AND h.bucket > now() - make_interval(mins => $1) - interval '1 minute')
RETURNING r.id, r.queryid, r.kind, r.status, r.title, r.est_improvement_pct
