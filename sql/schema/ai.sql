-- The LLM layer: requests waiting for the AI worker, its answers, and every call it made.

-- ask() and the sampler queue statements here; the AI worker takes them one at a time.
CREATE TABLE optischema.ai_requests (
    id           bigserial PRIMARY KEY,
    queryid      bigint NOT NULL,
    requested_by text NOT NULL DEFAULT current_user,
    requested_at timestamptz NOT NULL DEFAULT now(),
    status       text NOT NULL DEFAULT 'queued'
                 CHECK (status IN ('queued', 'running', 'done', 'failed', 'skipped')),
    attempts     int NOT NULL DEFAULT 0,
    -- a rate-limited or failed request waits until then
    not_before   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    error        text
);
-- one open request per statement
CREATE UNIQUE INDEX ai_requests_open ON optischema.ai_requests (queryid)
    WHERE status IN ('queued', 'running');

-- Answers, keyed so that the same question is never sent twice.
CREATE TABLE optischema.ai_cache (
    queryid           bigint NOT NULL,
    plan_fingerprint  text NOT NULL,
    model             text NOT NULL,
    prompt_version    int NOT NULL,
    -- explanation, rewritten_sql, index_suggestions, risks
    answer            jsonb NOT NULL,
    prompt_tokens     bigint NOT NULL,
    completion_tokens bigint NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (queryid, plan_fingerprint, model, prompt_version)
);

-- Every call to the endpoint: what it cost and how it ended.
CREATE TABLE optischema.ai_calls (
    id                bigserial PRIMARY KEY,
    at                timestamptz NOT NULL DEFAULT now(),
    queryid           bigint,
    model             text NOT NULL,
    -- ok, rate_limited, timeout, transport, http_error, malformed, refused
    outcome           text NOT NULL,
    prompt_tokens     bigint NOT NULL DEFAULT 0,
    completion_tokens bigint NOT NULL DEFAULT 0,
    duration_ms       double precision NOT NULL,
    error             text
);
CREATE INDEX ai_calls_at ON optischema.ai_calls (at);

-- Recommendations with the latest explanation of their statement, when there is one.
CREATE OR REPLACE VIEW optischema.recommendations AS
SELECT r.id, r.queryid, r.kind, r.status, r.title, r.sql, r.explanation, r.evidence,
       r.est_cost_before, r.est_cost_after, r.est_improvement_pct, r.est_ms_saved_per_hour,
       r.confidence, r.source, r.rule, r.dismissed_reason, r.created_at, r.updated_at,
       s.query,
       (SELECT c.answer ->> 'explanation' FROM optischema.ai_cache c
         WHERE c.queryid = r.queryid ORDER BY c.created_at DESC LIMIT 1) AS ai_explanation,
       r.realized_improvement_pct, r.realized_ms_saved_per_hour, r.realized_at
  FROM optischema.recommendation_store r
  LEFT JOIN optischema.statements s USING (queryid);
