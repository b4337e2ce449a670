#!/usr/bin/env bash
# The test command RUNS times in a row (default 3) while the shop's workload (pgbench, 2
# clients) keeps both cores busy against the demo cluster: tests that assume timing show up
# here. Run the demo first (bash bench/demo.sh); each run's output is in $LOGS/run-N.log.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
RUNS=${RUNS:-3}
LOGS=${LOGS:-/var/tmp/optischema-loaded-tests}
CLUSTER_DIR=/var/tmp/optischema-demo
CLUSTER_PORT=55433
if ! sql -tAc "SELECT 1" >/dev/null 2>&1; then
    echo "the demo cluster is not running: run bash bench/demo.sh first" >&2
    exit 1
fi
mkdir -p "$LOGS"
failed=0
for i in $(seq 1 "$RUNS"); do
    shop_workload 7200 2 &
    started=$(date +%s)
    bash "$REPO/.ci/test.sh" > "$LOGS/run-$i.log" 2>&1
    rc=$?
    pkill -f "pgbench -h 127.0.0.1 -p $CLUSTER_PORT" || true
    wait 2>/dev/null
    echo "run $i: rc $rc in $(( $(date +%s) - started )) s: $(grep -E '^tests:' "$LOGS/run-$i.log" | tail -1)"
    (( rc == 0 )) || failed=$((failed + 1))
done
echo "$failed of $RUNS runs failed"
(( failed == 0 ))
