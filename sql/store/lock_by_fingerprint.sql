-- $1 fingerprint: the recommendation with it, locked until the analysis commits.
SELECT id, status, est_improvement_pct FROM optischema.recommendation_store
 WHERE fingerprint = $1 FOR UPDATE
