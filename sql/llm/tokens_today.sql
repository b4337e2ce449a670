-- Tokens the endpoint reported for today's calls (the day in UTC).
SELECT coalesce(sum(prompt_tokens + completion_tokens), 0)::int8
  FROM optischema.ai_calls
 WHERE at >= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
