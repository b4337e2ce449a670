# Index selection as the evaluations measure it, for bench/tpch.sh and bench/ssb.sh: sourced
# after lib.sh, with the cluster running and its tables loaded and analysed.

# every algorithm below, unless the caller names some
ALGORITHMS=${ALGORITHMS:-optischema extend db2advis autoadmin relaxation}

# selection_bench QUERIES COUNT: loads the COUNT statements of QUERIES (one per "-- qNN" section),
# runs each once so that the worker sees them, then for each budget of $BUDGETS
# (optischema.index_budget_mb) has each algorithm of $ALGORITHMS choose a set: optischema
# (recommend_indexes(NULL)), and the published algorithms Extend, DB2Advis, AutoAdmin and
# Relaxation (bench/selection/extend.sql, db2advis.sql, autoadmin.sql, relaxation.sql) on the
# same planner and size model; "optimum" (not in the default list; bench/selection/optimum.sql,
# solved with CBC) is the best set of a model of the workload's plans, as a yardstick for the
# others, and is measured like them. "bound" (not in the default list) prints instead the
# per-statement bound of bench/selection/bound.sql: an estimate of what no set can beat. Each set is
# built for real; the sum of the statements' planner costs with it, relative to no index, is
# printed with the set's real size, the time the choice took, and the statements' real execution
# time with it (the faster of two runs, EXPLAIN ANALYZE without per-node timing), relative to no index:
# the evaluations compare planner costs, the advisor weighs statements by the time they take.
selection_bench() {
    local queries=$1 count=$2
    sql -q -c "SET client_min_messages = warning" -c "DROP SCHEMA IF EXISTS bench CASCADE" -c "CREATE SCHEMA bench"
    sql -q <<'SQL'
-- the planner's total cost of a statement, as EXPLAIN shows it
CREATE FUNCTION bench.cost(q text) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE plan json;
BEGIN
    EXECUTE 'EXPLAIN (FORMAT JSON) ' || q INTO plan;
    RETURN (plan -> 0 -> 'Plan' ->> 'Total Cost')::float8;
END $$;
-- the time a statement takes to run, as EXPLAIN ANALYZE measures it (no per-node timing)
CREATE FUNCTION bench.run_ms(q text) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE plan json;
BEGIN
    EXECUTE 'EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) ' || q INTO plan;
    RETURN (plan -> 0 ->> 'Execution Time')::float8;
END $$;
CREATE TABLE bench.queries (name text PRIMARY KEY, q text NOT NULL);
-- the columns each statement names, per table it names (AutoAdmin's and Relaxation's candidates)
CREATE VIEW bench.named_columns AS
    SELECT q.name, c.table_name::text AS tbl, c.column_name::text AS col
      FROM information_schema.columns c JOIN bench.queries q
        ON q.q ~ ('\m' || c.table_name || '\M') AND q.q ~ ('\m' || c.column_name || '\M')
     WHERE c.table_schema = 'public';
CREATE TABLE bench.sets (algorithm text, budget_mb int, index_sql text, est_size_mb float8, real_size_mb float8);
CREATE TABLE bench.advice (algorithm text, budget_mb int, seconds float8, PRIMARY KEY (algorithm, budget_mb));
SQL
    sql -q -f "$REPO/bench/selection/extend.sql" -f "$REPO/bench/selection/db2advis.sql" \
        -f "$REPO/bench/selection/autoadmin.sql" -f "$REPO/bench/selection/relaxation.sql" \
        -f "$REPO/bench/selection/bound.sql" -f "$REPO/bench/selection/optimum.sql"
    if [[ " $ALGORITHMS " == *" optimum "* ]] && ! command -v cbc >/dev/null; then
        echo "== installing coinor-cbc (the integer program of bench/selection/optimum.sql)"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq coinor-cbc >/dev/null
    fi
    # one statement per "-- qNN" section
    awk '/^-- q[0-9][0-9]$/ {name = substr($2, 1); next} name && !/^--/ {text[name] = text[name] $0 "\n"}
         END {for (n in text) printf "%s\t%s\x1e", n, text[n]}' "$queries" |
        while IFS=$'\t' read -r -d $'\x1e' name text; do
            sql -q -v name="$name" -v q="${text%;*}" <<<"INSERT INTO bench.queries VALUES (:'name', :'q')"
        done
    [[ $(sql -tAc "SELECT count(*) FROM bench.queries") == "$count" ]] || { echo "expected $count queries" >&2; exit 1; }

    echo "== running the $count queries once (the worker samples them)"
    sql -q -c "SELECT optischema.reset()" >/dev/null
    wait_samples 1
    local budget algorithm
    selection_run_queries

    SELECTION_BASE=$(selection_total_cost)
    echo "== sum of planner costs without indexes: $SELECTION_BASE"
    SELECTION_BASE_MS=$(selection_total_ms)
    echo "== the statements run without indexes in $SELECTION_BASE_MS ms (the faster of two more runs each)"
    printf '%-10s %-11s %8s %14s %14s %14s %10s %14s\n' "budget MB" algorithm indexes "relative cost" "real size MB" "model MB" "choice s" "relative time"
    for budget in $BUDGETS; do
        for algorithm in $ALGORITHMS; do
            if [[ $algorithm == bound ]]; then
                selection_bound "$budget"
                continue
            fi
            selection_choose "$algorithm" "$budget"
            selection_measure "$algorithm" "$budget"
        done
    done
    echo "== the sets"
    sql -c "SELECT budget_mb, algorithm, index_sql, round(est_size_mb::numeric, 1) AS model_mb, round(real_size_mb::numeric, 1) AS real_mb
              FROM bench.sets ORDER BY budget_mb, algorithm, index_sql"
}

# selection_bound BUDGET: the per-statement bound of bench/selection/bound.sql (no set is built;
# "indexes" and the sizes are left empty), and the time it took
selection_bound() {
    local started
    started=$(date +%s%N)
    sql -tA -v b="$1" <<'SQL' |
SET client_min_messages = warning;
SET optischema.index_budget_mb = :b;
SELECT sum(least(cost_none, cost_extend, cost_optischema, cost_sets)) FROM bench.bound(:b);
SQL
        while read -r bound; do
            awk -v b="$1" -v c="$bound" -v base="$SELECTION_BASE" -v ms="$(( ($(date +%s%N) - started) / 1000000 ))" \
                'BEGIN {printf "%-10s %-11s %8s %14.3f %14s %14s %10.2f\n", b, "bound", "-", c / base, "-", "-", ms / 1000}'
        done
}

# selection_run_queries: runs each statement once at the top level, where the worker sees it,
# and waits until it has
selection_run_queries() {
    local started name
    started=$(date +%s)
    sql -tA -c "SELECT name FROM bench.queries ORDER BY name" | while read -r name; do
        sql -q -o /dev/null -c "$(sql -tA -c "SELECT q FROM bench.queries WHERE name = '$name'")"
    done
    echo "   ran in $(( $(date +%s) - started )) s"
    wait_samples 2
    SELECTION_RAN_AT=$(date +%s)
}

selection_total_cost() { sql -tAc "SELECT round(sum(bench.cost(q))::numeric, 0) FROM bench.queries"; }

# selection_total_ms: the statements' execution times summed, each the faster of two runs as it
# is planned now (one run alone varied by 15 % from run to run)
selection_total_ms() { sql -tAc "SELECT round(sum(least(bench.run_ms(q), bench.run_ms(q)))::numeric, 0) FROM bench.queries"; }

# selection_choose ALGORITHM BUDGET: the set into bench.sets, the time it took into bench.advice
selection_choose() {
    local chooser before=0
    # the advisor reads the last hour of history: the statements run again before they leave it
    if [[ $1 == optischema ]] && (( $(date +%s) - SELECTION_RAN_AT > 45 * 60 )); then
        echo "== running the statements again: the advisor's window is an hour"
        selection_run_queries
    fi
    case $1 in
        optischema) chooser="SELECT index_sql, size_mb FROM optischema.recommend_indexes(NULL)" ;;
        optimum)
            # solved outside the server: its time is counted from here
            before=$(date +%s%N)
            selection_optimum "$2"
            chooser="SELECT replace(sql, 'CREATE INDEX', 'CREATE INDEX CONCURRENTLY'), mb
                       FROM bench.opt_candidate WHERE id = ANY ('{$OPTIMUM_IDS}')"
            before=$(( ($(date +%s%N) - before) / 1000000 )) ;;
        extend | db2advis | autoadmin | relaxation) chooser="SELECT e, (SELECT size_mb FROM optischema.whatif('SELECT 1', ARRAY[replace(e, ' CONCURRENTLY', '')])) FROM bench.$1($2) e" ;;
    esac
    sql -q <<SQL
SET client_min_messages = warning;
SET optischema.index_budget_mb = $2;
SELECT clock_timestamp() AS started \gset
INSERT INTO bench.sets (algorithm, budget_mb, index_sql, est_size_mb) SELECT '$1', $2, s.* FROM ($chooser) s;
INSERT INTO bench.advice SELECT '$1', $2, $before / 1000.0 + extract(epoch FROM clock_timestamp() - :'started'::timestamptz);
SQL
    if [[ $1 == optimum ]]; then
        # how close the model is to the planner, on every set chosen at this budget
        echo "   the model against the planner through HypoPG at $2 MB (relative cost):" \
            "$(sql -tA -c "SET client_min_messages = warning" \
                      -c "SELECT string_agg(format('%s %s / %s', algorithm, round(model::numeric, 4), round(planner::numeric, 4)), ', ')
                            FROM bench.opt_check($2)")"
    fi
}

# selection_optimum BUDGET: the ids of bench/selection/optimum.sql's best set within BUDGET, into
# OPTIMUM_IDS (not printed: a failure inside a command substitution would not stop the run). The
# model is built again (every index chosen so far is a candidate), the integer program solved,
# and what the statements' plans use with the solution learned as configurations, until a
# solution teaches nothing new (at most ten rounds).
selection_optimum() {
    local round lp solution log new
    sql -q -c "SET client_min_messages = warning" -c "SELECT bench.opt_candidates()" >/dev/null
    sql -tA -c "SELECT name FROM bench.queries ORDER BY name" | while read -r name; do
        sql -q -o /dev/null -v n="$name" <<<"SET client_min_messages = warning; SELECT bench.opt_statement(:'n')"
    done
    sql -q -o /dev/null -c "SET client_min_messages = warning" \
        -c "SELECT bench.opt_learn_set(bench.opt_ids(array_agg(index_sql))) FROM bench.sets GROUP BY algorithm, budget_mb"
    lp=$(mktemp --suffix .lp) solution=$(mktemp) log=$(mktemp)
    for round in 1 2 3 4 5 6 7 8 9 10 stop; do
        if [[ $round == stop ]]; then
            echo "   the optimum at $1 MB still learned in its tenth round: the last solution is kept"
            break
        fi
        sql -tA -c "SELECT bench.opt_lp($1)" >"$lp"
        # CBC leaves the solution file alone when it cannot read the program
        : >"$solution"
        cbc "$lp" solve solu "$solution" >"$log"
        grep -q '^Optimal' "$solution" || { echo "CBC found no optimal solution:" >&2; tail -5 "$log" >&2; return 1; }
        OPTIMUM_IDS=$(awk '$2 ~ /^x[0-9]+$/ && $3 > 0.5 {print substr($2, 2)}' "$solution" | paste -sd,)
        new=$(sql -tA -c "SET client_min_messages = warning" -c "SELECT bench.opt_learn_set('{$OPTIMUM_IDS}')")
        [[ $new == 0 ]] && break
    done
    rm -f "$lp" "$solution" "$log"
}

# selection_measure ALGORITHM BUDGET: builds the set, prints its line, drops it
selection_measure() {
    local n=0 index real cost ms
    while IFS= read -r index; do
        n=$((n + 1))
        sql -q -c "${index/CREATE INDEX CONCURRENTLY ON /CREATE INDEX bench_i$n ON }"
        sql -q -v a="$1" -v b="$2" -v i="$index" -v n="bench_i$n" <<<"UPDATE bench.sets
            SET real_size_mb = pg_relation_size(:'n'::regclass) / 1048576.0
            WHERE algorithm = :'a' AND budget_mb = :b AND index_sql = :'i'"
    done < <(sql -tA -v a="$1" -v b="$2" <<<"SELECT index_sql FROM bench.sets WHERE algorithm = :'a' AND budget_mb = :b")
    cost=$(selection_total_cost)
    ms=$(selection_total_ms)
    sql -tA -v a="$1" -v b="$2" <<<"SELECT round(coalesce(sum(real_size_mb), 0)::numeric, 1), round(coalesce(sum(est_size_mb), 0)::numeric, 1),
               (SELECT round(seconds::numeric, 2) FROM bench.advice WHERE algorithm = :'a' AND budget_mb = :b)
          FROM bench.sets WHERE algorithm = :'a' AND budget_mb = :b" |
        while IFS='|' read -r real est secs; do
            awk -v b="$2" -v a="$1" -v n="$n" -v c="$cost" -v base="$SELECTION_BASE" -v r="$real" -v e="$est" -v s="$secs" \
                -v ms="$ms" -v base_ms="$SELECTION_BASE_MS" \
                'BEGIN {printf "%-10s %-11s %8d %14.3f %14.1f %14.1f %10.2f %14.3f\n", b, a, n, c / base, r, e, s, ms / base_ms}'
        done
    sql -tA -c "SELECT relname FROM pg_class WHERE relname LIKE 'bench\_i%' AND relkind = 'i'" |
        while read -r index; do sql -q -c "DROP INDEX $index"; done
}

# selection_cluster NAME PORT: the benchmark's cluster (/var/tmp/optischema-NAME), started with
# OptiSchema and HypoPG (Extend's hypothetical indexes) created in its database
selection_cluster() {
    cluster_init "$1" "$2" "shared_preload_libraries = 'pg_stat_statements,optischema'" \
        "optischema.sample_interval = 5" "optischema.hot_top_n = 50" \
        "work_mem = '64MB'" "maintenance_work_mem = '512MB'"
    cluster_start
    cluster_restart
    sql -q -c "SET client_min_messages = warning" -c "CREATE EXTENSION IF NOT EXISTS optischema CASCADE" \
        -c "CREATE EXTENSION IF NOT EXISTS hypopg"
}
