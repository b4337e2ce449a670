#!/usr/bin/env bash
# Benchmark: trial and apply success rates. On the demo cluster (port 55433, values captured at
# 10 %) runs the shop's workload together with a planted one (PLANTED_TABLES tables in schema
# `planted`, each read by three statements that want an index of their own: an equality, an
# equality with ORDER BY LIMIT, an expression), lets OptiSchema analyse it, tries every open
# recommendation in the sandbox (a second cluster, port 55434), applies every one it can while
# the workload keeps writing, counts the actions that succeeded, and reverts them all so the
# demo cluster is left as it was.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
SECONDS_PER_RUN=${SECONDS_PER_RUN:-30}
PLANTED_TABLES=${PLANTED_TABLES:-15}
demo_cluster fresh
sandbox_cluster demo-sandbox 55434

echo "== planting $PLANTED_TABLES tables of 50,000 rows"
scripts=$(mktemp -d)
trap 'rm -rf "$scripts"; sql -q -c "ALTER SYSTEM RESET optischema.param_sample_rate" -c "ALTER SYSTEM RESET optischema.hot_top_n" -c "SELECT pg_reload_conf()" >/dev/null' EXIT
sql -q -c "SET client_min_messages = warning" -c "DROP SCHEMA IF EXISTS planted CASCADE" -c "CREATE SCHEMA planted"
planted_files=()
for i in $(seq 1 "$PLANTED_TABLES"); do
    sql -q -c "CREATE TABLE planted.t$i (id bigserial PRIMARY KEY, a int, b int, c text, d timestamptz)" \
        -c "INSERT INTO planted.t$i (a, b, c, d)
            SELECT g % 10000, g % 500, 'user' || g || '@example.com', now() - g * interval '1 minute'
              FROM generate_series(1, 50000) g" \
        -c "ANALYZE planted.t$i"
    printf '\\set v random(0, 9999)\nSELECT id, b, c FROM planted.t%s WHERE a = :v;\n' "$i" > "$scripts/eq$i.sql"
    printf '\\set v random(0, 499)\nSELECT id, d FROM planted.t%s WHERE b = :v ORDER BY d DESC LIMIT 10;\n' "$i" > "$scripts/top$i.sql"
    printf '\\set v random(1, 50000)\nSELECT id FROM planted.t%s WHERE lower(c) = lower('"'"'User'"'"' || :v || '"'"'@example.com'"'"');\n' "$i" > "$scripts/expr$i.sql"
    printf '\\set v random(0, 9999)\nINSERT INTO planted.t%s (a, b, c, d) VALUES (:v, :v %% 500, '"'"'new'"'"' || :v, now());\n' "$i" > "$scripts/ins$i.sql"
    planted_files+=(-f "$scripts/eq$i.sql@2" -f "$scripts/top$i.sql@2" -f "$scripts/expr$i.sql@1" -f "$scripts/ins$i.sql@1")
done

sql -q -c "ALTER SYSTEM SET optischema.param_sample_rate = 0.1" -c "ALTER SYSTEM SET optischema.hot_top_n = 100" \
    -c "SELECT pg_reload_conf()" >/dev/null
use_sandbox
workload() { shop_workload "$1" 4 "${planted_files[@]}"; }
workload "$SECONDS_PER_RUN"
wait_samples 2
sql -q -c "SELECT optischema.analyze_now()" >/dev/null
sql -c "SELECT kind, count(*) FROM optischema.recommendations WHERE status = 'open' GROUP BY kind ORDER BY kind"

tried=$(sql -tAc "SELECT id FROM optischema.recommendations WHERE status = 'open' ORDER BY id")
echo "machine: $(nproc) cores; $(wc -w <<<"$tried") recommendations to try in the sandbox"
for id in $tried; do sql -tAc "SELECT optischema.apply($id, 'trial')" >/dev/null; done
wait_actions
sql -c "SELECT a.outcome, a.result ->> 'ran_in' AS ran_in, count(*),
               round(percentile_cont(0.5) WITHIN GROUP (ORDER BY a.duration_ms)::numeric) AS median_ms,
               round(percentile_cont(0.5) WITHIN GROUP (ORDER BY (a.result ->> 'improvement_pct')::float8)::numeric, 1) AS median_pct,
               count(*) FILTER (WHERE (a.result ->> 'plan_changed')::bool) AS plan_changed,
               sum((a.result ->> 'errors')::int) AS statement_errors
          FROM optischema.actions a WHERE a.mode = 'trial' GROUP BY 1, 2"
sql -c "SELECT recommendation_id, kind, error FROM optischema.actions WHERE mode = 'trial' AND outcome = 'failed'"
trials_done=$(sql -tAc "SELECT count(*) FROM optischema.actions WHERE mode = 'trial' AND outcome = 'done'")
awk -v d="$trials_done" -v t="$(wc -w <<<"$tried")" 'BEGIN { printf "tried %d of %d: trial success rate %.1f %%\n", d, t, (t ? 100 * d / t : 0) }'

ids=$(sql -tAc "SELECT id FROM optischema.recommendations
                 WHERE status = 'open' AND (kind IN ('index', 'drop_index', 'statistics', 'analyze')
                       OR (kind = 'config' AND sql LIKE 'ALTER %')) ORDER BY id")
total=$(wc -w <<<"$ids")
echo "$total recommendations to apply, the workload writing meanwhile"
workload 600 &
writer=$!
# the analysis goes on meanwhile: a recommendation it no longer finds worth it turns stale and
# is refused; refusals are counted apart from failures
refused=0
for id in $ids; do
    if ! out=$(sql -tAc "SELECT optischema.apply($id)" 2>&1); then
        refused=$((refused + 1))
        echo "   refused: $(head -1 <<<"$out")"
    fi
done
wait_actions
kill $writer 2>/dev/null || true
wait $writer 2>/dev/null || true
sql -c "SELECT kind, outcome, count(*), round(percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms)::numeric) AS median_ms
          FROM optischema.actions WHERE mode = 'apply' GROUP BY 1, 2 ORDER BY 1, 2"
sql -c "SELECT recommendation_id, kind, left(what, 70) AS what, error FROM optischema.actions
         WHERE mode = 'apply' AND outcome = 'failed'"
done=$(sql -tAc "SELECT count(*) FROM optischema.actions WHERE mode = 'apply' AND outcome = 'done'")
awk -v d="$done" -v t="$((total - refused))" -v r="$refused" \
    'BEGIN { printf "applied %d of %d (%d refused as no longer open): success rate %.1f %%\n", d, t, r, (t ? 100 * d / t : 0) }'
# leave the demo as it was
for id in $(sql -tAc "SELECT id FROM optischema.recommendations WHERE status = 'applied' AND kind <> 'analyze'"); do
    sql -tAc "SELECT optischema.revert($id)" >/dev/null
done
wait_actions
echo "reverted: $(sql -tAc "SELECT count(*) FROM optischema.actions WHERE mode = 'revert' AND outcome = 'done'")"
sql -q -c "SET client_min_messages = warning" -c "DROP SCHEMA planted CASCADE"
