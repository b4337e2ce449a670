-- AutoAdmin (Chaudhuri and Narasayya, "An Efficient, Cost-Driven Index Selection Tool for
-- Microsoft SQL Server", VLDB 1997), as the index-selection evaluations implement it, with the
-- number of indexes replaced by the budget, on the same planner (HypoPG, EXPLAIN's total cost)
-- and size model (optischema.whatif()'s size_mb) as bench/selection/extend.sql.
--
-- Width by width, up to max_width columns:
-- 1. candidates: for each statement alone, the best set of the potential indexes it could use
--    (every index whose columns it names) is enumerated; the union of those sets is kept;
-- 2. enumeration on the whole workload: every set of one or two candidates that fits the
--    budget is costed and the cheapest kept, then the candidate that lowers the cost most is
--    added while one does and the budget holds;
-- 3. each chosen index, with one more column of its table that the statements name appended,
--    joins the potential indexes of the next width.
--
-- Needs bench.queries (name, q) and bench.cost(q); returns the chosen indexes.

-- "table|col1,col2" as a CREATE INDEX statement
CREATE FUNCTION bench.aa_sql(k text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT format('CREATE INDEX ON %s (%s)', split_part(k, '|', 1), split_part(k, '|', 2))
$$;

-- the sum of the costs of the statements `names`, with the indexes `keys` in place: only the
-- statements that read one of their tables are planned again
CREATE FUNCTION bench.aa_cost(keys text[], names text[]) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE total float8;
BEGIN
    PERFORM hypopg_reset();
    PERFORM hypopg_create_index(bench.aa_sql(k)) FROM unnest(keys) k;
    SELECT sum(CASE WHEN EXISTS (SELECT FROM aa_reads r
                                  WHERE r.name = b.name
                                    AND r.tbl IN (SELECT split_part(k, '|', 1) FROM unnest(keys) k))
                    THEN bench.cost(q.q) ELSE b.cost END)
      INTO total
      FROM aa_base b JOIN bench.queries q USING (name)
     WHERE b.name = ANY (names);
    PERFORM hypopg_reset();
    RETURN total;
END $$;

CREATE FUNCTION bench.aa_mb(keys text[]) RETURNS float8 LANGUAGE plpgsql AS $$
BEGIN
    RETURN (SELECT coalesce(sum(s.mb), 0) FROM unnest(keys) k JOIN aa_size s ON s.key = k);
END $$;

-- the cheapest set of `cands` for the statements `names` within the budget: every set of one
-- or two, then greedy additions
CREATE FUNCTION bench.aa_enumerate(cands text[], names text[], budget_mb float8)
RETURNS text[] LANGUAGE plpgsql AS $$
DECLARE
    best text[] := '{}'; best_cost float8; c float8; n int := cardinality(cands);
    step text; step_cost float8; cand text;
BEGIN
    best_cost := bench.aa_cost('{}', names);
    FOR i IN 1 .. n LOOP
        CONTINUE WHEN bench.aa_mb(ARRAY[cands[i]]) > budget_mb;
        c := bench.aa_cost(ARRAY[cands[i]], names);
        IF c < best_cost THEN best := ARRAY[cands[i]]; best_cost := c; END IF;
        FOR j IN i + 1 .. n LOOP
            CONTINUE WHEN bench.aa_mb(ARRAY[cands[i], cands[j]]) > budget_mb;
            c := bench.aa_cost(ARRAY[cands[i], cands[j]], names);
            IF c < best_cost THEN best := ARRAY[cands[i], cands[j]]; best_cost := c; END IF;
        END LOOP;
    END LOOP;
    LOOP
        step := NULL; step_cost := best_cost;
        FOREACH cand IN ARRAY cands LOOP
            CONTINUE WHEN cand = ANY (best) OR bench.aa_mb(best || cand) > budget_mb;
            c := bench.aa_cost(best || cand, names);
            IF c < step_cost THEN step := cand; step_cost := c; END IF;
        END LOOP;
        EXIT WHEN step IS NULL;
        best := best || step;
        best_cost := step_cost;
    END LOOP;
    RETURN best;
END $$;

CREATE FUNCTION bench.autoadmin(budget_mb float8, max_width int DEFAULT 2)
RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    potential text[]; candidates text[]; chosen text[] := '{}'; query record; mine text[];
BEGIN
    PERFORM hypopg_reset();
    DROP TABLE IF EXISTS aa_cols, aa_reads, aa_base;
    -- the columns each statement names, per table it reads
    CREATE TEMP TABLE aa_cols AS SELECT * FROM bench.named_columns;
    CREATE TEMP TABLE aa_reads AS SELECT DISTINCT name, tbl FROM aa_cols;
    CREATE TEMP TABLE aa_base AS SELECT name, bench.cost(q) AS cost FROM bench.queries;
    CREATE TEMP TABLE IF NOT EXISTS aa_size (key text PRIMARY KEY, mb float8);
    potential := ARRAY(SELECT DISTINCT tbl || '|' || col FROM aa_cols ORDER BY 1);
    FOR width IN 1 .. max_width LOOP
        INSERT INTO aa_size
            SELECT k, (SELECT size_mb FROM optischema.whatif('SELECT 1', ARRAY[bench.aa_sql(k)]))
              FROM unnest(potential) k
            ON CONFLICT (key) DO NOTHING;
        candidates := '{}';
        FOR query IN SELECT name FROM bench.queries ORDER BY name LOOP
            -- the potential indexes whose every column the statement names
            mine := ARRAY(
                SELECT k FROM unnest(potential) k
                 WHERE NOT EXISTS (
                       SELECT FROM unnest(string_to_array(split_part(k, '|', 2), ',')) col
                        WHERE NOT EXISTS (SELECT FROM aa_cols a
                                           WHERE a.name = query.name AND a.tbl = split_part(k, '|', 1)
                                             AND a.col = col))
                 ORDER BY k);
            CONTINUE WHEN cardinality(mine) = 0;
            candidates := candidates || ARRAY(
                SELECT k FROM unnest(bench.aa_enumerate(mine, ARRAY[query.name], budget_mb)) k
                 WHERE NOT (k = ANY (candidates)));
        END LOOP;
        chosen := bench.aa_enumerate(candidates, ARRAY(SELECT name FROM bench.queries), budget_mb);
        EXIT WHEN width = max_width;
        -- the chosen indexes, and each with one more column of its table
        potential := chosen || ARRAY(
            SELECT DISTINCT k || ',' || c.col
              FROM unnest(chosen) k
              JOIN (SELECT DISTINCT tbl, col FROM aa_cols) c ON c.tbl = split_part(k, '|', 1)
             WHERE NOT (c.col = ANY (string_to_array(split_part(k, '|', 2), ','))));
    END LOOP;
    PERFORM hypopg_reset();
    RETURN QUERY SELECT replace(bench.aa_sql(k), 'CREATE INDEX ON ', 'CREATE INDEX CONCURRENTLY ON public.')
                   FROM unnest(chosen) k;
END $$;
