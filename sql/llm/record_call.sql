-- One call to the model: $1 queryid, $2 model, $3 outcome, $4 prompt tokens, $5 completion
-- tokens, $6 duration (ms), $7 error.
INSERT INTO optischema.ai_calls (queryid, model, outcome, prompt_tokens, completion_tokens, duration_ms, error)
VALUES ($1, $2, $3, $4, $5, $6, $7)
