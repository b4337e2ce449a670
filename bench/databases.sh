#!/usr/bin/env bash
# Benchmark: serving many databases. 5,000 distinct statements in all, spread evenly over 1, 10
# and 50 databases that have the extension; prints for each count
#  - the busy sample's time (all 5,000 ran since the previous sample): the sampler reads
#    pg_stat_statements once, stores the server's history and hands each database its share,
#    measured inside the worker (status().last_sample_ms), median of ROUNDS samples;
#  - the sampler's CPU time over the same rounds (from /proc, so that a loaded machine, which
#    stretches wall-clock times, still gives comparable figures), per round of one busy and
#    one idle sample;
#  - the database workers that took the shares in and analysed them: how many ran, and the
#    most memory one used (peak resident set, and its private part), read from /proc while
#    they run.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ROUNDS=${ROUNDS:-10}
COUNTS=${COUNTS:-"1 10 50"}
TABLES=1000 # five statements on each: 5,000 in all
install_optischema
cluster_init bench-databases 55440 \
    "shared_preload_libraries = 'pg_stat_statements,optischema'" \
    "pg_stat_statements.max = 10000" "pg_stat_statements.track_utility = off" \
    "optischema.sample_interval = 5" "max_worker_processes = 16"
cluster_start
cluster_restart # load this build
sql -c "SET client_min_messages = warning" -c "CREATE EXTENSION IF NOT EXISTS optischema CASCADE" >/dev/null

in_db() {
    local db=$1
    shift
    "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$CLUSTER_PORT" -U postgres -d "$db" "$@"
}

# statements_for DB FIRST LAST FILE: tables tFIRST..tLAST in DB, five statements on each
statements_for() {
    local db=$1 first=$2 last=$3 file=$4
    in_db "$db" -c "DO \$\$ BEGIN FOR i IN $first..$last LOOP
              EXECUTE format('CREATE TABLE IF NOT EXISTS t%s (a int, b int, c text)', i);
            END LOOP; END \$\$" >/dev/null
    for i in $(seq "$first" "$last"); do
        cat <<SQL
SELECT a FROM t$i WHERE a = 1;
SELECT b FROM t$i WHERE b = 2;
SELECT count(*) FROM t$i;
SELECT c FROM t$i WHERE a = 1 AND b = 2;
SELECT max(b) FROM t$i;
SQL
    done >"$file"
}

# cpu_ticks PID: user + system CPU time of a process, in clock ticks
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# watch_workers FILE: until killed, appends "pid VmHWM RssAnon" (kB) of each database worker
watch_workers() {
    while :; do
        for pid in $(pgrep -f "optischema worker for database" || true); do
            awk -v pid="$pid" '/^VmHWM/ {h=$2} /^RssAnon/ {a=$2} END {if (h) print pid, h, a}' \
                "/proc/$pid/status" 2>/dev/null || true
        done >>"$1"
        sleep 0.05
    done
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
results=()
for n in $COUNTS; do
    for db in $(sql -tAc "SELECT datname FROM pg_database WHERE datname LIKE 'bench\_db%'"); do
        sql -c "DROP DATABASE $db WITH (FORCE)" >/dev/null
    done
    per=$((TABLES / n))
    for i in $(seq 1 "$n"); do
        sql -c "CREATE DATABASE bench_db$i" >/dev/null
        in_db "bench_db$i" -c "SET client_min_messages = warning" -c "CREATE EXTENSION optischema CASCADE" >/dev/null
        statements_for "bench_db$i" $(((i - 1) * per + 1)) $((i * per)) "$work/db$i.sql"
    done
    run_all() { for i in $(seq 1 "$n"); do in_db "bench_db$i" -o /dev/null -f "$work/db$i.sql"; done; }
    # each count starts from an empty history, so that the history an earlier count left
    # (which every sample's queries read) does not weigh on this one
    sql -c "SELECT pg_stat_statements_reset()" -c "SELECT optischema.reset()" >/dev/null
    wait_samples 2
    run_all # the first sample stores the texts: not measured
    wait_samples 2
    : >"$work/workers"
    watch_workers "$work/workers" &
    watcher=$!
    sampler=$(sql -tAc "SELECT worker_pid FROM optischema.status()")
    cpu_before=$(cpu_ticks "$sampler")
    busy=()
    for _ in $(seq 1 "$ROUNDS"); do
        wait_samples 1 # a sample just ended: the next one sees every statement run once
        run_all
        wait_samples 1
        busy+=("$(sql -tAc "SELECT last_sample_ms FROM optischema.status()")")
    done
    cpu_ms=$((($(cpu_ticks "$sampler") - cpu_before) * 1000 / $(getconf CLK_TCK) / ROUNDS))
    kill "$watcher"
    wait "$watcher" 2>/dev/null || true
    median_ms=$(printf '%s\n' "${busy[@]}" | median)
    workers=$(awk '{print $1}' "$work/workers" | sort -u | wc -l)
    hwm=$(awk 'BEGIN {m=0} $2 > m {m=$2} END {print m}' "$work/workers")
    anon=$(awk 'BEGIN {m=0} $3 > m {m=$3} END {print m}' "$work/workers")
    entries=$(sql -tAc "SELECT count(*) FROM pg_stat_statements")
    results+=("$n $median_ms $(printf '%s\n' "${busy[@]}" | sort -g | head -1) $(printf '%s\n' "${busy[@]}" | sort -g | tail -1) $cpu_ms $workers $hwm $anon $entries")
done
for db in $(sql -tAc "SELECT datname FROM pg_database WHERE datname LIKE 'bench\_db%'"); do
    sql -c "DROP DATABASE $db WITH (FORCE)" >/dev/null
done
cluster_stop

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; $TABLES tables × 5 statements, spread over the databases; $ROUNDS busy samples each"
printf '%-10s %-26s %-8s %-17s %-8s %-15s %-19s %s\n' databases "busy sample ms (min-max)" "vs 1 db" "sampler CPU ms" "vs 1 db" "workers seen" "peak RSS (private)" "pgss entries"
base= cpu_base=
for r in "${results[@]}"; do
    read -r n med lo hi cpu workers hwm anon entries <<<"$r"
    base=${base:-$med} cpu_base=${cpu_base:-$cpu}
    printf '%-10s %-26s %-8s %-17s %-8s %-15s %-19s %s\n' "$n" "$(printf '%.1f (%.1f-%.1f)' "$med" "$lo" "$hi")" \
        "$(awk -v a="$med" -v b="$base" 'BEGIN {printf "%.2fx", a / b}')" "$cpu" \
        "$(awk -v a="$cpu" -v b="$cpu_base" 'BEGIN {printf "%.2fx", a / (b > 0 ? b : 1)}')" "$workers" \
        "$((hwm / 1024)) MB ($((anon / 1024)) MB)" "$entries"
done
