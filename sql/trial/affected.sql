-- $1 recommendation id. The statements it affects: its own and those in
-- evidence.statements_helped, its own first.
SELECT coalesce(array_agg(q ORDER BY first DESC, q), '{}')
  FROM (SELECT q, bool_or(first) AS first FROM (
            SELECT r.queryid AS q, true AS first
              FROM optischema.recommendation_store r WHERE r.id = $1
            UNION ALL
            SELECT (h ->> 'queryid')::bigint, false
              FROM optischema.recommendation_store r,
                   jsonb_array_elements(coalesce(r.evidence -> 'statements_helped', '[]')) h
             WHERE r.id = $1) s
         WHERE q IS NOT NULL
         GROUP BY q) a
