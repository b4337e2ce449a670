-- $1 recommendation, $2 why (NULL: none given; dismissing again keeps the reason given before).
UPDATE optischema.recommendation_store
   SET dismissed_reason = CASE WHEN status = 'dismissed' THEN coalesce($2, dismissed_reason)
                               ELSE $2 END,
       status = 'dismissed', updated_at = now()
 WHERE id = $1
RETURNING id, queryid, kind, status, title, est_improvement_pct
