-- How low any set within a budget could take the workload's cost, estimated per statement: a
-- set shared by every statement can do no better on one statement than the best set for that
-- statement alone within the same budget, so the sum of those per-statement bests bounds every
-- algorithm's total from below. Each statement's best is estimated as the cheapest of: no
-- index, the set Extend (bench.extend) chooses for it alone, the set
-- optischema.recommend_indexes() chooses for it alone, and every workload set chosen at this
-- budget so far (bench.sets); the estimate is as tight as these searches are on one statement.
--
-- Needs bench.queries (name, q), bench.cost(q), bench.sets and bench.extend; returns one row
-- per statement.

-- the planner's cost of q with the given indexes in place hypothetically (HypoPG)
CREATE FUNCTION bench.cost_with(q text, indexes text[]) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE
    i text;
    c float8;
BEGIN
    PERFORM hypopg_reset();
    FOREACH i IN ARRAY coalesce(indexes, '{}') LOOP
        PERFORM hypopg_create_index(replace(i, ' CONCURRENTLY', ''));
    END LOOP;
    c := bench.cost(q);
    PERFORM hypopg_reset();
    RETURN c;
END $$;

CREATE FUNCTION bench.bound(budget_mb float8)
RETURNS TABLE (name text, cost_none float8, cost_extend float8, cost_optischema float8,
               cost_sets float8)
LANGUAGE plpgsql AS $$
DECLARE
    statement record;
    alone text[];
BEGIN
    CREATE TEMP TABLE bound_queries ON COMMIT DROP AS SELECT * FROM bench.queries;
    FOR statement IN SELECT b.name, b.q FROM bound_queries b ORDER BY b.name LOOP
        name := statement.name;
        cost_none := bench.cost(statement.q);
        -- Extend reads its workload from bench.queries: this statement alone
        DELETE FROM bench.queries;
        INSERT INTO bench.queries SELECT * FROM bound_queries b WHERE b.name = statement.name;
        alone := ARRAY(SELECT bench.extend(budget_mb));
        cost_extend := bench.cost_with(statement.q, alone);
        alone := ARRAY(SELECT r.index_sql FROM optischema.recommend_indexes(statement.q) r);
        cost_optischema := bench.cost_with(statement.q, alone);
        cost_sets := (SELECT min(bench.cost_with(statement.q, s.indexes))
                        FROM (SELECT array_agg(sets.index_sql) AS indexes FROM bench.sets sets
                               WHERE sets.budget_mb = bound.budget_mb GROUP BY algorithm) s);
        RETURN NEXT;
    END LOOP;
    DELETE FROM bench.queries;
    INSERT INTO bench.queries SELECT * FROM bound_queries;
END $$;
