-- Trying and applying fixes: one row per trial, apply or revert, kept as the audit trail.
CREATE TABLE optischema.action_log (
    id                bigserial PRIMARY KEY,
    recommendation_id bigint NOT NULL REFERENCES optischema.recommendation_store (id),
    mode              text NOT NULL CHECK (mode IN ('trial', 'apply', 'revert')),
    requested_by      text NOT NULL DEFAULT current_user,
    requested_at      timestamptz NOT NULL DEFAULT now(),
    status            text NOT NULL DEFAULT 'queued'
                      CHECK (status IN ('queued', 'running', 'done', 'failed')),
    -- what is run, in order (typed steps, see the README's "Applying fixes"); the worker rebuilds each
    -- statement from them when it runs
    plan              jsonb NOT NULL CHECK (jsonb_typeof(plan) = 'array'),
    -- the statements as they read when queued, for people
    steps             text[] NOT NULL,
    -- what undoes it (typed steps), recorded as it runs, and how that read then
    undo              jsonb CHECK (jsonb_typeof(undo) = 'array'),
    undo_sql          text,
    started_at        timestamptz,
    finished_at       timestamptz,
    duration_ms       double precision,
    error             text,
    -- why it was asked for, when OptiSchema asked itself (auto_revert)
    reason            text,
    -- what a trial measured (also in the recommendation's evidence.trial)
    result            jsonb
);
-- one action at a time per recommendation: a second apply of the same id is refused
CREATE UNIQUE INDEX action_log_one_at_a_time ON optischema.action_log (recommendation_id)
    WHERE status IN ('queued', 'running');

CREATE VIEW optischema.actions AS
SELECT a.id, a.recommendation_id, r.kind, a.mode, a.requested_by AS who,
       array_to_string(a.steps, '; ') AS what,
       a.requested_at AS requested, a.started_at, a.finished_at, a.status AS outcome,
       a.duration_ms, a.error, a.reason, a.result
  FROM optischema.action_log a
  JOIN optischema.recommendation_store r ON r.id = a.recommendation_id;
