#!/usr/bin/env bash
# Benchmark: the advisor's index sets on a star schema, as the index-selection evaluations measure
# them. The Star Schema Benchmark at scale factor SCALE (bench/ssb/schema.sql generates it in
# SQL), no primary keys; its 13 queries (bench/ssb/queries.sql) run once each so that the worker
# sees them; then for each budget (optischema.index_budget_mb) recommend_indexes(NULL) is asked,
# and Extend and DB2Advis choose too; each set is built for real and measured
# (bench/selection.sh).
#   SCALE=1 BUDGETS="50 100 250 500" ALGORITHMS="optischema extend db2advis autoadmin relaxation" bash bench/ssb.sh
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/selection.sh"
SCALE=${SCALE:-1}
BUDGETS=${BUDGETS:-50 100 250 500}

install_optischema
selection_cluster bench-ssb 55443

if [[ $(sql -tAc "SELECT coalesce(obj_description(to_regclass('lineorder')), '')") != "ssb sf$SCALE" ]]; then
    echo "== generating SSB SF$SCALE"
    sql -q -c "SET client_min_messages = warning" \
        -c "DROP TABLE IF EXISTS dwdate, customer, supplier, part, lineorder" \
        -v scale="$SCALE" -f "$REPO/bench/ssb/schema.sql"
    sql -q -c "VACUUM ANALYZE" -c "COMMENT ON TABLE lineorder IS 'ssb sf$SCALE'"
fi
selection_bench "$REPO/bench/ssb/queries.sql" 13
cluster_stop
