#!/usr/bin/env bash
# The whole test suite: unit tests and #[pg_test]s (cargo pgrx test), the proxy's unit tests,
# then the integration tests under tests/cluster against real preloaded clusters that they start
# and stop themselves (with the proxy and headless Chromium for the dashboard).
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/setup.sh --test
export PATH="$HOME/.cargo/bin:$PATH"
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
results=$(mktemp)
trap 'rm -f "$results"' EXIT

# initdb refuses root: pgrx runs the test server as the postgres OS user, in a directory it can reach
export CARGO_PGRX_TEST_RUNAS=postgres
export CARGO_PGRX_TEST_PGDATA=/var/tmp/optischema-pgrx/data
install -d -o postgres /var/tmp/optischema-pgrx
rm -rf "$CARGO_PGRX_TEST_PGDATA"

# a running server keeps the installed library mapped: unlink it rather than overwrite it
unlink_installed_library() { rm -f "$("$PG_CONFIG" --pkglibdir)/optischema.so"; }

echo "== unit and backend tests (cargo pgrx test pg15)"
unlink_installed_library
cargo pgrx test pg15 2>&1 | tee -a "$results"

echo "== installing the release build for the cluster tests"
unlink_installed_library
cargo pgrx install --release --pg-config "$PG_CONFIG" >/dev/null

echo "== the dashboard's proxy: unit tests, release build"
cargo test --locked -p optischema-proxy 2>&1 | tee -a "$results"
cargo build --release --locked -p optischema-proxy
export OPTISCHEMA_PROXY="$PWD/target/release/optischema-proxy"

echo "== cluster tests (tests/cluster: the extension, the proxy, the dashboard in Chromium, docker/)"
cd tests/cluster
PG_CONFIG="$PG_CONFIG" cargo test -- --test-threads=2 2>&1 | tee -a "$results"

# one closing line for the whole suite
awk '/^test result:/ {p += $4; f += $6} END {printf "tests: %d passed, %d failed\n", p, f}' "$results"
