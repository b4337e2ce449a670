#!/usr/bin/env bash
# Benchmark: time from optischema.ask() to the stored answer, with a mock OpenAI-compatible
# endpoint on 127.0.0.1 that answers at once, so the time measured is OptiSchema's own (queue,
# context, HTTP, storing, announcing), not the model's.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ROUNDS=${ROUNDS:-10}
MOCK_PORT=${MOCK_PORT:-55490}
install_optischema
(cd "$REPO/tests/cluster" && cargo build --release --bin mock-llm >/dev/null 2>&1)
"$REPO/tests/cluster/target/release/mock-llm" "$MOCK_PORT" >/dev/null &
MOCK_PID=$!
trap 'kill $MOCK_PID 2>/dev/null || true; cluster_stop' EXIT
cluster_init bench-ai 55440 "shared_preload_libraries = 'pg_stat_statements,optischema'" \
    "optischema.sample_interval = 1"
cluster_set "optischema.llm_base_url = 'http://127.0.0.1:$MOCK_PORT/v1'"
cluster_set "optischema.llm_api_key = 'bench-key'"
cluster_set "optischema.llm_daily_token_budget = 100000000"
cluster_start
cluster_restart
sql -q -c "SET client_min_messages = warning" -c "DROP EXTENSION IF EXISTS optischema" \
    -c "CREATE EXTENSION optischema CASCADE" \
    -c "DROP TABLE IF EXISTS big" \
    -c "CREATE TABLE big (id bigint PRIMARY KEY, k int, pad text)" \
    -c "INSERT INTO big SELECT g, g % 5000, repeat('x', 50) FROM generate_series(1, 100000) g" \
    -c "ANALYZE big"
wait_samples 2
printf '\\set k random(1, 5000)\nSELECT id FROM big WHERE k = :k;\n' > /tmp/optischema-ai-bench.sql
"$PG_BIN/pgbench" -h 127.0.0.1 -p "$CLUSTER_PORT" -U postgres -n -t 20 -M extended \
    -f /tmp/optischema-ai-bench.sql postgres >/dev/null
wait_samples 2
q=$(sql -tAc "SELECT queryid FROM optischema.statements WHERE query = 'SELECT id FROM big WHERE k = \$1'")
echo "machine: $(nproc) cores; statement $q; mock endpoint answering at once"
times=()
for r in $(seq 1 "$ROUNDS"); do
    sql -q -c "DELETE FROM optischema.ai_cache" -c "DELETE FROM optischema.ai_requests"
    # t0 is taken before ask(), which commits on its own: the worker sees the request then
    ms=$(sql -tA 2>&1 <<SQL | sed -n 's/^NOTICE:  //p'
SELECT set_config('bench.t0', clock_timestamp()::text, false) AS t0 \gset
SELECT optischema.ask($q) IS NOT NULL AS asked \gset
DO \$\$
BEGIN
    WHILE NOT EXISTS (SELECT FROM optischema.ai_cache WHERE queryid = $q) LOOP
        PERFORM pg_sleep(0.005);
        IF clock_timestamp() - current_setting('bench.t0')::timestamptz > interval '30 s' THEN
            RAISE EXCEPTION 'no answer in 30 s';
        END IF;
    END LOOP;
    RAISE NOTICE '%', round(extract(epoch FROM clock_timestamp() - current_setting('bench.t0')::timestamptz)::numeric * 1000, 1);
END \$\$;
SQL
    )
    echo "round $r: ${ms} ms from ask() to the stored answer"
    times+=("$ms")
done
echo "median: $(printf '%s\n' "${times[@]}" | median) ms (target < 5,000 ms)"
