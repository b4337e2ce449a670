#!/usr/bin/env bash
# Installs what building (and, with --test, testing) OptiSchema needs on Debian 12, as root. Idempotent:
# every step checks first and does nothing when its work is already done.
set -euo pipefail

PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
PGRX_VERSION=0.18.0
export PATH="$HOME/.cargo/bin:$PATH"

# postgresql-15-hypopg is only a reference for the what-if tests, never a dependency of the extension
packages=(postgresql-15 postgresql-contrib postgresql-server-dev-15 postgresql-15-hypopg libclang-dev clang sudo pkg-config curl)
# the test suite also drives the dashboard in headless Chromium, checks the compose file and
# makes certificates for the proxy's TLS test
if [[ ${1:-} == --test ]]; then
    packages+=(chromium chromium-driver docker-compose openssl)
fi
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [[ "$(cargo pgrx --version 2>/dev/null || true)" != "cargo-pgrx $PGRX_VERSION" ]]; then
    echo "setup: installing cargo-pgrx $PGRX_VERSION (a few minutes)"
    cargo install cargo-pgrx --version "$PGRX_VERSION" --locked --quiet
fi

if ! grep -qs "^pg15 = \"$PG_CONFIG\"" "${PGRX_HOME:-$HOME/.pgrx}/config.toml"; then
    cargo pgrx init --pg15="$PG_CONFIG" >/dev/null
fi
