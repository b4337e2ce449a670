-- $1 queryid: what OptiSchema stored for the statement.
SELECT kind, status, title, sql, est_improvement_pct, est_ms_saved_per_hour, source
 FROM optischema.recommendation_store
WHERE queryid = $1 AND status IN ('open', 'dismissed', 'applied')
ORDER BY id
