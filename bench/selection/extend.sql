-- Extend (Schlosser, Kossmann and Boissier, "Efficient Scalable Multi-Attribute Index Selection
-- Using Recursive Strategies", ICDE 2019), as the reference bench/selection.sh compares the advisor
-- with: the same planner (hypothetical indexes through HypoPG, EXPLAIN's total cost) and the
-- same size model (optischema.whatif()'s size_mb).
--
-- Starting from no index, each step either adds a one-column index on a column the queries
-- use, or appends such a column of the same table to an index already chosen (up to
-- max_width columns), whichever lowers the workload's cost most per megabyte it adds, as long
-- as the set stays within the budget. It stops when no step lowers the cost.
--
-- Needs bench.queries (name, q) and bench.cost(q); returns the chosen indexes.

-- "table|col1,col2" as a CREATE INDEX statement
CREATE FUNCTION bench.ext_sql(k text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT format('CREATE INDEX ON %s (%s)', split_part(k, '|', 1), split_part(k, '|', 2))
$$;

CREATE FUNCTION bench.extend(budget_mb float8, max_width int DEFAULT 3)
RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    chosen text[] := '{}';        -- "table|col1,col2"
    hypo oid[] := '{}';           -- the hypothetical index of each chosen entry
    used_mb float8 := 0;
    cand text; replaces int; delta float8; gain float8; ratio float8; probe oid;
    best text; best_replaces int; best_ratio float8; best_delta float8;
BEGIN
    PERFORM hypopg_reset();
    -- the columns the queries use, per table, and which queries read each table
    DROP TABLE IF EXISTS ext_cols, ext_reads, ext_cost;
    CREATE TEMP TABLE ext_cols AS
        SELECT c.table_name::text AS tbl, c.column_name::text AS col
          FROM information_schema.columns c
         WHERE c.table_schema = 'public'
           AND EXISTS (SELECT FROM bench.queries q WHERE q.q ~ ('\m' || c.column_name || '\M'));
    CREATE TEMP TABLE ext_reads AS
        SELECT DISTINCT c.tbl, q.name FROM ext_cols c JOIN bench.queries q ON q.q ~ ('\m' || c.tbl || '\M');
    CREATE TEMP TABLE IF NOT EXISTS ext_size (key text PRIMARY KEY, mb float8);
    CREATE TEMP TABLE ext_cost AS SELECT name, bench.cost(q) AS cost FROM bench.queries;
    LOOP
        best := NULL; best_ratio := 0;
        FOR cand, replaces IN
            -- a new one-column index
            SELECT c.tbl || '|' || c.col, 0 FROM ext_cols c
            UNION ALL
            -- a chosen index with one more column
            SELECT x.k || ',' || c.col, x.ord::int
              FROM unnest(chosen) WITH ORDINALITY AS x(k, ord)
              JOIN ext_cols c ON c.tbl = split_part(x.k, '|', 1)
             WHERE NOT (c.col = ANY (string_to_array(split_part(x.k, '|', 2), ',')))
               AND cardinality(string_to_array(split_part(x.k, '|', 2), ',')) < max_width
        LOOP
            CONTINUE WHEN cand = ANY (chosen);
            IF NOT EXISTS (SELECT FROM ext_size WHERE key = cand) THEN
                INSERT INTO ext_size SELECT cand, size_mb FROM optischema.whatif(
                    format('SELECT 1 FROM %I', split_part(cand, '|', 1)), ARRAY[bench.ext_sql(cand)]);
            END IF;
            delta := (SELECT mb FROM ext_size WHERE key = cand)
                   - CASE WHEN replaces > 0 THEN (SELECT mb FROM ext_size WHERE key = chosen[replaces]) ELSE 0 END;
            CONTINUE WHEN used_mb + delta > budget_mb;
            IF replaces > 0 THEN
                PERFORM hypopg_drop_index(hypo[replaces]);
            END IF;
            probe := (SELECT indexrelid FROM hypopg_create_index(bench.ext_sql(cand)));
            SELECT sum(c.cost) - sum(bench.cost(q.q)) INTO gain
              FROM ext_reads r JOIN bench.queries q USING (name) JOIN ext_cost c USING (name)
             WHERE r.tbl = split_part(cand, '|', 1);
            PERFORM hypopg_drop_index(probe);
            IF replaces > 0 THEN
                hypo[replaces] := (SELECT indexrelid FROM hypopg_create_index(bench.ext_sql(chosen[replaces])));
            END IF;
            ratio := gain / greatest(delta, 0.1);
            IF gain > 0 AND ratio > best_ratio THEN
                best := cand; best_replaces := replaces; best_ratio := ratio; best_delta := delta;
            END IF;
        END LOOP;
        EXIT WHEN best IS NULL;
        IF best_replaces > 0 THEN
            PERFORM hypopg_drop_index(hypo[best_replaces]);
            chosen[best_replaces] := best;
            hypo[best_replaces] := (SELECT indexrelid FROM hypopg_create_index(bench.ext_sql(best)));
        ELSE
            chosen := chosen || best;
            hypo := hypo || (SELECT indexrelid FROM hypopg_create_index(bench.ext_sql(best)));
        END IF;
        used_mb := used_mb + best_delta;
        UPDATE ext_cost c SET cost = bench.cost(q.q)
          FROM ext_reads r JOIN bench.queries q USING (name)
         WHERE r.tbl = split_part(best, '|', 1) AND c.name = q.name;
    END LOOP;
    PERFORM hypopg_reset();
    RETURN QUERY SELECT replace(bench.ext_sql(k), 'CREATE INDEX ON ', 'CREATE INDEX CONCURRENTLY ON public.')
                   FROM unnest(chosen) k;
END $$;
