-- $1 relation, $2 fingerprints found now: its other open drop-index findings become stale.
UPDATE optischema.recommendation_store SET status = 'stale', updated_at = now()
 WHERE queryid IS NULL AND kind = 'drop_index' AND status = 'open'
   AND evidence ->> 'relation' = $1 AND fingerprint <> ALL ($2)
RETURNING id, queryid, kind, status, title, est_improvement_pct
