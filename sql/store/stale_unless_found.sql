-- $1 queryid, $2 fingerprints found now, $3 whether open index recommendations stay (an index
-- search that ran out of time): the statement's other open findings become stale.
UPDATE optischema.recommendation_store SET status = 'stale', updated_at = now()
 WHERE queryid = $1 AND status = 'open' AND source IN ('rules', 'whatif') AND fingerprint <> ALL ($2)
   AND NOT ($3 AND kind = 'index')
RETURNING id, queryid, kind, status, title, est_improvement_pct
