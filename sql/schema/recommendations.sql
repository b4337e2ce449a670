-- What the analysis found: one row per fingerprint (kind + normalized target), updated in place.
CREATE TABLE optischema.recommendation_store (
    id                    bigserial PRIMARY KEY,
    fingerprint           text NOT NULL UNIQUE,
    -- the statement it was found for (NULL for table-level findings such as unused indexes)
    queryid               bigint,
    kind                  text NOT NULL
                          CHECK (kind IN ('index', 'drop_index', 'statistics', 'analyze', 'config', 'rewrite')),
    status                text NOT NULL DEFAULT 'open'
                          CHECK (status IN ('open', 'dismissed', 'applied', 'reverted', 'stale', 'unverified')),
    title                 text NOT NULL,
    sql                   text NOT NULL,
    explanation           text NOT NULL,
    evidence              jsonb NOT NULL DEFAULT '{}',
    est_cost_before       double precision,
    est_cost_after        double precision,
    est_improvement_pct   double precision CHECK (est_improvement_pct BETWEEN 0 AND 100),
    est_ms_saved_per_hour double precision CHECK (est_ms_saved_per_hour >= 0),
    -- measured after applying: the helped statements' mean time in a window after against the
    -- same length before (negative when they got slower)
    realized_improvement_pct   double precision,
    realized_ms_saved_per_hour double precision,
    realized_at                timestamptz,
    confidence            double precision NOT NULL CHECK (confidence BETWEEN 0 AND 1),
    source                text NOT NULL DEFAULT 'rules' CHECK (source IN ('rules', 'whatif', 'ai')),
    rule                  text,
    dismissed_reason      text,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX recommendation_store_queryid ON optischema.recommendation_store (queryid);

-- Statements that cannot be planned as they stand, recorded once with the reason.
CREATE TABLE optischema.unexplainable (
    queryid    bigint PRIMARY KEY,
    reason     text NOT NULL,
    first_seen timestamptz NOT NULL DEFAULT now()
);

CREATE VIEW optischema.recommendations AS
SELECT r.id, r.queryid, r.kind, r.status, r.title, r.sql, r.explanation, r.evidence,
       r.est_cost_before, r.est_cost_after, r.est_improvement_pct, r.est_ms_saved_per_hour,
       r.confidence, r.source, r.rule, r.dismissed_reason, r.created_at, r.updated_at,
       s.query
  FROM optischema.recommendation_store r
  LEFT JOIN optischema.statements s USING (queryid);

-- Parameter values statements ran with, as SQL literals in pg_stat_statements' $n order:
-- at most 20 sets per statement (the most frequent and the most recent). optischema_admin only.
CREATE TABLE optischema.captured_params (
    queryid    bigint NOT NULL,
    params     jsonb NOT NULL,
    times_seen bigint NOT NULL DEFAULT 1,
    first_seen timestamptz NOT NULL DEFAULT now(),
    last_seen  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (queryid, params)
);
