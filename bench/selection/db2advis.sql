-- DB2Advis (Valentin, Zuliani, Zilio, Lohman and Skelley, "DB2 Advisor: An Optimizer Smart
-- Enough to Recommend Its Own Indexes", ICDE 2000), as the index-selection evaluations implement
-- it, on the same planner (HypoPG, EXPLAIN's total cost) and size model (optischema.whatif()'s
-- size_mb) as bench/selection/extend.sql.
--
-- Each statement is planned with every index it could use in place: one- and two-column
-- indexes, in either order, on the columns of each of its tables that it names. Each index its
-- plan uses is credited with what the statement saves. The indexes are taken by credit per
-- megabyte while they fit the budget; then, for a bounded time, one chosen index at a time is
-- swapped with a random other that fits, and a swap is kept when the whole workload's cost drops.
--
-- Needs bench.queries (name, q) and bench.cost(q); returns the chosen indexes.

-- the sum of the statements' costs with the indexes of `set` in place, hypothetically
CREATE FUNCTION bench.db2_cost(set text[]) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE total float8;
BEGIN
    PERFORM hypopg_reset();
    PERFORM hypopg_create_index(s) FROM unnest(set) s;
    total := (SELECT sum(bench.cost(q)) FROM bench.queries);
    PERFORM hypopg_reset();
    RETURN total;
END $$;

CREATE FUNCTION bench.db2advis(budget_mb float8, variation_seconds float8 DEFAULT 10)
RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    query record; cand record; plan text; without float8; with_all float8;
    used_mb float8 := 0; chosen text[] := '{}'; others text[]; best float8; trial text[];
    trial_mb float8; trial_cost float8; deadline timestamptz; i int; j int;
BEGIN
    PERFORM hypopg_reset();
    PERFORM setseed(0.42);
    DROP TABLE IF EXISTS db2_credit;
    CREATE TEMP TABLE db2_credit (sql text PRIMARY KEY, credit float8 NOT NULL, mb float8);
    FOR query IN SELECT name, q FROM bench.queries ORDER BY name LOOP
        without := bench.cost(query.q);
        DROP TABLE IF EXISTS db2_cand;
        CREATE TEMP TABLE db2_cand AS
            WITH cols AS (
                SELECT c.table_name::text AS tbl, c.column_name::text AS col
                  FROM information_schema.columns c
                 WHERE c.table_schema = 'public'
                   AND query.q ~ ('\m' || c.table_name || '\M')
                   AND query.q ~ ('\m' || c.column_name || '\M'))
            SELECT format('CREATE INDEX ON %s (%s)', tbl, col) AS sql FROM cols
            UNION ALL
            SELECT format('CREATE INDEX ON %s (%s, %s)', a.tbl, a.col, b.col)
              FROM cols a JOIN cols b ON a.tbl = b.tbl AND a.col <> b.col;
        ALTER TABLE db2_cand ADD COLUMN indexname text;
        UPDATE db2_cand d SET indexname = (SELECT h.indexname FROM hypopg_create_index(d.sql) h);
        EXECUTE 'EXPLAIN (FORMAT JSON) ' || query.q INTO plan;
        with_all := (plan::json -> 0 -> 'Plan' ->> 'Total Cost')::float8;
        INSERT INTO db2_credit (sql, credit)
            SELECT d.sql, without - with_all FROM db2_cand d
             WHERE strpos(plan, '"' || d.indexname || '"') > 0 AND without > with_all
            ON CONFLICT (sql) DO UPDATE SET credit = db2_credit.credit + excluded.credit;
        PERFORM hypopg_reset();
    END LOOP;
    UPDATE db2_credit SET mb = (SELECT size_mb FROM optischema.whatif('SELECT 1', ARRAY[sql]));
    FOR cand IN SELECT sql, mb FROM db2_credit ORDER BY credit / greatest(mb, 0.1) DESC, sql LOOP
        IF used_mb + cand.mb <= budget_mb THEN
            chosen := chosen || cand.sql;
            used_mb := used_mb + cand.mb;
        END IF;
    END LOOP;
    -- try variations
    others := ARRAY(SELECT sql FROM db2_credit WHERE NOT (sql = ANY (chosen)) AND mb <= budget_mb ORDER BY sql);
    best := bench.db2_cost(chosen);
    deadline := clock_timestamp() + make_interval(secs => variation_seconds);
    WHILE clock_timestamp() < deadline AND cardinality(chosen) > 0 AND cardinality(others) > 0 LOOP
        i := 1 + floor(random() * cardinality(chosen))::int;
        j := 1 + floor(random() * cardinality(others))::int;
        trial_mb := used_mb - (SELECT mb FROM db2_credit WHERE sql = chosen[i])
                    + (SELECT mb FROM db2_credit WHERE sql = others[j]);
        CONTINUE WHEN trial_mb > budget_mb;
        trial := chosen;
        trial[i] := others[j];
        trial_cost := bench.db2_cost(trial);
        IF trial_cost < best THEN
            others[j] := chosen[i];
            chosen := trial;
            best := trial_cost;
            used_mb := trial_mb;
        END IF;
    END LOOP;
    RETURN QUERY SELECT replace(s, 'CREATE INDEX ON ', 'CREATE INDEX CONCURRENTLY ON public.')
                   FROM unnest(chosen) s;
END $$;
