-- $1 queryid, $2 plan fingerprint, $3 model, $4 prompt version: the answer cached for them.
SELECT (SELECT answer FROM optischema.ai_cache
         WHERE queryid = $1 AND plan_fingerprint = $2 AND model = $3 AND prompt_version = $4)
