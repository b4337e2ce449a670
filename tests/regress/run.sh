#!/usr/bin/env bash
# The SQL API's specification: runs the pg_regress files in tests/regress (sql/NAME.sql, checked
# against expected/NAME.out) against a temporary PostgreSQL 15 cluster with OptiSchema preloaded,
# made and removed here. The extension must be installed first (cargo pgrx install).
#
#   bash tests/regress/run.sh            # every file in tests/regress/sql
#   bash tests/regress/run.sh roles      # some of them
#
# Results and regression.diffs go to target/regress/. Ends with one line in cargo's format,
# "test result: ok. N passed; M failed", which .ci/test.sh counts.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
bindir=$("$PG_CONFIG" --bindir)
pg_regress=$(dirname "$("$PG_CONFIG" --pgxs)")/../test/regress/pg_regress
out=$repo/target/regress

if (($# > 0)); then
    tests=("$@")
else
    tests=()
    for f in "$here"/sql/*.sql; do tests+=("$(basename "$f" .sql)"); done
fi

# counted as failed unless pg_regress gets to say otherwise
passed=0
failed=${#tests[@]}
work=
finish() {
    local status=$?
    if [[ -n $work ]]; then
        if [[ -f $work/data/postmaster.pid ]]; then
            "${as_postgres[@]}" "$bindir/pg_ctl" -D "$work/data" -m immediate stop >/dev/null 2>&1 || true
        fi
        rm -rf "$work"
    fi
    echo "test result: $( ((failed == 0 && status == 0)) && echo ok || echo FAILED). $passed passed; $failed failed (pg_regress: ${tests[*]})"
    exit "$status"
}
trap finish EXIT

# initdb refuses root: the server runs as the postgres OS user, in a directory it owns
if (($(id -u) == 0)); then
    as_postgres=(runuser -u postgres --)
else
    as_postgres=()
fi
work=$(mktemp -d /tmp/optischema-regress.XXXXXX)
chmod 755 "$work"
(($(id -u) == 0)) && chown postgres: "$work"

"${as_postgres[@]}" "$bindir/initdb" -D "$work/data" -U postgres -A trust -E UTF8 --locale=C \
    --no-sync >"$work/initdb.log" 2>&1 || { cat "$work/initdb.log"; exit 1; }
# no TCP, a socket in its own directory: no port can clash with another cluster's
cat >>"$work/data/postgresql.conf" <<EOF
shared_preload_libraries = 'pg_stat_statements,optischema'
listen_addresses = ''
unix_socket_directories = '$work'
port = 5432
fsync = off
EOF
"${as_postgres[@]}" env -u OPENAI_API_KEY "$bindir/pg_ctl" -D "$work/data" -l "$work/server.log" -w -t 60 start >/dev/null ||
    { cat "$work/server.log"; exit 1; }
"$bindir/createdb" -h "$work" -p 5432 -U postgres optischema_regress

rm -rf "$out"
mkdir -p "$out"
regress_status=0
"$pg_regress" --use-existing --bindir="$bindir" --host="$work" --port=5432 --user=postgres \
    --dbname=optischema_regress --inputdir="$here" --outputdir="$out" "${tests[@]}" |
    tee "$out/pg_regress.log" || regress_status=$?
passed=$(grep -cE '^(ok|test) .* \.\.\. ok ' "$out/pg_regress.log" || true)
failed=$((${#tests[@]} - passed))
if ((failed > 0 || regress_status != 0)); then
    [[ -f $out/regression.diffs ]] && cat "$out/regression.diffs"
    echo "== server log"
    tail -n 50 "$work/server.log"
    exit 1
fi
