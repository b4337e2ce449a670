#!/usr/bin/env bash
# Benchmark: what-if evaluations per second, OptiSchema's whatif() against HypoPG
# (hypopg_create_index + EXPLAIN + hypopg_reset) on the same query and index, in one session,
# alternating blocks so both see the same machine. Needs postgresql-15-hypopg (installed by
# .ci/setup.sh for the tests).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
N=${N:-300}
install_optischema
cluster_init bench-whatif 55437 "shared_preload_libraries = 'pg_stat_statements,optischema'"
cluster_start
cluster_restart
sql -q -c "DROP EXTENSION IF EXISTS optischema" -c "CREATE EXTENSION optischema CASCADE" \
    -c "CREATE EXTENSION IF NOT EXISTS hypopg"
if [[ -z $(sql -tAc "SELECT to_regclass('public.wb')") ]]; then
    sql -q -c "CREATE TABLE wb (a int, b int, c text)" \
        -c "INSERT INTO wb SELECT g, g % 1000, md5(g::text) FROM generate_series(1, 1000000) g" -c "ANALYZE wb"
fi
QUERY="SELECT a FROM wb WHERE b = 7 ORDER BY a LIMIT 10"
INDEX="CREATE INDEX ON wb (b, a)"
# four indexes per whatif() call: the plan without them is made once per call
INDEXES="ARRAY['CREATE INDEX ON wb (b, a)', 'CREATE INDEX ON wb (b)', 'CREATE INDEX ON wb (a)', 'CREATE INDEX ON wb (b) INCLUDE (a)']"
rate() {
    sql -tA <<SQL
DO \$\$
DECLARE t0 timestamptz; ours float8 := 0; ours4 float8 := 0; hypo float8 := 0; r record;
BEGIN
    FOR round IN 1..3 LOOP
        t0 := clock_timestamp();
        FOR i IN 1..$N LOOP
            PERFORM * FROM optischema.whatif('$QUERY', ARRAY['$INDEX']);
        END LOOP;
        ours := ours + extract(epoch FROM clock_timestamp() - t0);
        t0 := clock_timestamp();
        FOR i IN 1..($N / 4) LOOP
            PERFORM * FROM optischema.whatif('$QUERY', $INDEXES);
        END LOOP;
        ours4 := ours4 + extract(epoch FROM clock_timestamp() - t0);
        t0 := clock_timestamp();
        FOR i IN 1..$N LOOP
            PERFORM * FROM hypopg_create_index('$INDEX');
            EXECUTE 'EXPLAIN $QUERY';
            PERFORM hypopg_reset();
        END LOOP;
        hypo := hypo + extract(epoch FROM clock_timestamp() - t0);
    END LOOP;
    RAISE NOTICE 'hypopg (create, EXPLAIN, reset): % evaluations/s', round((3 * $N / hypo)::numeric, 0);
    RAISE NOTICE 'optischema whatif(), 1 index a call: % evaluations/s, ratio %',
        round((3 * $N / ours)::numeric, 0), round(((3 * $N / ours) / (3 * $N / hypo))::numeric, 2);
    RAISE NOTICE 'optischema whatif(), 4 indexes a call: % evaluations/s, ratio %',
        round((3 * ($N / 4) * 4 / ours4)::numeric, 0), round(((3 * ($N / 4) * 4 / ours4) / (3 * $N / hypo))::numeric, 2);
END
\$\$;
SQL
}
echo "machine: $(nproc) cores; query: $QUERY; index: $INDEX; $((3 * N)) evaluations each"
rate 2>&1 | sed 's/^NOTICE:  //'
cluster_stop
