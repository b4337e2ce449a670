#!/usr/bin/env bash
# Benchmark: the advisor's index sets on TPC-H, as the index-selection evaluations measure them.
# TPC-H SF1 (tpchgen-cli, from crates.io), no primary keys; the 19 queries of
# bench/tpch/queries.sql run once each so that the worker sees them; then for each budget
# (optischema.index_budget_mb) recommend_indexes(NULL) is asked, and Extend (bench/tpch/extend.sql,
# the published algorithm, on the same planner and size model) chooses too; each set is built
# for real, and the sum of the 19 queries' planner costs with it, relative to no index, is
# printed with the set's real size and the time the choice took.
#   SCALE=1 BUDGETS="100 250 500 1000" ALGORITHMS="optischema extend" bash bench/tpch.sh
set -euo pipefail
source "$(dirname "$0")/lib.sh"
SCALE=${SCALE:-1}
BUDGETS=${BUDGETS:-100 250 500 1000}
ALGORITHMS=${ALGORITHMS:-optischema extend}
TPCHGEN_VERSION=4.0.0
TOOLS=$REPO/target/tools

install_optischema
if [[ ! -x $TOOLS/bin/tpchgen-cli ]]; then
    echo "== installing tpchgen-cli $TPCHGEN_VERSION (crates.io)"
    cargo install --quiet --locked tpchgen-cli --version "$TPCHGEN_VERSION" --root "$TOOLS"
fi
cluster_init bench-tpch 55442 "shared_preload_libraries = 'pg_stat_statements,optischema'" \
    "optischema.sample_interval = 5" "optischema.hot_top_n = 50" \
    "work_mem = '64MB'" "maintenance_work_mem = '512MB'"
cluster_start
cluster_restart
sql -q -c "SET client_min_messages = warning" -c "CREATE EXTENSION IF NOT EXISTS optischema CASCADE" \
    -c "CREATE EXTENSION IF NOT EXISTS hypopg"

if [[ $(sql -tAc "SELECT coalesce(obj_description(to_regclass('lineitem')), '')") != "tpch sf$SCALE" ]]; then
    echo "== generating and loading TPC-H SF$SCALE"
    data=$CLUSTER_DIR/tpch-sf$SCALE
    rm -rf "$data" && mkdir -p "$data"
    "$TOOLS/bin/tpchgen-cli" csv --scale-factor "$SCALE" --output-dir "$data" >/dev/null
    sql -q -c "SET client_min_messages = warning" \
        -c "DROP TABLE IF EXISTS region, nation, part, supplier, partsupp, customer, orders, lineitem" \
        -f "$REPO/bench/tpch/schema.sql"
    for t in region nation part supplier partsupp customer orders lineitem; do
        sql -q -c "\\copy $t FROM '$data/$t.csv' WITH (FORMAT csv, HEADER true)"
    done
    sql -q -c "VACUUM ANALYZE" -c "COMMENT ON TABLE lineitem IS 'tpch sf$SCALE'"
    rm -rf "$data"
fi
sql -q -c "SET client_min_messages = warning" -c "DROP SCHEMA IF EXISTS bench CASCADE" -c "CREATE SCHEMA bench"
sql -q <<'SQL'
-- the planner's total cost of a statement, as EXPLAIN shows it
CREATE FUNCTION bench.cost(q text) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE plan json;
BEGIN
    EXECUTE 'EXPLAIN (FORMAT JSON) ' || q INTO plan;
    RETURN (plan -> 0 -> 'Plan' ->> 'Total Cost')::float8;
END $$;
CREATE TABLE bench.queries (name text PRIMARY KEY, q text NOT NULL);
CREATE TABLE bench.sets (algorithm text, budget_mb int, index_sql text, est_size_mb float8, real_size_mb float8);
CREATE TABLE bench.advice (algorithm text, budget_mb int, seconds float8, PRIMARY KEY (algorithm, budget_mb));
SQL
sql -q -f "$REPO/bench/tpch/extend.sql"
# one statement per "-- qNN" section
awk '/^-- q[0-9][0-9]$/ {name = substr($2, 1); next} name && !/^--/ {text[name] = text[name] $0 "\n"}
     END {for (n in text) printf "%s\t%s\x1e", n, text[n]}' "$REPO/bench/tpch/queries.sql" |
    while IFS=$'\t' read -r -d $'\x1e' name text; do
        sql -q -v name="$name" -v q="${text%;*}" <<<"INSERT INTO bench.queries VALUES (:'name', :'q')"
    done
[[ $(sql -tAc "SELECT count(*) FROM bench.queries") == 19 ]] || { echo "expected 19 queries" >&2; exit 1; }

echo "== running the 19 queries once (the worker samples them)"
sql -q -c "SELECT optischema.reset()" >/dev/null
wait_samples 1
started=$(date +%s)
sql -tA -c "SELECT name FROM bench.queries ORDER BY name" | while read -r name; do
    sql -q -o /dev/null -c "$(sql -tA -c "SELECT q FROM bench.queries WHERE name = '$name'")"
done
echo "   ran in $(( $(date +%s) - started )) s"
wait_samples 2

total_cost() { sql -tAc "SELECT round(sum(bench.cost(q))::numeric, 0) FROM bench.queries"; }
base=$(total_cost)
echo "== sum of planner costs without indexes: $base"
# choose ALGORITHM BUDGET: the set into bench.sets, the time it took into bench.advice
choose() {
    local chooser
    case $1 in
        optischema) chooser="SELECT index_sql, size_mb FROM optischema.recommend_indexes(NULL)" ;;
        extend) chooser="SELECT e, (SELECT size_mb FROM optischema.whatif('SELECT 1', ARRAY[replace(e, ' CONCURRENTLY', '')])) FROM bench.extend($2) e" ;;
    esac
    sql -q <<SQL
SET client_min_messages = warning;
SET optischema.index_budget_mb = $2;
SELECT clock_timestamp() AS started \gset
INSERT INTO bench.sets (algorithm, budget_mb, index_sql, est_size_mb) SELECT '$1', $2, s.* FROM ($chooser) s;
INSERT INTO bench.advice SELECT '$1', $2, extract(epoch FROM clock_timestamp() - :'started'::timestamptz);
SQL
}

# measure ALGORITHM BUDGET: builds the set, prints its line, drops it
measure() {
    local n=0 index real cost
    while IFS= read -r index; do
        n=$((n + 1))
        sql -q -c "${index/CREATE INDEX CONCURRENTLY ON /CREATE INDEX bench_i$n ON }"
        sql -q -v a="$1" -v b="$2" -v i="$index" -v n="bench_i$n" <<<"UPDATE bench.sets
            SET real_size_mb = pg_relation_size(:'n'::regclass) / 1048576.0
            WHERE algorithm = :'a' AND budget_mb = :b AND index_sql = :'i'"
    done < <(sql -tA -v a="$1" -v b="$2" <<<"SELECT index_sql FROM bench.sets WHERE algorithm = :'a' AND budget_mb = :b")
    cost=$(total_cost)
    sql -tA -v a="$1" -v b="$2" <<<"SELECT round(coalesce(sum(real_size_mb), 0)::numeric, 1), round(coalesce(sum(est_size_mb), 0)::numeric, 1),
               (SELECT round(seconds::numeric, 2) FROM bench.advice WHERE algorithm = :'a' AND budget_mb = :b)
          FROM bench.sets WHERE algorithm = :'a' AND budget_mb = :b" |
        while IFS='|' read -r real est secs; do
            awk -v b="$2" -v a="$1" -v n="$n" -v c="$cost" -v base="$base" -v r="$real" -v e="$est" -v s="$secs" \
                'BEGIN {printf "%-10s %-11s %8d %14.3f %14.1f %14.1f %10.2f\n", b, a, n, c / base, r, e, s}'
        done
    sql -tA -c "SELECT relname FROM pg_class WHERE relname LIKE 'bench\_i%' AND relkind = 'i'" |
        while read -r index; do sql -q -c "DROP INDEX $index"; done
}

printf '%-10s %-11s %8s %14s %14s %14s %10s\n' "budget MB" algorithm indexes "relative cost" "real size MB" "model MB" "choice s"
for budget in $BUDGETS; do
    for algorithm in $ALGORITHMS; do
        choose "$algorithm" "$budget"
        measure "$algorithm" "$budget"
    done
done
echo "== the sets"
sql -c "SELECT budget_mb, algorithm, index_sql, round(est_size_mb::numeric, 1) AS model_mb, round(real_size_mb::numeric, 1) AS real_mb
          FROM bench.sets ORDER BY budget_mb, algorithm, index_sql"
cluster_stop
