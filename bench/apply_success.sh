#!/usr/bin/env bash
# Benchmark: apply success rate. Runs the demo shop's workload (port 55433, values captured at
# 10 %), lets OptiSchema analyse it, applies every open recommendation it can apply while the
# workload keeps writing, counts the actions that succeeded, then reverts them all so the demo
# cluster is left as it was.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
SECONDS_PER_RUN=${SECONDS_PER_RUN:-30}
install_optischema
cluster_init demo 55433 \
    "shared_preload_libraries = 'pg_stat_statements,optischema'" \
    "optischema.sample_interval = 5"
cluster_start
cluster_restart
sql -q -c "SET client_min_messages = warning" -c "DROP EXTENSION IF EXISTS optischema" \
    -c "CREATE EXTENSION optischema CASCADE"
if [[ -z $(sql -tAc "SELECT to_regclass('public.order_items')") ]]; then
    echo "== loading the shop (about a minute)"
    sql -f "$REPO/bench/demo/schema.sql"
fi
sql -q -c "ALTER SYSTEM SET optischema.param_sample_rate = 0.1" -c "SELECT pg_reload_conf()" >/dev/null
trap 'sql -q -c "ALTER SYSTEM RESET optischema.param_sample_rate" -c "SELECT pg_reload_conf()" >/dev/null' EXIT
workload() {
    (cd "$REPO/bench/demo" && "$PG_BIN/pgbench" -h 127.0.0.1 -p "$CLUSTER_PORT" -U postgres -n \
        -c 4 -j 2 -T "$1" \
        -f product.sql@30 -f order_detail.sql@30 -f new_order.sql@5 -f login.sql@3 \
        -f product_search.sql@3 -f customer_orders.sql@2 -f pending_orders.sql@1 postgres \
        >/dev/null 2>&1)
}
workload "$SECONDS_PER_RUN"
wait_samples 2
sql -q -c "SELECT optischema.analyze_now()" >/dev/null
ids=$(sql -tAc "SELECT id FROM optischema.recommendations
                 WHERE status = 'open' AND (kind IN ('index', 'drop_index', 'statistics', 'analyze')
                       OR (kind = 'config' AND sql LIKE 'ALTER %')) ORDER BY id")
total=$(wc -w <<<"$ids")
echo "machine: $(nproc) cores; $total recommendations to apply, the workload writing meanwhile"
workload 60 &
writer=$!
for id in $ids; do sql -tAc "SELECT optischema.apply($id)" >/dev/null; done
until [[ $(sql -tAc "SELECT count(*) FROM optischema.actions WHERE outcome IN ('queued', 'running')") == 0 ]]; do
    sleep 0.5
done
kill $writer 2>/dev/null || true
wait $writer 2>/dev/null || true
sql -c "SELECT recommendation_id, kind, outcome, round(duration_ms::numeric) AS ms, left(what, 70) AS what, error
          FROM optischema.actions ORDER BY id"
done=$(sql -tAc "SELECT count(*) FROM optischema.actions WHERE mode = 'apply' AND outcome = 'done'")
awk -v d="$done" -v t="$total" 'BEGIN { printf "applied %d of %d: success rate %.1f %%\n", d, t, (t ? 100 * d / t : 0) }'
# leave the demo as it was
for id in $(sql -tAc "SELECT id FROM optischema.recommendations WHERE status = 'applied' AND kind <> 'analyze'"); do
    sql -tAc "SELECT optischema.revert($id)" >/dev/null
done
until [[ $(sql -tAc "SELECT count(*) FROM optischema.actions WHERE outcome IN ('queued', 'running')") == 0 ]]; do
    sleep 0.5
done
echo "reverted: $(sql -tAc "SELECT count(*) FROM optischema.actions WHERE mode = 'revert' AND outcome = 'done'")"
