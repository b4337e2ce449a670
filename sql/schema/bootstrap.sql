-- OptiSchema storage. Written by the sampling worker, read through the SQL API.

-- One row: the worker's progress and health, shown by optischema.status().
CREATE TABLE optischema.sampler_state (
    id               int PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    -- bumped by reset(): tells the worker to drop the snapshot it holds in memory
    -- starts from the creation time, so a dropped and re-created extension is a new generation
    generation       bigint NOT NULL DEFAULT (extract(epoch FROM clock_timestamp()) * 1000)::bigint,
    -- false until a first sample has stored a baseline (lifetime totals are not deltas)
    baseline_taken   boolean NOT NULL DEFAULT false,
    -- pg_stat_statements_info.stats_reset seen at the last sample
    pgss_stats_reset timestamptz,
    -- queryids of the current hot list, best first, to announce only newcomers
    hot_top          bigint[] NOT NULL DEFAULT '{}',
    samples_taken    bigint NOT NULL DEFAULT 0,
    last_sample_at   timestamptz,
    last_sample_ms   double precision,
    last_error       text,
    last_error_at    timestamptz,
    -- in a database served by another's sampler: the last batch it handed over and this one
    -- took (the home database's oid, its sequence number), so no batch is counted twice
    handover_source  oid,
    handover_seq     bigint
);
INSERT INTO optischema.sampler_state DEFAULT VALUES;

-- The cumulative pg_stat_statements counters seen at the last sample: the baseline of the next.
CREATE TABLE optischema.snapshot (
    queryid           bigint NOT NULL,
    userid            oid NOT NULL,
    dbid              oid NOT NULL,
    toplevel          boolean NOT NULL,
    calls             bigint NOT NULL,
    total_ms          double precision NOT NULL,
    rows              bigint NOT NULL,
    shared_blks_hit   bigint NOT NULL,
    shared_blks_read  bigint NOT NULL,
    temp_blks_written bigint NOT NULL,
    PRIMARY KEY (queryid, userid, dbid, toplevel)
);

-- Statement text, stored once per queryid.
CREATE TABLE optischema.statements (
    queryid    bigint PRIMARY KEY,
    query      text,
    first_seen timestamptz NOT NULL,
    last_seen  timestamptz NOT NULL
);

-- Work done per statement per minute: only statements that ran get rows. Closed minutes only:
-- rows arrive once, packed, and are never updated (the open minute is in history_open).
CREATE TABLE optischema.history (
    bucket            timestamptz NOT NULL,
    queryid           bigint NOT NULL,
    userid            oid NOT NULL,
    dbid              oid NOT NULL,
    toplevel          boolean NOT NULL,
    calls             bigint NOT NULL CHECK (calls >= 0),
    total_ms          double precision NOT NULL CHECK (total_ms >= 0),
    rows              bigint NOT NULL,
    shared_blks_hit   bigint NOT NULL,
    shared_blks_read  bigint NOT NULL,
    temp_blks_written bigint NOT NULL,
    PRIMARY KEY (queryid, bucket, userid, dbid, toplevel)
);
-- buckets arrive in time order, so a BRIN index serves the window scans for a few pages
CREATE INDEX history_bucket_brin ON optischema.history USING brin (bucket);

-- The minute being sampled: each sample adds to its rows; when the minute closes they move to
-- history in one statement. Keeping the updates in this small table keeps history free of bloat.
CREATE TABLE optischema.history_open (LIKE optischema.history INCLUDING ALL) WITH (fillfactor = 50);

-- Everything, open minute included: what the SQL API reads.
CREATE VIEW optischema.history_all AS
    SELECT * FROM optischema.history
    UNION ALL
    SELECT * FROM optischema.history_open;

-- NOTIFY payloads from users' sessions (dismiss(), analyze_now()), sent by the apply worker:
-- listeners trust only payloads that OptiSchema's workers send.
CREATE TABLE optischema.outbox (
    id        bigserial PRIMARY KEY,
    payload   text NOT NULL,
    queued_at timestamptz NOT NULL DEFAULT now()
);
