#!/usr/bin/env bash
# The whole test suite: unit tests and #[pg_test]s (cargo pgrx test), the SQL API's pg_regress
# files (tests/regress, against a temporary cluster of their own), the proxy's unit tests, then
# the integration tests under tests/cluster against real preloaded clusters that they start and
# stop themselves (with the proxy and headless Chromium for the dashboard).
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/setup.sh --test
export PATH="$HOME/.cargo/bin:$PATH"
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
results=$(mktemp)
failed_steps=()
# one closing line for the whole suite, printed however the script ends (a build that fails
# included): the tests counted, and the steps that failed
summary() {
    local status=$?
    awk -v steps="${#failed_steps[@]}" '/^test result:/ {p += $4; f += $6}
        END {printf "tests: %d passed, %d failed", p, f
             if (steps > 0) printf " (%d step(s) failed)", steps
             printf "\n"}' "$results"
    for name in "${failed_steps[@]}"; do echo "failed: $name"; done
    rm -f "$results"
    if ((status == 0 && ${#failed_steps[@]} > 0)); then
        exit 1
    fi
}
trap summary EXIT

# initdb refuses root: pgrx runs the test server as the postgres OS user, in a directory it can reach
export CARGO_PGRX_TEST_RUNAS=postgres
export CARGO_PGRX_TEST_PGDATA=/var/tmp/optischema-pgrx/data
install -d -o postgres /var/tmp/optischema-pgrx
rm -rf "$CARGO_PGRX_TEST_PGDATA"

# a running server keeps the installed library mapped: unlink it rather than overwrite it
unlink_installed_library() { rm -f "$("$PG_CONFIG" --pkglibdir)/optischema.so"; }

# every step runs even when an earlier one fails (cargo's --no-fail-fast runs every test binary)
step() {
    local name=$1
    shift
    echo "== $name"
    if ! "$@" 2>&1 | tee -a "$results"; then
        failed_steps+=("$name")
    fi
}

backend_tests() {
    unlink_installed_library
    cargo pgrx test pg15
}
# each file is one test, counted through the cargo-style line run.sh ends with
regress_tests() { PG_CONFIG="$PG_CONFIG" bash tests/regress/run.sh; }
proxy_tests() { cargo test --locked --no-fail-fast -p optischema-proxy; }
cluster_tests() {
    (cd tests/cluster && PG_CONFIG="$PG_CONFIG" cargo test --no-fail-fast -- --test-threads=2)
}

step "unit and backend tests (cargo pgrx test pg15)" backend_tests

echo "== installing the release build for the pg_regress and cluster tests"
unlink_installed_library
cargo pgrx install --release --pg-config "$PG_CONFIG" >/dev/null

step "SQL API specification (pg_regress: tests/regress)" regress_tests
step "the dashboard's proxy: unit tests" proxy_tests
cargo build --release --locked -p optischema-proxy
export OPTISCHEMA_PROXY="$PWD/target/release/optischema-proxy"

step "cluster tests (tests/cluster: the extension, the proxy, the dashboard in Chromium, docker/)" \
    cluster_tests

