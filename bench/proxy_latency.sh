#!/usr/bin/env bash
# Benchmark: the dashboard API's latency. On the demo cluster (port 55433, the shop loaded and
# its workload run for WORKLOAD_SECONDS so that the history and recommendations are real),
# starts the proxy on port 8099 and times REQUESTS sequential requests per endpoint with curl
# (time_total: connect, query, transfer), while the workload keeps running; prints p50 and p95.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
REQUESTS=${REQUESTS:-200}
WORKLOAD_SECONDS=${WORKLOAD_SECONDS:-30}
install_optischema
cluster_init demo 55433 \
    "shared_preload_libraries = 'pg_stat_statements,optischema'" \
    "optischema.sample_interval = 5"
cluster_start
cluster_restart
sql -q -c "SET client_min_messages = warning" -c "CREATE EXTENSION IF NOT EXISTS optischema CASCADE"
if [[ -z $(sql -tAc "SELECT to_regclass('public.order_items')") ]]; then
    echo "== loading the shop (about a minute)"
    sql -f "$REPO/bench/demo/schema.sql"
fi
workload() {
    (cd "$REPO/bench/demo" && "$PG_BIN/pgbench" -h 127.0.0.1 -p "$CLUSTER_PORT" -U postgres -n \
        -c 2 -j 2 -T "$1" \
        -f product.sql@30 -f order_detail.sql@30 -f new_order.sql@5 -f login.sql@3 \
        -f product_search.sql@3 -f customer_orders.sql@2 -f pending_orders.sql@1 postgres \
        >/dev/null 2>&1)
}
workload "$WORKLOAD_SECONDS"
wait_samples 1
sql -q -c "SELECT optischema.analyze_now()" >/dev/null
start_dashboard 8099
top=$(sql -tAc "SELECT queryid FROM optischema.hot_queries('1 hour', 1)")
rec=$(sql -tAc "SELECT min(id) FROM optischema.recommendations")
workload 600 &
writer=$!
trap 'kill $writer 2>/dev/null || true; kill "$(cat "$CLUSTER_DIR/proxy.pid")" 2>/dev/null || true' EXIT
echo "machine: $(nproc) cores; $REQUESTS requests per endpoint, the shop's workload running (2 clients)"
printf '%-46s %8s %8s\n' endpoint p50_ms p95_ms
for path in /api/databases /api/fleet /api/demo/status "/api/demo/hot?since=1%20hour&limit=20" \
            /api/demo/heatmap "/api/demo/history/$top" "/api/demo/recommendations?status=open" \
            "/api/demo/recommendations/$rec" "/api/demo/explain/$top" /index.html /app.js; do
    for _ in $(seq 1 "$REQUESTS"); do
        curl -s -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:8099$path"
    done | sort -g | awk -v p="$path" '{a[NR] = $1 * 1000} END {
        printf "%-46s %8.1f %8.1f\n", p, a[int(NR * 0.5)], a[int(NR * 0.95)] }'
done
