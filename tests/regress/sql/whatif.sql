-- whatif(query, indexes) plans a query with hypothetical indexes, one at a time;
-- recommend_indexes(query) asks the advisor which indexes it would propose. Nothing is built.
-- Costs depend on the planner's figures, so this file shows what does not: whether the index
-- is used, whether the plan gets cheaper, and which indexes are proposed.
\set SHOW_CONTEXT never
SET client_min_messages = warning;  -- CASCADE's "installing required extension" notice
CREATE EXTENSION optischema CASCADE;
RESET client_min_messages;

CREATE TABLE wi (id int PRIMARY KEY, a int, b int, c text);
INSERT INTO wi SELECT g, g, g % 100, md5(g::text) FROM generate_series(1, 20000) g;
ANALYZE wi;

-- one row per index, in the order given, each planned alone
SELECT index_sql, used, cost_after < cost_before AS cheaper, size_mb > 0 AS has_size
  FROM optischema.whatif('SELECT * FROM wi WHERE a = 42',
                         ARRAY['CREATE INDEX ON wi (a)', 'CREATE INDEX ON wi (b)', 'CREATE INDEX ON wi (a) WHERE b = 1']);
-- expressions, INCLUDE, DESC, operator classes, $n parameters (planned generically)
SELECT index_sql, used, cost_after < cost_before AS cheaper
  FROM optischema.whatif('SELECT c FROM wi WHERE lower(c) = $1',
                         ARRAY['CREATE INDEX ON wi (lower(c)) INCLUDE (c)']);
SELECT index_sql, used, cost_after < cost_before AS cheaper
  FROM optischema.whatif('SELECT id FROM wi WHERE b = 7 ORDER BY a DESC LIMIT 10',
                         ARRAY['CREATE INDEX ON wi (b, a DESC)']);
SELECT index_sql, used, cost_after < cost_before AS cheaper
  FROM optischema.whatif('SELECT id FROM wi WHERE c LIKE ''ab%''',
                         ARRAY['CREATE INDEX ON wi (c text_pattern_ops)']);
-- nothing was created: the primary key's is the table's only index
SELECT indexname FROM pg_indexes WHERE tablename = 'wi';

-- what cannot be a hypothetical index, or cannot be planned, is an error with a HINT
SELECT * FROM optischema.whatif('SELECT * FROM wi', ARRAY['DROP TABLE wi']);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM optischema.whatif('SELECT * FROM wi', ARRAY['CREATE INDEX ON wi (nope)']);
SELECT * FROM optischema.whatif('SELECT * FROM wi', ARRAY['CREATE INDEX ON wi USING gin (a)']);
SELECT * FROM optischema.whatif('SELECT * FROM wi', ARRAY['CREATE INDEX ON wi ((random()))']);
SELECT * FROM optischema.whatif('SELECT * FROM wi', ARRAY['CREATE INDEX ON wi (a); DROP TABLE wi']);
SELECT * FROM optischema.whatif('VACUUM wi', ARRAY['CREATE INDEX ON wi (a)']);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM optischema.whatif('SELECT 1; DROP TABLE wi', ARRAY['CREATE INDEX ON wi (a)']);
SELECT * FROM optischema.whatif('SELECT * FROM missing', ARRAY['CREATE INDEX ON wi (a)']);
SELECT count(*) FROM wi;

-- the advisor for one statement it has no history for: how often it runs is not known, so no
-- statements_helped and no saving per hour
SELECT index_sql, statements_helped, est_improvement_pct > 50 AS saves_most,
       est_ms_saved_per_hour, size_mb > 0 AS has_size, write_overhead_pct
  FROM optischema.recommend_indexes('SELECT id, c FROM wi WHERE a = $1');
-- a statement the primary key serves already gets nothing
SELECT count(*) FROM optischema.recommend_indexes('SELECT a FROM wi WHERE id = $1');
-- without a statement: the whole workload of this database, none here
SELECT count(*) FROM optischema.recommend_indexes();
SELECT * FROM optischema.recommend_indexes('VACUUM wi');
\echo :LAST_ERROR_SQLSTATE

DROP TABLE wi;
DROP EXTENSION optischema;
DROP EXTENSION pg_stat_statements;
