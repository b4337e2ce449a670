#!/usr/bin/env bash
# Benchmark: pgbench select-only TPS with OptiSchema sampling every second, against the same
# server without OptiSchema loaded (pg_stat_statements loaded in both). Runs alternate
# (A B B A ...) in one invocation so drift on a noisy machine hits both sides alike.
# MODE=capture compares instead OptiSchema with parameter capture at its default rate (1 %)
# against OptiSchema with capture off: the cost of the capture hooks alone.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ROUNDS=${ROUNDS:-4}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-20}
CLIENTS=${CLIENTS:-2}
MODE=${MODE:-sampling}
install_optischema
cluster_init bench-overhead 55435 "optischema.sample_interval = 1"
if [[ $MODE == capture ]]; then
    with_optischema() {
        cluster_set "shared_preload_libraries = 'pg_stat_statements,optischema'"
        cluster_set "optischema.param_capture = on"
        cluster_start; cluster_restart
    }
    without_optischema() {
        cluster_set "shared_preload_libraries = 'pg_stat_statements,optischema'"
        cluster_set "optischema.param_capture = off"
        cluster_start; cluster_restart
    }
    label_with="capture on (1 %)"; label_without="capture off"
else
    with_optischema() {
        cluster_set "shared_preload_libraries = 'pg_stat_statements,optischema'"
        cluster_set "optischema.param_capture = on"
        cluster_start; cluster_restart
    }
    without_optischema() {
        cluster_set "shared_preload_libraries = 'pg_stat_statements'"
        cluster_start; cluster_restart
    }
    label_with="with OptiSchema (1 s sampling)"; label_without="without OptiSchema"
fi
with_optischema
sql -c "DROP EXTENSION IF EXISTS optischema" -c "CREATE EXTENSION optischema CASCADE" >/dev/null
if [[ -z $(sql -tAc "SELECT to_regclass('public.pgbench_accounts')") ]]; then
    "$PG_BIN/pgbench" -h 127.0.0.1 -p "$CLUSTER_PORT" -U postgres -i -s 10 -q postgres >/dev/null 2>&1
fi
run() {
    "$PG_BIN/pgbench" -h 127.0.0.1 -p "$CLUSTER_PORT" -U postgres -n -S -c "$CLIENTS" -j "$CLIENTS" \
        -T "$SECONDS_PER_RUN" postgres 2>/dev/null | awk '/^tps/ {print $3}'
}
with=(); without=()
for r in $(seq 1 "$ROUNDS"); do
    if (( r % 2 )); then order="without with"; else order="with without"; fi
    for side in $order; do
        "${side}_optischema"
        tps=$(run)
        if [[ $side == with ]]; then
            with+=("$tps")
            samples=$(sql -tAc "SELECT samples_taken FROM optischema.status()")
        else
            without+=("$tps")
        fi
        echo "round $r $side: $tps tps"
    done
done
cluster_stop
m_with=$(printf '%s\n' "${with[@]}" | median)
m_without=$(printf '%s\n' "${without[@]}" | median)
echo "machine: $(nproc) cores; pgbench -S -c $CLIENTS, ${SECONDS_PER_RUN}s runs, $ROUNDS rounds; samples taken so far: $samples"
printf 'median tps %s: %.1f\nmedian tps %s: %.1f\nchange: %+.2f%%\n' \
    "$label_without" "$m_without" "$label_with" "$m_with" "$(awk -v a="$m_with" -v b="$m_without" 'BEGIN {print (a - b) / b * 100}')"
