#!/usr/bin/env bash
# OptiSchema demo: builds and installs the extension, starts a PostgreSQL 15 cluster with it
# preloaded (port 55433, data in /var/tmp/optischema-demo) and a sandbox cluster for trials
# (port 55434), loads a small online shop, runs a mixed pgbench workload for a minute, prints
# what OptiSchema found, tries the most valuable fix in the sandbox, and starts the dashboard
# (http://127.0.0.1:8080, DASHBOARD_PORT to change). Run it again to reuse the clusters and the
# data; DEMO_SECONDS sets the workload's length.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
DEMO_SECONDS=${DEMO_SECONDS:-60}

echo "== building and installing OptiSchema"
install_optischema

echo "== starting PostgreSQL 15 on port 55433 (/var/tmp/optischema-demo)"
cluster_init demo 55433 \
    "shared_preload_libraries = 'pg_stat_statements,optischema'" \
    "optischema.sample_interval = 5"
cluster_start
# a running server keeps the library it loaded at start: restart it to load the one just built
cluster_restart
echo "== starting the sandbox, a second cluster on port 55434 (/var/tmp/optischema-demo-sandbox)"
sandbox_cluster demo-sandbox 55434
# a fresh extension each run: what it shows is this run's workload, found from scratch
sql -q -c "DROP EXTENSION IF EXISTS optischema" -c "CREATE EXTENSION optischema CASCADE"
use_sandbox

if [[ -z $(sql -tAc "SELECT to_regclass('public.order_items')") ]]; then
    echo "== loading the shop (200k customers, 1M orders, 2M order items; about a minute)"
    sql -f "$REPO/bench/demo/schema.sql"
fi

echo "== running the shop's workload for ${DEMO_SECONDS}s (4 clients)"
cd "$REPO/bench/demo"
"$PG_BIN/pgbench" -h 127.0.0.1 -p "$CLUSTER_PORT" -U postgres -n -c 4 -j 2 -T "$DEMO_SECONDS" -P 15 \
    -f product.sql@30 -f order_detail.sql@30 -f new_order.sql@5 -f login.sql@3 \
    -f product_search.sql@3 -f customer_orders.sql@2 -f pending_orders.sql@1 postgres \
    2>&1 | grep -E "^(progress|tps|latency average|number of transactions actually)" || true
wait_samples 2

echo
echo "== OptiSchema status"
sql -x -c "SELECT worker_pid, sample_interval, samples_taken, last_sample_ms, statements_tracked,
                  history_rows, last_error FROM optischema.status()"
echo "== hot queries of the last ${DEMO_SECONDS}s, by total time"
sql -c "SELECT queryid, calls, round(total_ms::numeric, 1) AS total_ms,
               round(mean_ms::numeric, 3) AS mean_ms, rows,
               round(pct_of_total_time::numeric, 1) AS pct,
               left(regexp_replace(query, '\s+', ' ', 'g'), 70) AS query
          FROM optischema.hot_queries(make_interval(secs => ${DEMO_SECONDS} + 60), 10)"
top=$(sql -tAc "SELECT queryid FROM optischema.hot_queries(make_interval(secs => ${DEMO_SECONDS} + 60), 1)")
echo "== minute by minute, the hottest statement ($top)"
sql -c "SELECT bucket_start, calls, round(total_ms::numeric, 1) AS total_ms, round(mean_ms::numeric, 3) AS mean_ms
          FROM optischema.query_history($top, '1 hour', '1 minute')"
echo "== recommendations (the worker analyses hot statements after each sample)"
sql -c "SELECT optischema.analyze_now() AS open_recommendations"
sql -c "SELECT id, kind, status, round(est_improvement_pct::numeric, 1) AS improvement_pct,
               round((est_ms_saved_per_hour / 1000)::numeric, 1) AS s_saved_per_hour, sql
          FROM optischema.recommendations
         WHERE status = 'open'
         ORDER BY est_ms_saved_per_hour DESC NULLS LAST, id"
best=$(sql -tAc "SELECT id FROM optischema.recommendations WHERE status = 'open' AND kind = 'index'
                 ORDER BY est_ms_saved_per_hour DESC NULLS LAST, id LIMIT 1")
if [[ -n $best ]]; then
    echo "== trying recommendation $best in the sandbox: its tables copied, its statements timed before and after"
    action=$(sql -tAc "SELECT optischema.apply($best, 'trial')")
    wait_actions
    sql -c "SELECT outcome, error, result ->> 'ran_in' AS ran_in,
                   (SELECT string_agg(format('%s: %s rows%s', c ->> 'table', c ->> 'rows',
                                             CASE WHEN (c ->> 'sampled')::bool THEN ' (sample)' ELSE '' END), ', ')
                      FROM jsonb_array_elements(result -> 'copied') c) AS copied,
                   round((result ->> 'improvement_pct')::numeric, 1) AS improvement_pct
              FROM optischema.actions WHERE id = $action"
    sql -c "SELECT s ->> 'queryid' AS queryid, s ->> 'value_set' AS value_set,
                   round((s -> 'before' ->> 'ms')::numeric, 3) AS before_ms,
                   round((s -> 'after' ->> 'ms')::numeric, 3) AS after_ms,
                   s -> 'before' ->> 'plan' AS plan_before, s -> 'after' ->> 'plan' AS plan_after
              FROM optischema.actions, jsonb_array_elements(result -> 'statements') s
             WHERE id = $action"
fi
echo "== the LLM's explanation of the hottest statement"
ask=$(sql -tAc "SELECT optischema.ask($top)")
if [[ $ask == *'"unavailable"'* ]]; then
    echo "   (no call made: $(sed -E 's/.*"reason": "([^"]*)".*/\1/' <<<"$ask"))"
    echo "   Run the demo with OPENAI_API_KEY=... (or set optischema.llm_api_key) to see it."
else
    for _ in $(seq 1 120); do
        explanation=$(sql -tAc "SELECT answer ->> 'explanation' FROM optischema.ai_cache WHERE queryid = $top ORDER BY created_at DESC LIMIT 1")
        [[ -n $explanation ]] && break
        sleep 0.5
    done
    if [[ -n ${explanation:-} ]]; then
        fold -s -w 100 <<<"$explanation" | sed 's/^/   /'
    else
        echo "   no answer yet: see optischema.status() (ai_last_error)"
    fi
fi
DASHBOARD_PORT=${DASHBOARD_PORT:-8080}
echo "== starting the dashboard"
start_dashboard "$DASHBOARD_PORT"
cat <<MSG
The dashboard: http://127.0.0.1:$DASHBOARD_PORT/
  (trial, apply, revert and dismiss ask for the admin token in $DASHBOARD_TOKEN_FILE;
   the proxy's log is $CLUSTER_DIR/proxy.log, it stops with: kill \$(cat $CLUSTER_DIR/proxy.pid))
Why each one, with its evidence:
  psql -h 127.0.0.1 -p 55433 -U postgres -x -c 'SELECT title, explanation, evidence FROM optischema.recommendations'
The plans behind them:
  psql -h 127.0.0.1 -p 55433 -U postgres -c 'SELECT optischema.explain($top)'

The cluster keeps running and sampling. Look around with:
  psql -h 127.0.0.1 -p 55433 -U postgres -c 'SELECT * FROM optischema.hot_queries()'
  psql -h 127.0.0.1 -p 55433 -U postgres -c 'LISTEN optischema' -c 'SELECT pg_sleep(15)'
Try or apply a recommendation (as optischema_admin or a superuser):
  psql -h 127.0.0.1 -p 55433 -U postgres -c "SELECT optischema.apply(<id>, 'trial')"
  psql -h 127.0.0.1 -p 55433 -U postgres -c "SELECT optischema.apply(<id>)"
Stop both clusters with:
  runuser -u postgres -- $PG_BIN/pg_ctl -D /var/tmp/optischema-demo/data stop
  runuser -u postgres -- $PG_BIN/pg_ctl -D /var/tmp/optischema-demo-sandbox/data stop
MSG
