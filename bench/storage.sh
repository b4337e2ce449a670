#!/usr/bin/env bash
# Benchmark: history growth with 500 distinct statements active in every sample, at the
# default 10 s sample interval. Measures the on-disk size of OptiSchema's tables (with indexes)
# over MINUTES minutes after a warm-up minute, and projects the growth to one day.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
MINUTES=${MINUTES:-5}
install_optischema
cluster_init bench-storage 55436 \
    "shared_preload_libraries = 'pg_stat_statements,optischema'" \
    "pg_stat_statements.max = 10000" "pg_stat_statements.track_utility = off"
cluster_start
sql -c "DROP EXTENSION IF EXISTS optischema" -c "CREATE EXTENSION optischema CASCADE" >/dev/null
statements=$(mktemp)
distinct_statements store_t 100 "$statements"
# history grows with time; the other tables hold one row per statement and only churn
history_sql="SELECT pg_total_relation_size('optischema.history')"
fixed_sql="SELECT sum(pg_total_relation_size(c))::bigint FROM unnest(ARRAY['optischema.history_open',
           'optischema.statements', 'optischema.snapshot', 'optischema.sampler_state']::regclass[]) c"
rows_sql="SELECT count(*) FROM optischema.history"
load_for() { local end=$((SECONDS + $1)); while ((SECONDS < end)); do sql -o /dev/null -f "$statements"; sleep 5; done; }

load_for 60
start_bytes=$(sql -tAc "$history_sql"); start_rows=$(sql -tAc "$rows_sql"); start=$SECONDS
load_for $((MINUTES * 60))
end_bytes=$(sql -tAc "$history_sql"); end_rows=$(sql -tAc "$rows_sql")
minutes=$(awk -v s=$((SECONDS - start)) 'BEGIN {print s / 60}')
active=$(sql -tAc "SELECT count(DISTINCT queryid) FROM optischema.history WHERE bucket > now() - interval '3 minutes'")
sql -c "VACUUM optischema.history_open, optischema.statements, optischema.snapshot, optischema.sampler_state"
fixed_bytes=$(sql -tAc "$fixed_sql")
rm -f "$statements"
cluster_stop
echo "statements active per minute: $active; measured over $minutes min at 10 s sampling"
awk -v b=$((end_bytes - start_bytes)) -v r=$((end_rows - start_rows)) -v m="$minutes" -v f="$fixed_bytes" 'BEGIN {
    printf "history rows per minute: %.0f, %.0f bytes each with their index\n", r / m, b / r
    printf "history growth: %.2f MB per minute -> %.0f MB per day projected\n", b / m / 1048576, b / m * 1440 / 1048576
    printf "per-statement tables (open minute, texts, snapshot), after VACUUM: %.1f MB, not growing with time\n", f / 1048576
}'
