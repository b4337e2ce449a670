#!/usr/bin/env bash
# Benchmark: the dashboard API's latency. On the demo cluster (port 55433, the shop loaded and
# its workload run for WORKLOAD_SECONDS so that the history and recommendations are real),
# starts the proxy on port 8099 and times REQUESTS sequential requests per endpoint with curl
# (time_total: connect, query, transfer), while the workload keeps running; prints p50 and p95.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
REQUESTS=${REQUESTS:-200}
WORKLOAD_SECONDS=${WORKLOAD_SECONDS:-30}
demo_cluster
workload() { shop_workload "$1" 2; }
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
