#!/usr/bin/env bash
# Builds what the images ship, the same way inside the Dockerfile and outside it (the tests run
# it on the host, where there is no container engine): the extension packaged for PostgreSQL 15
# and the dashboard's proxy, both into OUT (default target/docker).
#   OUT/extension/usr/lib/postgresql/15/lib/optischema.so
#   OUT/extension/usr/share/postgresql/15/extension/optischema{.control,--<version>.sql,--<from>--<to>.sql}
#   OUT/bin/optischema-proxy
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=$(realpath -m "${1:-target/docker}")
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
export PATH="$HOME/.cargo/bin:$PATH"
rm -rf "$OUT"
cargo pgrx package --pg-config "$PG_CONFIG" --out-dir "$OUT/extension" >/dev/null
cargo build --release --locked -p optischema-proxy --quiet
install -D -m 0755 target/release/optischema-proxy "$OUT/bin/optischema-proxy"
echo "built into $OUT"
