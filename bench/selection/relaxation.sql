-- Relaxation (Bruno and Chaudhuri, "Automatic Physical Database Tuning: A Relaxation-based
-- Approach", SIGMOD 2005), as the index-selection evaluations implement it (Kossmann et al.,
-- VLDB 2020: indexes up to two columns, four transformations), on the same planner (HypoPG,
-- EXPLAIN's total cost) and size model (optischema.whatif()'s size_mb) as
-- bench/selection/extend.sql.
--
-- 1. The optimal set: each statement alone is planned with every index it could use in place
--    (every ordered choice of up to max_width of the columns it names, per table); the indexes
--    its plan uses are kept, and the union over the statements is the starting set.
-- 2. While the set is larger than the budget, it is replaced by the relaxed set that costs the
--    least per megabyte it frees (the megabytes beyond what the budget needs do not count);
--    a relaxed set that costs less wins outright. Relaxations, each within one table:
--    removing an index; cutting one to a prefix; merging two (the first's columns, then the
--    second's others, cut to max_width); splitting two into their common columns and each
--    one's rest.
-- Unlike that implementation, the cost a relaxation adds is measured from the current set (as
-- the paper has it), not from the starting one.
--
-- Needs bench.queries (name, q) and bench.cost(q); returns the chosen indexes. Plans and sizes
-- are cached in bench.rlx_cost and bench.rlx_size, so the budgets after the first follow the
-- path the first one planned without planning it again.

CREATE TABLE bench.rlx_cost (name text, conf text, cost float8, PRIMARY KEY (name, conf));
CREATE TABLE bench.rlx_size (key text PRIMARY KEY, mb float8);

-- "table|col1,col2" as a CREATE INDEX statement
CREATE FUNCTION bench.rlx_sql(k text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT format('CREATE INDEX ON %s (%s)', split_part(k, '|', 1), split_part(k, '|', 2))
$$;

CREATE FUNCTION bench.rlx_key(tbl text, cols text[]) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT tbl || '|' || array_to_string(cols, ',')
$$;

CREATE FUNCTION bench.rlx_cols(k text) RETURNS text[] LANGUAGE sql IMMUTABLE AS $$
    SELECT string_to_array(split_part(k, '|', 2), ',')
$$;

-- a set of indexes in one order, so that equal sets are cached once
CREATE FUNCTION bench.rlx_set(keys text[]) RETURNS text[] LANGUAGE sql IMMUTABLE AS $$
    SELECT ARRAY(SELECT DISTINCT k FROM unnest(keys) k ORDER BY k)
$$;

CREATE FUNCTION bench.rlx_mb(k text) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE mb float8;
BEGIN
    SELECT s.mb INTO mb FROM bench.rlx_size s WHERE s.key = k;
    IF NOT FOUND THEN
        mb := (SELECT size_mb FROM optischema.whatif('SELECT 1', ARRAY[bench.rlx_sql(k)]));
        INSERT INTO bench.rlx_size VALUES (k, mb);
    END IF;
    RETURN mb;
END $$;

CREATE FUNCTION bench.rlx_total_mb(keys text[]) RETURNS float8 LANGUAGE sql AS $$
    SELECT coalesce(sum(bench.rlx_mb(k)), 0) FROM unnest(keys) k
$$;

-- the workload's cost with the indexes `keys` in place: each statement is planned with the
-- indexes on the tables it reads, once per distinct such set
CREATE FUNCTION bench.rlx_workload_cost(keys text[]) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE total float8 := 0; query record; mine text; c float8;
BEGIN
    FOR query IN
        SELECT q.name, q.q, array_agg(r.tbl) FILTER (WHERE r.tbl IS NOT NULL) AS tbls
          FROM bench.queries q LEFT JOIN rlx_reads r USING (name)
         GROUP BY q.name, q.q
    LOOP
        mine := array_to_string(ARRAY(SELECT k FROM unnest(keys) k
                                       WHERE split_part(k, '|', 1) = ANY (query.tbls) ORDER BY k), ' ');
        SELECT r.cost INTO c FROM bench.rlx_cost r WHERE r.name = query.name AND r.conf = mine;
        IF NOT FOUND THEN
            PERFORM hypopg_reset();
            PERFORM hypopg_create_index(bench.rlx_sql(k)) FROM unnest(string_to_array(mine, ' ')) k;
            c := bench.cost(query.q);
            INSERT INTO bench.rlx_cost VALUES (query.name, mine, c);
        END IF;
        total := total + c;
    END LOOP;
    PERFORM hypopg_reset();
    RETURN total;
END $$;

-- every relaxation of `keys`: the relaxed set, and the megabytes it frees
CREATE FUNCTION bench.rlx_relaxations(keys text[], max_width int)
RETURNS TABLE (relaxed text[], frees float8) LANGUAGE plpgsql AS $$
DECLARE
    a text; b text; tbl text; ca text[]; cb text[]; common text[]; rest text[]; added text[];
    w int; base text[]; n text;
BEGIN
    FOREACH a IN ARRAY keys LOOP
        tbl := split_part(a, '|', 1);
        ca := bench.rlx_cols(a);
        base := array_remove(keys, a);
        -- removal
        relaxed := base; frees := bench.rlx_mb(a);
        RETURN NEXT;
        -- prefixing, widest prefix first
        w := cardinality(ca) - 1;
        WHILE w >= 1 LOOP
            n := bench.rlx_key(tbl, ca[1:w]);
            IF n = ANY (base) THEN
                relaxed := base; frees := bench.rlx_mb(a);
            ELSE
                relaxed := base || n; frees := bench.rlx_mb(a) - bench.rlx_mb(n);
            END IF;
            RETURN NEXT;
            w := w - 1;
        END LOOP;
        FOREACH b IN ARRAY keys LOOP
            CONTINUE WHEN b = a OR split_part(b, '|', 1) <> tbl;
            cb := bench.rlx_cols(b);
            base := array_remove(array_remove(keys, a), b);
            -- merging: a's columns, then b's others, cut to max_width
            n := bench.rlx_key(tbl, (ca || ARRAY(SELECT c FROM unnest(cb) WITH ORDINALITY AS x(c, i)
                                                   WHERE NOT (c = ANY (ca)) ORDER BY i))[1:max_width]);
            IF n = ANY (base) THEN
                relaxed := base; frees := bench.rlx_mb(a) + bench.rlx_mb(b);
            ELSE
                relaxed := base || n; frees := bench.rlx_mb(a) + bench.rlx_mb(b) - bench.rlx_mb(n);
            END IF;
            RETURN NEXT;
            -- splitting: the columns they share (in a's order), and each one's rest
            common := ARRAY(SELECT c FROM unnest(ca) WITH ORDINALITY AS x(c, i) WHERE c = ANY (cb) ORDER BY i);
            CONTINUE WHEN cardinality(common) = 0;
            added := ARRAY[bench.rlx_key(tbl, common)];
            rest := ARRAY(SELECT c FROM unnest(ca) WITH ORDINALITY AS x(c, i) WHERE NOT (c = ANY (cb)) ORDER BY i);
            IF cardinality(rest) > 0 THEN added := added || bench.rlx_key(tbl, rest); END IF;
            rest := ARRAY(SELECT c FROM unnest(cb) WITH ORDINALITY AS x(c, i) WHERE NOT (c = ANY (ca)) ORDER BY i);
            IF cardinality(rest) > 0 THEN added := added || bench.rlx_key(tbl, rest); END IF;
            added := ARRAY(SELECT DISTINCT k FROM unnest(added) k WHERE NOT (k = ANY (base)));
            relaxed := base || added;
            frees := bench.rlx_mb(a) + bench.rlx_mb(b) - bench.rlx_total_mb(added);
            RETURN NEXT;
        END LOOP;
    END LOOP;
END $$;

CREATE FUNCTION bench.relaxation(budget_mb float8, max_width int DEFAULT 2)
RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    chosen text[] := '{}'; used_mb float8; cost float8; query record; plan text;
    candidate record; increase float8; penalty float8;
    best text[]; best_cost float8; best_penalty float8;
BEGIN
    PERFORM hypopg_reset();
    DROP TABLE IF EXISTS rlx_cols, rlx_reads, rlx_hypo;
    -- the columns each statement names, per table it reads
    CREATE TEMP TABLE rlx_cols AS SELECT * FROM bench.named_columns;
    CREATE TEMP TABLE rlx_reads AS SELECT DISTINCT name, tbl FROM rlx_cols;
    CREATE TEMP TABLE rlx_hypo (key text, indexname text);
    -- 1. the indexes each statement's plan uses with every index it could use in place
    FOR query IN SELECT name, q FROM bench.queries ORDER BY name LOOP
        PERFORM hypopg_reset();
        TRUNCATE rlx_hypo;
        INSERT INTO rlx_hypo
            WITH RECURSIVE p (tbl, cols) AS (
                SELECT tbl, ARRAY[col] FROM rlx_cols WHERE name = query.name
                UNION ALL
                SELECT p.tbl, p.cols || c.col
                  FROM p JOIN rlx_cols c ON c.name = query.name AND c.tbl = p.tbl
                 WHERE NOT (c.col = ANY (p.cols)) AND cardinality(p.cols) < max_width)
            SELECT bench.rlx_key(p.tbl, p.cols), h.indexname
              FROM p, LATERAL hypopg_create_index(bench.rlx_sql(bench.rlx_key(p.tbl, p.cols))) h;
        EXECUTE 'EXPLAIN (FORMAT JSON) ' || query.q INTO plan;
        chosen := chosen || ARRAY(SELECT key FROM rlx_hypo WHERE strpos(plan, '"' || indexname || '"') > 0);
    END LOOP;
    PERFORM hypopg_reset();
    chosen := bench.rlx_set(chosen);
    used_mb := bench.rlx_total_mb(chosen);
    cost := bench.rlx_workload_cost(chosen);
    -- 2. relaxed until it fits
    WHILE used_mb > budget_mb LOOP
        best := NULL;
        FOR candidate IN
            SELECT DISTINCT ON (s) s AS relaxed, r.frees
              FROM bench.rlx_relaxations(chosen, max_width) WITH ORDINALITY AS r(relaxed, frees, i),
                   LATERAL bench.rlx_set(r.relaxed) s
             WHERE r.frees > 0
             ORDER BY s, r.i
        LOOP
            increase := bench.rlx_workload_cost(candidate.relaxed) - cost;
            penalty := CASE WHEN increase < 0 THEN increase * candidate.frees
                            ELSE increase / least(candidate.frees, used_mb - budget_mb) END;
            IF best IS NULL OR penalty < best_penalty
               OR (penalty = best_penalty AND candidate.relaxed::text < best::text) THEN
                best := candidate.relaxed; best_cost := cost + increase; best_penalty := penalty;
            END IF;
        END LOOP;
        EXIT WHEN best IS NULL;
        chosen := best;
        cost := best_cost;
        used_mb := bench.rlx_total_mb(chosen);
    END LOOP;
    PERFORM hypopg_reset();
    RETURN QUERY SELECT replace(bench.rlx_sql(k), 'CREATE INDEX ON ', 'CREATE INDEX CONCURRENTLY ON public.')
                   FROM unnest(chosen) k;
END $$;
