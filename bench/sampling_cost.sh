#!/usr/bin/env bash
# Benchmark: time of one sample with 5,000 distinct statements in pg_stat_statements.
# Prints the median (and spread) of the worker's own last_sample_ms for
#  - idle samples: 5,000 entries to read and compare, almost none ran since the last sample;
#  - busy samples: all 5,000 ran since the last sample (5,000 history rows written);
#  - the first sample that sees the 5,000 statements (their text is read and stored once).
# last_sample_ms is measured inside the worker, from the start of the sample to its commit.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ROUNDS=${ROUNDS:-30}
install_optischema
cluster_init bench-sampling 55439 \
    "shared_preload_libraries = 'pg_stat_statements,optischema'" \
    "pg_stat_statements.max = 10000" "pg_stat_statements.track_utility = off" \
    "optischema.sample_interval = 2"
cluster_start
sql -c "DROP EXTENSION IF EXISTS optischema" -c "CREATE EXTENSION optischema CASCADE" >/dev/null

statements=$(mktemp)
distinct_statements bench_t 1000 "$statements"
run_all() { sql -o /dev/null -f "$statements"; }

wait_samples 2
sql -c "SELECT pg_stat_statements_reset()" >/dev/null
wait_samples 2
run_all
wait_samples 1
first=$(sql -tAc "SELECT round(last_sample_ms::numeric, 2) FROM optischema.status()")
entries=$(sql -tAc "SELECT count(*) FROM pg_stat_statements")

idle=()
for _ in $(seq 1 "$ROUNDS"); do
    wait_samples 1
    idle+=("$(sql -tAc "SELECT last_sample_ms FROM optischema.status()")")
done
busy=()
for _ in $(seq 1 10); do
    wait_samples 1       # a sample just ended: the next one sees all 5,000 statements run once
    run_all
    wait_samples 1
    busy+=("$(sql -tAc "SELECT last_sample_ms FROM optischema.status()")")
done
rm -f "$statements"
cluster_stop

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; pg_stat_statements entries: $entries"
printf 'first sample storing 5,000 new statements: %s ms\n' "$first"
printf 'idle sample (5,000 entries, none ran):  median %.2f ms  min %.2f  max %.2f  (n=%d)\n' \
    "$(printf '%s\n' "${idle[@]}" | median)" "$(printf '%s\n' "${idle[@]}" | sort -g | head -1)" \
    "$(printf '%s\n' "${idle[@]}" | sort -g | tail -1)" "${#idle[@]}"
printf 'busy sample (5,000 entries, all ran):   median %.2f ms  min %.2f  max %.2f  (n=%d)\n' \
    "$(printf '%s\n' "${busy[@]}" | median)" "$(printf '%s\n' "${busy[@]}" | sort -g | head -1)" \
    "$(printf '%s\n' "${busy[@]}" | sort -g | tail -1)" "${#busy[@]}"
