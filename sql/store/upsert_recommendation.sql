-- $1 fingerprint, $2 queryid, $3 kind, $4 status, $5 title, $6 sql, $7 explanation,
-- $8 evidence, $9 est_cost_before, $10 est_cost_after, $11 est_improvement_pct,
-- $12 est_ms_saved_per_hour, $13 confidence, $14 rule, $15 source
INSERT INTO optischema.recommendation_store AS r
       (fingerprint, queryid, kind, status, title, sql, explanation, evidence, est_cost_before,
        est_cost_after, est_improvement_pct, est_ms_saved_per_hour, confidence, rule, source)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
    ON CONFLICT (fingerprint) DO UPDATE
   SET queryid = coalesce(excluded.queryid, r.queryid),
       status = excluded.status,
       title = excluded.title,
       sql = excluded.sql,
       explanation = excluded.explanation,
       -- a trial's results outlive the next analysis
       evidence = excluded.evidence
                  || CASE WHEN r.evidence ? 'trial'
                          THEN jsonb_build_object('trial', r.evidence -> 'trial') ELSE '{}' END,
       est_cost_before = excluded.est_cost_before,
       est_cost_after = excluded.est_cost_after,
       est_improvement_pct = excluded.est_improvement_pct,
       est_ms_saved_per_hour = excluded.est_ms_saved_per_hour,
       confidence = excluded.confidence,
       rule = excluded.rule,
       source = excluded.source,
       updated_at = now()
RETURNING id, queryid, kind, status, title, est_improvement_pct
