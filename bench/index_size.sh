#!/usr/bin/env bash
# Benchmark: the index size model against real indexes. TPC-H-shaped tables (ORDERS orders of
# 1 to 7 lines; 1,500,000 is SF1's 6 million lines), ANALYZEd with the default statistics
# target, then for each index whatif()'s size_mb against pg_relation_size after a plain
# CREATE INDEX.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ORDERS=${ORDERS:-250000}
install_optischema
cluster_init bench-index-size 55438 "shared_preload_libraries = 'pg_stat_statements,optischema'"
cluster_start
cluster_restart
sql -c "DROP EXTENSION IF EXISTS optischema" -c "CREATE EXTENSION optischema CASCADE" \
    -c "DROP TABLE IF EXISTS bo, bl" \
    -c "CREATE TABLE bo AS SELECT o AS o_orderkey, 1 + abs(hashint4(o)) % ($ORDERS / 15) AS o_custkey,
               date '1992-01-01' + (abs(hashint4extended(o, 1)) % 2406)::int AS o_orderdate FROM generate_series(1, $ORDERS) o" \
    -c "CREATE TABLE bl AS SELECT o AS l_orderkey, l AS l_linenumber, abs(hashint4extended(o * 8 + l, 1)) % ($ORDERS / 7.5)::int AS l_partkey,
               (abs(hashint4extended(o * 8 + l, 2)) % 10000000 / 100.0)::numeric(15,2) AS l_extendedprice,
               (abs(hashint4extended(o * 8 + l, 3)) % 11 / 100.0)::numeric(15,2) AS l_discount,
               date '1992-01-02' + (abs(hashint4extended(o * 8 + l, 4)) % 2526)::int AS l_shipdate
          FROM generate_series(1, $ORDERS) o, generate_series(1, 1 + abs(hashint4(o)) % 7) l" \
    -c "ANALYZE bo" -c "ANALYZE bl"
echo "orders: $ORDERS; lines: $(sql -tAc 'SELECT count(*) FROM bl')"
printf '%-75s %10s %10s %8s\n' index "model MB" "real MB" error
while IFS= read -r index; do
    table=$(awk '{print $4}' <<<"$index")
    model=$(sql -tAc "SELECT size_mb FROM optischema.whatif('SELECT 1 FROM $table', ARRAY['$index'])")
    sql -c "${index/ ON / bench_real ON }"
    real=$(sql -tAc "SELECT pg_relation_size('bench_real') / 1048576.0")
    sql -c "DROP INDEX bench_real"
    awk -v i="$index" -v m="$model" -v r="$real" 'BEGIN {printf "%-75s %10.1f %10.1f %+7.1f%%\n", i, m, r, (m - r) / r * 100}'
done <<'INDEXES'
CREATE INDEX ON bl (l_orderkey)
CREATE INDEX ON bo (o_custkey)
CREATE INDEX ON bo (o_orderdate) INCLUDE (o_orderkey, o_custkey)
CREATE INDEX ON bl (l_shipdate) INCLUDE (l_partkey, l_extendedprice, l_discount)
CREATE INDEX ON bl (l_shipdate)
CREATE INDEX ON bl (l_discount)
CREATE UNIQUE INDEX ON bo (o_orderkey)
INDEXES
cluster_stop
