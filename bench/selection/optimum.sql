-- The best set within a budget, solved exactly over a model of the workload (as the CoPhy and
-- pganalyze Index Advisor formulations do): each statement's cost with a set is the cheapest of
-- its "configurations" the set contains, a configuration being a few candidate indexes the
-- statement is planned with (HypoPG); an integer program (bench/selection.sh, CBC) then picks
-- the indexes, within the budget in modelled megabytes, and one configuration per statement,
-- for the least total cost.
--
-- The candidates: every ordered choice of up to three of the columns a statement names, per
-- table, and every index some algorithm chose so far (bench.sets, INCLUDE ones too). A
-- statement's configurations:
-- - no index, and each candidate that lowers its cost alone;
-- - sets of up to three of those, grown only from the ones no other on the same table beats in
--   both cost and size, each kept if it costs less than every set it grows from;
-- - what its plan uses with every candidate it could use in place, then with each used one
--   taken away in turn, three deep (indexes that lower nothing alone but do next to others);
-- - what its plan uses with each set chosen so far, and with each solution of the program
--   (bench/selection.sh solves again until a solution teaches nothing new).
-- So the model prices every set the algorithms chose as the planner does, but it is still a
-- model: a set whose plans use combinations none of these reached is priced too high, so the
-- solution is the best set the model knows, not a proof that no better set exists.
--
-- Needs bench.queries (name, q), bench.cost(q), bench.cost_with(q, indexes) (bound.sql),
-- bench.sets and bench.named_columns.

CREATE TABLE bench.opt_candidate (id serial PRIMARY KEY, sql text UNIQUE, tbl text, lead text, mb float8);
CREATE TABLE bench.opt_config (name text, ids int[], cost float8, PRIMARY KEY (name, ids));

-- CREATE INDEX text in one spelling, so that equal indexes are one candidate
CREATE FUNCTION bench.opt_normal(s text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT regexp_replace(regexp_replace(replace(s, ' CONCURRENTLY', ''), '\s*,\s*', ', ', 'g'),
                          ' ON (public\.)?', ' ON public.')
$$;

-- the planner's cost of q with the candidates `ids` in place
CREATE FUNCTION bench.opt_cost(q text, ids int[]) RETURNS float8 LANGUAGE sql AS $$
    SELECT bench.cost_with(q, ARRAY(SELECT o.sql FROM bench.opt_candidate o WHERE o.id = ANY (ids)))
$$;

-- the candidates `ids` a plan of q uses when they are all in place, and its cost
CREATE FUNCTION bench.opt_plan(q text, ids int[], OUT used int[], OUT cost float8) LANGUAGE plpgsql AS $$
DECLARE plan text;
BEGIN
    PERFORM hypopg_reset();
    DROP TABLE IF EXISTS opt_hypo;
    CREATE TEMP TABLE opt_hypo AS
        SELECT o.id, h.indexname FROM bench.opt_candidate o, LATERAL hypopg_create_index(o.sql) h
         WHERE o.id = ANY (ids);
    EXECUTE 'EXPLAIN (FORMAT JSON) ' || q INTO plan;
    cost := (plan::json -> 0 -> 'Plan' ->> 'Total Cost')::float8;
    used := ARRAY(SELECT id FROM opt_hypo WHERE strpos(plan, '"' || indexname || '"') > 0 ORDER BY id);
    PERFORM hypopg_reset();
END $$;

-- records what a statement's plan uses with the candidates `ids` in place as one of its
-- configurations; true when it is new
CREATE FUNCTION bench.opt_learn(statement text, ids int[]) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE p record;
BEGIN
    SELECT * INTO p FROM bench.opt_plan((SELECT q FROM bench.queries WHERE name = statement), ids);
    INSERT INTO bench.opt_config VALUES (statement, p.used, p.cost) ON CONFLICT DO NOTHING;
    RETURN FOUND;
END $$;

-- fills bench.opt_candidate afresh, and empties bench.opt_config
CREATE FUNCTION bench.opt_candidates(max_width int DEFAULT 3) RETURNS int LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE bench.opt_candidate, bench.opt_config;
    INSERT INTO bench.opt_candidate (sql, tbl, lead)
        WITH RECURSIVE p (name, tbl, cols) AS (
            SELECT name, tbl, ARRAY[col] FROM bench.named_columns
            UNION ALL
            SELECT p.name, p.tbl, p.cols || c.col
              FROM p JOIN bench.named_columns c ON c.name = p.name AND c.tbl = p.tbl
             WHERE NOT (c.col = ANY (p.cols)) AND cardinality(p.cols) < max_width)
        SELECT DISTINCT format('CREATE INDEX ON public.%s (%s)', tbl, array_to_string(cols, ', ')), tbl, cols[1] FROM p
        ON CONFLICT DO NOTHING;
    INSERT INTO bench.opt_candidate (sql, tbl, lead)
        SELECT DISTINCT n, substring(n FROM ' ON public\.(\w+) '), substring(n FROM ' \((\w+)')
          FROM bench.sets, LATERAL bench.opt_normal(index_sql) n
        ON CONFLICT DO NOTHING;
    UPDATE bench.opt_candidate SET mb = (SELECT size_mb FROM optischema.whatif('SELECT 1', ARRAY[sql]));
    RETURN (SELECT count(*) FROM bench.opt_candidate);
END $$;

-- fills bench.opt_config for one statement; returns how many configurations it kept
CREATE FUNCTION bench.opt_statement(statement text, max_indexes int DEFAULT 3, relax_depth int DEFAULT 3)
RETURNS int LANGUAGE plpgsql AS $$
DECLARE
    query text := (SELECT q FROM bench.queries WHERE name = statement);
    base float8 := bench.cost(query);
    grown record; c float8; k int; pool int[]; p record;
BEGIN
    DELETE FROM bench.opt_config WHERE name = statement;
    INSERT INTO bench.opt_config VALUES (statement, '{}', base);
    -- the candidates it could use: those whose leading column it names
    pool := ARRAY(SELECT o.id FROM bench.opt_candidate o
                   WHERE EXISTS (SELECT FROM bench.named_columns n
                                  WHERE n.name = statement AND n.tbl = o.tbl AND n.col = o.lead));
    -- each of them alone
    DROP TABLE IF EXISTS opt_single;
    CREATE TEMP TABLE opt_single AS
        SELECT o.id, o.tbl, o.mb, x.c AS cost
          FROM bench.opt_candidate o, LATERAL bench.opt_cost(query, ARRAY[o.id]) x(c)
         WHERE o.id = ANY (pool) AND x.c < base * (1 - 1e-6);
    INSERT INTO bench.opt_config SELECT statement, ARRAY[id], cost FROM opt_single;
    -- sets grow only from the candidates no other on the same table beats in both cost and
    -- size for this statement (the others stay configurations alone: they serve it when
    -- another statement's choice brings them), two on one table only when the statement
    -- reads the table twice
    DROP TABLE IF EXISTS opt_frontier;
    CREATE TEMP TABLE opt_frontier AS
        SELECT s.id, s.tbl,
               (SELECT count(*) FROM regexp_matches(query, '\m' || s.tbl || '\M', 'g')) > 1 AS twice
          FROM opt_single s
         WHERE NOT EXISTS (SELECT FROM opt_single b
                            WHERE b.tbl = s.tbl AND b.cost <= s.cost AND b.mb <= s.mb
                              AND (b.cost < s.cost OR b.mb < s.mb OR b.id < s.id));
    FOR k IN 2 .. max_indexes LOOP
        FOR grown IN
            SELECT g.ids || f.id AS ids
              FROM bench.opt_config g JOIN opt_frontier f ON f.id > g.ids[cardinality(g.ids)]
             WHERE g.name = statement AND cardinality(g.ids) = k - 1
               AND g.ids <@ ARRAY(SELECT id FROM opt_frontier)
               AND (f.twice OR NOT EXISTS (SELECT FROM opt_frontier h WHERE h.id = ANY (g.ids) AND h.tbl = f.tbl))
        LOOP
            c := bench.opt_cost(query, grown.ids);
            IF c < (SELECT min(f.cost) FROM bench.opt_config f
                     WHERE f.name = statement AND f.ids <@ grown.ids) * (1 - 1e-6) THEN
                INSERT INTO bench.opt_config VALUES (statement, grown.ids, c);
            END IF;
        END LOOP;
    END LOOP;
    -- what the plan uses with every candidate it could use in place, then with each used one
    -- taken away in turn, relax_depth deep (combinations of indexes that lower nothing alone
    -- come from here)
    DROP TABLE IF EXISTS opt_removed;
    CREATE TEMP TABLE opt_removed (ids int[] PRIMARY KEY, depth int);
    INSERT INTO opt_removed VALUES ('{}', 0);
    FOR k IN 0 .. relax_depth LOOP
        FOR grown IN SELECT ids FROM opt_removed WHERE depth = k LOOP
            SELECT * INTO p FROM bench.opt_plan(query, ARRAY(SELECT unnest(pool) EXCEPT SELECT unnest(grown.ids)));
            INSERT INTO bench.opt_config VALUES (statement, p.used, p.cost) ON CONFLICT DO NOTHING;
            INSERT INTO opt_removed
                SELECT ARRAY(SELECT DISTINCT x FROM unnest(grown.ids || u) x ORDER BY x), k + 1
                  FROM unnest(p.used) u
                 WHERE k < relax_depth
                ON CONFLICT DO NOTHING;
        END LOOP;
    END LOOP;
    RETURN (SELECT count(*) FROM bench.opt_config WHERE name = statement);
END $$;

-- the integer program for one budget, in CPLEX LP format (a term per line): x<i> an index
-- chosen, y<k> a configuration a statement uses. Each megabyte chosen costs a thousandth of a
-- cost unit, so that no index the chosen configurations do not need fills the budget.
CREATE FUNCTION bench.opt_lp(budget_mb float8) RETURNS text LANGUAGE sql AS $$
    WITH conf AS (
        SELECT row_number() OVER (ORDER BY name, ids) AS k, name, ids, cost
          FROM bench.opt_config f
         WHERE NOT EXISTS (SELECT FROM bench.opt_candidate o WHERE o.id = ANY (f.ids) AND o.mb > budget_mb)),
    used AS (SELECT DISTINCT unnest(ids) AS id FROM conf)
    SELECT concat_ws(E'\n',
        'Minimize',
        ' total: ' || (SELECT string_agg(format('%s y%s', round(cost::numeric, 4), k), E'\n + ') FROM conf)
            || coalesce((SELECT string_agg(format(E'\n + %s x%s', round(o.mb::numeric / 1000, 7), o.id), '')
                           FROM bench.opt_candidate o JOIN used USING (id)), ''),
        'Subject To',
        (SELECT string_agg(format(' one_%s: %s = 1', name, ys), E'\n')
           FROM (SELECT name, string_agg('y' || k, E'\n + ') AS ys FROM conf GROUP BY name) s),
        (SELECT string_agg(format(' has_%s_%s: y%s - x%s <= 0', k, i, k, i), E'\n')
           FROM conf, unnest(ids) i),
        ' budget: ' || coalesce((SELECT string_agg(format('%s x%s', round(o.mb::numeric, 4), o.id), E'\n + ')
                                   FROM bench.opt_candidate o JOIN used USING (id)), '0 x0')
            || ' <= ' || budget_mb,
        'Binary',
        (SELECT string_agg('y' || k, E'\n') FROM conf),
        (SELECT string_agg('x' || id, E'\n') FROM used),
        'End')
$$;

-- the model's cost of the workload with the candidates `ids`
CREATE FUNCTION bench.opt_model_cost(ids int[]) RETURNS float8 LANGUAGE sql AS $$
    SELECT sum((SELECT min(f.cost) FROM bench.opt_config f WHERE f.name = q.name AND f.ids <@ $1))
      FROM bench.queries q
$$;

-- the ids of the candidates in a set of CREATE INDEX statements
CREATE FUNCTION bench.opt_ids(indexes text[]) RETURNS int[] LANGUAGE sql AS $$
    SELECT ARRAY(SELECT o.id FROM unnest(indexes) i JOIN bench.opt_candidate o ON o.sql = bench.opt_normal(i) ORDER BY 1)
$$;

-- learns what every statement's plan uses with the set `ids`; how many configurations were new
CREATE FUNCTION bench.opt_learn_set(ids int[]) RETURNS int LANGUAGE sql AS $$
    SELECT count(*) FILTER (WHERE bench.opt_learn(name, ids))::int FROM bench.queries
$$;

-- how the model prices each set chosen at a budget against the planner with the set in place
-- through HypoPG: the model's cost and the planner's, each relative to no index
CREATE FUNCTION bench.opt_check(budget_mb int)
RETURNS TABLE (algorithm text, model float8, planner float8) LANGUAGE sql AS $$
    SELECT s.algorithm, bench.opt_model_cost(s.ids) / base.c,
           (SELECT sum(bench.opt_cost(q.q, s.ids)) FROM bench.queries q) / base.c
      FROM (SELECT algorithm, bench.opt_ids(array_agg(index_sql)) AS ids
              FROM bench.sets WHERE budget_mb = $1 GROUP BY algorithm) s,
           (SELECT sum(bench.cost(q)) AS c FROM bench.queries) base
     ORDER BY 1
$$;
