-- $1 recommendation, $2 realized improvement (%), $3 realized ms saved per hour.
UPDATE optischema.recommendation_store
   SET realized_improvement_pct = $2, realized_ms_saved_per_hour = $3, realized_at = now()
 WHERE id = $1
