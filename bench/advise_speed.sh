#!/usr/bin/env bash
# Benchmark: how long the advisor takes to choose indexes for a workload of 50 statements that
# bring about 200 candidate indexes (optischema.recommend_indexes() over the whole workload,
# candidates planned with each statement, together with the ones already chosen). The
# statements' figures are placed in OptiSchema's history directly, as a sample would leave them.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ROUNDS=${ROUNDS:-5}
install_optischema
cluster_init bench-advise 55438 "shared_preload_libraries = 'pg_stat_statements,optischema'" \
    "optischema.hot_top_n = 50"
cluster_start
cluster_restart
sql -q -c "SET client_min_messages = warning" -c "DROP EXTENSION IF EXISTS optischema" \
    -c "CREATE EXTENSION optischema CASCADE"
# five tables of twelve columns; ten statements on each, filtering on three columns, ordering by
# a fourth and reading a fifth
for t in 1 2 3 4 5; do
    if [[ -z $(sql -tAc "SELECT to_regclass('public.aw$t')") ]]; then
        cols=$(for k in $(seq 1 12); do printf ', c%d int' "$k"; done)
        vals=$(for k in $(seq 1 12); do printf ', ((g::bigint * %d * 7919 + %d) %% 500)::int' "$k" "$t"; done)
        sql -q -c "CREATE TABLE aw$t (id int PRIMARY KEY$cols, pad text)" \
            -c "INSERT INTO aw$t SELECT g$vals, repeat('x', 40) FROM generate_series(1, 100000) g" \
            -c "VACUUM ANALYZE aw$t"
    fi
done
sql -q -c "TRUNCATE optischema.history, optischema.statements"
qid=0
for t in 1 2 3 4 5; do
    for j in $(seq 1 10); do
        qid=$((qid + 1))
        # five different columns: two equalities, a range, a sort key, one more read
        a=$(( (j - 1) % 12 + 1 )); b=$(( (j + 2) % 12 + 1 )); e=$(( (j + 4) % 12 + 1 ))
        d=$(( (j + 6) % 12 + 1 )); x=$(( (j + 9) % 12 + 1 ))
        query="SELECT c$x FROM aw$t WHERE c$a = \$1 AND c$b = \$2 AND c$e < \$3 ORDER BY c$d LIMIT 20"
        sql -q -v q="$query" -v id="$qid" <<'SQL'
INSERT INTO optischema.statements VALUES (:id, :'q', now(), now());
INSERT INTO optischema.history
SELECT date_trunc('minute', now()), :id, 10, oid, true, 1000, 20000.0, 20000, 0, 0, 0
  FROM pg_database WHERE datname = current_database();
SQL
    done
done
echo "machine: $(nproc) cores; workload: $qid statements on 5 tables of 100,000 rows"
times=()
for r in $(seq 1 "$ROUNDS"); do
    out=$(sql -c "SET client_min_messages = debug1" -c '\timing on' \
              -c "SELECT count(*) AS chosen FROM optischema.recommend_indexes()" 2>&1)
    candidates=$(grep -c "optischema advisor: candidate" <<<"$out" || true)
    chosen=$(grep -A2 -- "----" <<<"$out" | sed -n 2p | tr -d ' ')
    ms=$(grep -o 'Time: [0-9.]*' <<<"$out" | tail -1 | cut -d' ' -f2)
    echo "round $r: $candidates candidates, $chosen indexes chosen, $ms ms"
    times+=("$ms")
done
echo "median: $(printf '%s\n' "${times[@]}" | median) ms for $qid statements"
cluster_stop
