#!/usr/bin/env bash
# Benchmark: the advisor's index sets on TPC-H, as the index-selection evaluations measure them.
# TPC-H SF1 (tpchgen-cli, from crates.io), no primary keys; the 19 queries of
# bench/tpch/queries.sql run once each so that the worker sees them; then for each budget
# (optischema.index_budget_mb) recommend_indexes(NULL) is asked, and Extend and DB2Advis choose
# too; each set is built for real and measured (bench/selection.sh).
#   SCALE=1 BUDGETS="100 250 500 1000" ALGORITHMS="optischema extend db2advis autoadmin relaxation" bash bench/tpch.sh
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/selection.sh"
SCALE=${SCALE:-1}
BUDGETS=${BUDGETS:-100 250 500 1000}
TPCHGEN_VERSION=4.0.0
TOOLS=$REPO/target/tools

install_optischema
if [[ ! -x $TOOLS/bin/tpchgen-cli ]]; then
    echo "== installing tpchgen-cli $TPCHGEN_VERSION (crates.io)"
    cargo install --quiet --locked tpchgen-cli --version "$TPCHGEN_VERSION" --root "$TOOLS"
fi
selection_cluster bench-tpch 55442

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
selection_bench "$REPO/bench/tpch/queries.sql" 19
cluster_stop
