-- $1 queryid, $2 plan fingerprint, $3 model, $4 prompt version, $5 answer, $6 prompt tokens,
-- $7 completion tokens: the answer cached (replaced when asked again).
INSERT INTO optischema.ai_cache
    (queryid, plan_fingerprint, model, prompt_version, answer, prompt_tokens, completion_tokens)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (queryid, plan_fingerprint, model, prompt_version) DO UPDATE
   SET answer = excluded.answer, prompt_tokens = excluded.prompt_tokens,
       completion_tokens = excluded.completion_tokens, created_at = now()
