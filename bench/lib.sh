# Shared helpers for the demo and the benchmarks: build/install OptiSchema and run a throw-away
# PostgreSQL 15 cluster as the postgres OS user. Source it; do not run it.

PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
PG_BIN=$("$PG_CONFIG" --bindir)
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PATH="$HOME/.cargo/bin:$PATH"

as_postgres() { runuser -u postgres -- "$@"; }

# Servers already running keep the library mapped: unlinking it first makes the install write a
# new file instead of overwriting the pages they execute.
unlink_installed_library() {
    rm -f "$("$PG_CONFIG" --pkglibdir)/optischema.so"
}

# install_optischema: release build into the system PostgreSQL 15 (PG_CONFIG's); with
# OPTISCHEMA_NO_INSTALL=1, the build already installed there is used as it is
install_optischema() {
    [[ -n ${OPTISCHEMA_NO_INSTALL:-} ]] && return 0
    bash "$REPO/.ci/setup.sh"
    unlink_installed_library
    (cd "$REPO" && cargo pgrx install --release --pg-config "$PG_CONFIG" >/dev/null)
}

# cluster_init NAME PORT [conf lines...]: creates /var/tmp/optischema-NAME unless it exists
cluster_init() {
    local name=$1 port=$2; shift 2
    CLUSTER_DIR=/var/tmp/optischema-$name
    CLUSTER_PORT=$port
    if [[ ! -f $CLUSTER_DIR/data/PG_VERSION ]]; then
        install -d -o postgres "$CLUSTER_DIR"
        (cd / && as_postgres "$PG_BIN/initdb" -D "$CLUSTER_DIR/data" --auth=trust -U postgres >/dev/null)
        {
            echo "port = $port"
            echo "listen_addresses = '127.0.0.1'"
            echo "unix_socket_directories = '$CLUSTER_DIR'"
            echo "shared_buffers = '512MB'"
            echo "max_wal_size = '4GB'"
            for line in "$@"; do echo "$line"; done
        } >> "$CLUSTER_DIR/data/postgresql.conf"
    fi
}

cluster_start() {
    if ! as_postgres "$PG_BIN/pg_ctl" -D "$CLUSTER_DIR/data" status >/dev/null 2>&1; then
        (cd / && as_postgres "$PG_BIN/pg_ctl" -D "$CLUSTER_DIR/data" -l "$CLUSTER_DIR/server.log" -w start >/dev/null)
    fi
}

cluster_restart() {
    (cd / && as_postgres "$PG_BIN/pg_ctl" -D "$CLUSTER_DIR/data" -l "$CLUSTER_DIR/server.log" -m fast -w restart >/dev/null)
}

cluster_stop() {
    (cd / && as_postgres "$PG_BIN/pg_ctl" -D "$CLUSTER_DIR/data" -m fast -w stop >/dev/null 2>&1) || true
}

# cluster_set 'name = value': appends a setting (the last one wins) for the next (re)start
cluster_set() {
    echo "$1" >> "$CLUSTER_DIR/data/postgresql.conf"
}

# demo_cluster [fresh]: the demo's cluster (port 55433, OptiSchema preloaded, 5 s sampling),
# started with this build loaded, the extension created (anew with "fresh"), the shop loaded
demo_cluster() {
    install_optischema
    cluster_init demo 55433 \
        "shared_preload_libraries = 'pg_stat_statements,optischema'" \
        "optischema.sample_interval = 5"
    cluster_start
    # a running server keeps the library it loaded at start: restart it to load this build
    cluster_restart
    if [[ ${1:-} == fresh ]]; then
        sql -q -c "SET client_min_messages = warning" -c "DROP EXTENSION IF EXISTS optischema"
    fi
    sql -q -c "SET client_min_messages = warning" -c "CREATE EXTENSION IF NOT EXISTS optischema CASCADE"
    if [[ -z $(sql -tAc "SELECT to_regclass('public.order_items')") ]]; then
        echo "== loading the shop (200k customers, 1M orders, 2M order items; about a minute)"
        sql -f "$REPO/bench/demo/schema.sql"
    fi
}

# shop_workload SECONDS CLIENTS [pgbench arguments...]: the shop's mixed workload, quiet
shop_workload() {
    local seconds=$1 clients=$2; shift 2
    (cd "$REPO/bench/demo" && "$PG_BIN/pgbench" -h 127.0.0.1 -p "$CLUSTER_PORT" -U postgres -n \
        -c "$clients" -j 2 -T "$seconds" \
        -f product.sql@30 -f order_detail.sql@30 -f new_order.sql@5 -f login.sql@3 \
        -f product_search.sql@3 -f customer_orders.sql@2 -f pending_orders.sql@1 "$@" postgres \
        >/dev/null 2>&1)
}

# sandbox_cluster NAME PORT: a second, plain cluster where trials run, started; sets
# SANDBOX_CONNINFO and leaves the current cluster (CLUSTER_DIR, CLUSTER_PORT) as it was
sandbox_cluster() {
    local dir=$CLUSTER_DIR port=$CLUSTER_PORT
    cluster_init "$1" "$2"
    cluster_start
    SANDBOX_CONNINFO="host=127.0.0.1 port=$2 user=postgres dbname=postgres"
    CLUSTER_DIR=$dir CLUSTER_PORT=$port
}

# use_sandbox: points the current cluster's trials at SANDBOX_CONNINFO
use_sandbox() {
    sql -q -c "ALTER SYSTEM SET optischema.sandbox_conninfo = '$SANDBOX_CONNINFO'" -c "SELECT pg_reload_conf()" >/dev/null
}

# wait_actions: until no action is queued or running
wait_actions() {
    until [[ $(sql -tAc "SELECT count(*) FROM optischema.actions WHERE outcome IN ('queued', 'running')") == 0 ]]; do
        sleep 0.5
    done
}

# start_dashboard PORT: builds the proxy, gives it a reader and an admin role on the current
# cluster and an admin token (DASHBOARD_TOKEN_FILE), and (re)starts it on 127.0.0.1:PORT
start_dashboard() {
    local port=$1 name=${2:-demo}
    (cd "$REPO" && cargo build --release --locked -p optischema-proxy --quiet)
    sql -q -c "SET client_min_messages = warning" -c "DO \$\$ BEGIN
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'optischema_dashboard') THEN CREATE ROLE optischema_dashboard LOGIN; END IF;
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'optischema_dashboard_admin') THEN CREATE ROLE optischema_dashboard_admin LOGIN; END IF;
        END \$\$" \
        -c "GRANT optischema_reader, pg_read_all_stats TO optischema_dashboard" \
        -c "GRANT optischema_admin, pg_read_all_stats TO optischema_dashboard_admin"
    DASHBOARD_TOKEN_FILE=$CLUSTER_DIR/dashboard-token
    if [[ ! -s $DASHBOARD_TOKEN_FILE ]]; then
        (umask 077; head -c 24 /dev/urandom | base64 | tr -d '/+=' > "$DASHBOARD_TOKEN_FILE")
    fi
    if [[ -f $CLUSTER_DIR/proxy.pid ]]; then
        kill "$(cat "$CLUSTER_DIR/proxy.pid")" 2>/dev/null || true
        sleep 0.5
    fi
    nohup "$REPO/target/release/optischema-proxy" \
        --dsn "$name=host=127.0.0.1 port=$CLUSTER_PORT user=optischema_dashboard dbname=postgres" \
        --admin-dsn "$name=host=127.0.0.1 port=$CLUSTER_PORT user=optischema_dashboard_admin dbname=postgres" \
        --admin-token-file "$DASHBOARD_TOKEN_FILE" --ui "$REPO/ui" --listen "127.0.0.1:$port" \
        >"$CLUSTER_DIR/proxy.log" 2>&1 &
    echo $! > "$CLUSTER_DIR/proxy.pid"
    for _ in $(seq 1 100); do
        curl -fs "http://127.0.0.1:$port/api/databases" | grep -q '"connected":true' && return 0
        sleep 0.1
    done
    echo "the proxy did not come up: see $CLUSTER_DIR/proxy.log" >&2
    return 1
}

sql() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$CLUSTER_PORT" -U postgres -d postgres "$@"; }

# wait_samples N: until the worker has committed N more samples
wait_samples() {
    local target=$(( $(sql -tAc "SELECT samples_taken FROM optischema.status()") + $1 ))
    until (( $(sql -tAc "SELECT samples_taken FROM optischema.status()") >= target )); do sleep 0.2; done
}

# distinct_statements PREFIX N FILE: creates tables PREFIX1..PREFIXN (if missing) and writes to
# FILE five statements of different shapes on each: 5 × N distinct pg_stat_statements entries
distinct_statements() {
    local prefix=$1 n=$2 file=$3
    sql -c "SET client_min_messages = warning" -c "DO \$\$ BEGIN FOR i IN 1..$n LOOP
              EXECUTE format('CREATE TABLE IF NOT EXISTS ${prefix}%s (a int, b int, c text)', i);
            END LOOP; END \$\$" >/dev/null
    for i in $(seq 1 "$n"); do
        cat <<SQL
SELECT a FROM $prefix$i WHERE a = 1;
SELECT b FROM $prefix$i WHERE b = 2;
SELECT count(*) FROM $prefix$i;
SELECT c FROM $prefix$i WHERE a = 1 AND b = 2;
SELECT max(b) FROM $prefix$i;
SQL
    done > "$file"
}

median() { sort -g | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2] + a[NR/2+1]) / 2}'; }
