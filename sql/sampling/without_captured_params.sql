-- $1 queryids that ran in this sample: those of which no value set is stored (never captured,
-- pruned, removed by reset(), lost), whose next executions are captured again.
SELECT q
  FROM unnest($1::int8[]) AS q
 WHERE NOT EXISTS (SELECT FROM optischema.captured_params c WHERE c.queryid = q)
