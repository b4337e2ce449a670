#!/usr/bin/env bash
# Benchmark: the demo shop's workload (bench/demo) as pgbench TPS with no extra index, with the
# set OptiSchema's advisor recommends for it (optischema.recommend_indexes() after a first run),
# and with a hand-made ideal set. Uses the demo cluster (port 55433; loads the shop if needed).
# During the first run 10 % of executions have their parameter values captured.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
SECONDS_PER_RUN=${SECONDS_PER_RUN:-30}
demo_cluster fresh

# indexes that back no constraint are what a run added: dropped before and after each run
drop_added() {
    sql -tAc "SELECT format('DROP INDEX %s', i.indexrelid::regclass)
                FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
               WHERE t.relname IN ('customers', 'products', 'orders', 'order_items')
                 AND NOT EXISTS (SELECT FROM pg_constraint c WHERE c.conindid = i.indexrelid)" |
        while read -r stmt; do sql -q -c "$stmt"; done
}
create_all() {
    while read -r stmt; do [[ -n $stmt ]] && sql -q -c "$stmt"; done
    sql -q -c "VACUUM ANALYZE customers, products, orders, order_items"
}
run() {
    (cd "$REPO/bench/demo" && "$PG_BIN/pgbench" -h 127.0.0.1 -p "$CLUSTER_PORT" -U postgres -n \
        -c 4 -j 2 -T "$SECONDS_PER_RUN" \
        -f product.sql@30 -f order_detail.sql@30 -f new_order.sql@5 -f login.sql@3 \
        -f product_search.sql@3 -f customer_orders.sql@2 -f pending_orders.sql@1 postgres 2>&1 |
        grep -oP '^tps = \K[0-9.]+')
}

# the first run is what the advisor learns from: capture values often enough to see the skew
sql -q -c "ALTER SYSTEM SET optischema.param_sample_rate = 0.1" -c "SELECT pg_reload_conf()" >/dev/null
trap 'sql -q -c "ALTER SYSTEM RESET optischema.param_sample_rate" -c "SELECT pg_reload_conf()" >/dev/null' EXIT
drop_added
sql -q -c "VACUUM ANALYZE customers, products, orders, order_items"
echo "machine: $(nproc) cores; ${SECONDS_PER_RUN}s per run, 4 clients"
none=$(run)
echo "no extra index:            $none TPS"
wait_samples 2
recommended=$(sql -tAc "SELECT index_sql FROM optischema.recommend_indexes() ORDER BY index_sql")
printf '%s\n' "$recommended" | create_all
optischema=$(run)
echo "OptiSchema's set:          $optischema TPS"
printf '%s\n' "$recommended" | sed 's/^/    /'
drop_added
create_all <<'SQL'
CREATE INDEX ON customers (lower(email))
CREATE INDEX ON orders (customer_id, created_at DESC)
CREATE INDEX ON orders (created_at) INCLUDE (total) WHERE status = 'pending'
CREATE INDEX ON products (name text_pattern_ops)
SQL
ideal=$(run)
echo "hand-made ideal set:       $ideal TPS"
drop_added
awk -v n="$none" -v o="$optischema" -v i="$ideal" \
    'BEGIN { printf "OptiSchema / none = %.1fx, OptiSchema / ideal = %.2f\n", o / n, o / i }'
